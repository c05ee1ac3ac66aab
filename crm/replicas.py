"""Reports and dashboards read from a PostgreSQL read replica when one is configured.

A dealer group that outgrows one database server adds a streaming replica and sets
``DATABASE_REPLICA_URL``: the settings then define the ``replica`` database and this router sends
the reads of the pages the apps list as ``replica_read_views`` on their ``AppConfig`` (url names:
the follow-up reports, the complaint and retention dashboards, the club's reports) to it. Every
other read, and every write anywhere, stays on ``default``: the call queue, the card and the forms
must read what was just written, which a replica (seconds behind) cannot promise; a report may be
a few seconds old.

Only GET and HEAD requests are routed; the routing lasts for the request (a context variable set by
``ReplicaReadsMiddleware`` once the URL is resolved). ``reads_from_replica()`` does the same for
code outside a request (a nightly report, say). Without a ``replica`` database nothing changes.
"""

import contextlib
import contextvars

from django.apps import apps
from django.conf import settings

REPLICA = "replica"
_reading_from_replica: contextvars.ContextVar[bool] = contextvars.ContextVar("reading_from_replica", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def replica_read_view_names() -> frozenset[str]:
    """The url names (``app:name``) whose GET requests read from the replica, as the apps list them."""
    names: set[str] = set()
    for app_config in apps.get_app_configs():
        names.update(getattr(app_config, "replica_read_views", ()))
    return frozenset(names)


@contextlib.contextmanager
def reads_from_replica():
    """Within the block, reads go to the replica when one is configured (writes never do)."""
    token = _reading_from_replica.set(True)
    try:
        yield
    finally:
        _reading_from_replica.reset(token)


class ReplicaRouter:
    """``DATABASE_ROUTERS`` entry: reads inside ``reads_from_replica`` go to the replica; the rest is
    left to Django (``default``). Migrations run on ``default`` only: the replica copies them."""

    def db_for_read(self, model, **hints):
        if _reading_from_replica.get() and replica_configured():
            return REPLICA
        return None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        # Rows read from the replica are the same rows as on default.
        if {obj1._state.db, obj2._state.db} <= {"default", REPLICA}:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


class ReplicaReadsMiddleware:
    """Routes the reads of a GET to a listed report page to the replica, for that request only."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.enabled = replica_configured()
        self.view_names = replica_read_view_names() if self.enabled else frozenset()

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            token = getattr(request, "_replica_reads_token", None)
            if token is not None:
                _reading_from_replica.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        # Called once the URL is resolved, just before the view.
        if self.enabled and request.method in ("GET", "HEAD") and request.resolver_match.view_name in self.view_names:
            request._replica_reads_token = _reading_from_replica.set(True)
