"""Statements PostgreSQL plans once per connection: server-side prepared statements for the reads
compiled once per process (``crm.compiled_reads``, the queue's statements, the claim).

Compiling a read once saves Django's CPU; PostgreSQL still planned it on every run, and on the
call queue's cycle planning was half of the database's time (9 of 19 ms of one "save and next
call" on 20,000 owners, the queue's list and figures planning 4 ms each on a million under load):
psycopg2 sends every statement as text with its values in it. A statement run here is prepared on
its connection the first time (``PREPARE``, named after a hash of its text, its ``%s`` placeholders
become ``$1``, ``$2``…) and then run with ``EXECUTE name(values)``; PostgreSQL plans it with the
values of each of its first five runs and then, when a plan for any values costs no more, keeps
that one (``plan_cache_mode``, its default ``auto``).

A statement PostgreSQL cannot prepare (a value whose type it cannot tell) runs as before, and is
not tried again in this process. Prepared statements live as long as the connection (not as the
transaction: a rollback keeps them); a new connection prepares again. ``PREPARE`` goes through the
driver's own cursor, so it is not one of a page's counted queries; the ``EXECUTE`` is, where the
statement was. Behind a pooler that hands a connection to another client between transactions
(PgBouncer's transaction mode) prepared statements do not follow the client: set
``DB_PREPARED_STATEMENTS=0`` there (``settings.DATABASE_PREPARED_STATEMENTS``).
"""

import hashlib
import logging
import re
import weakref

import psycopg2
from django.conf import settings
from django.db.models import CharField, Expression
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

logger = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"%%|%s")
#: The prepared statements of each open connection (the driver's connection object: a new
#: connection, after a reconnect, starts with none).
_PREPARED: "weakref.WeakKeyDictionary[object, set[str]]" = weakref.WeakKeyDictionary()
#: name -> the statement's text (Django's, with %s), for ``statement_text``.
_TEXTS: dict[str, str] = {}
#: Statements PostgreSQL would not prepare, run as plain statements from then on.
_UNPREPARABLE: set[str] = set()
_MOST_TEXTS = 2000


def statement_name(sql: str) -> str:
    return "crm_" + hashlib.blake2b(sql.encode(), digest_size=10).hexdigest()


def _numbered(sql: str) -> str:
    """Django's SQL with its ``%s`` as ``$1``, ``$2``… and ``%%`` as ``%``."""
    numbers = iter(range(1, sql.count("%s") + 2))
    return _PLACEHOLDER.sub(lambda found: "%" if found.group() == "%%" else f"${next(numbers)}", sql)


def execute(cursor, sql: str, params: list | tuple, *, prefix: str = "", reused: bool = True) -> None:
    """``cursor.execute(prefix + sql, params)`` (a Django cursor), with ``sql`` prepared on the
    cursor's connection the first time. ``prefix``: statements without values run before it in
    the same round trip (``SET LOCAL …; ``). ``reused=False``: a statement compiled for this run
    only (its values in its text), sent as it is rather than prepared for nothing."""
    if (not reused or not settings.DATABASE_PREPARED_STATEMENTS or sql in _UNPREPARABLE
            or cursor.db.vendor != "postgresql"):  # fmt: skip
        cursor.execute(prefix + sql, params)
        return
    name = statement_name(sql)
    raw_connection = cursor.db.connection
    prepared = _PREPARED.setdefault(raw_connection, set())
    if name not in prepared:
        if not _prepare(raw_connection, name, sql):
            cursor.execute(prefix + sql, params)
            return
        prepared.add(name)
    values = f"({', '.join(['%s'] * len(params))})" if params else ""
    try:
        cursor.execute(f"{prefix}EXECUTE {name}{values}", params)
    except psycopg2.errors.InvalidSqlStatementName:
        # The server's session lost it (a pooler between us): prepared again on the next request.
        prepared.clear()
        raise


def _prepare(raw_connection, name: str, sql: str) -> bool:
    """PREPARE ``sql`` as ``name``; False (and the statement remembered as not preparable) when
    PostgreSQL refuses. Inside a transaction a savepoint keeps a refusal from aborting it."""
    in_transaction = not raw_connection.autocommit or raw_connection.info.transaction_status != TRANSACTION_STATUS_IDLE
    statement = f"PREPARE {name} AS {_numbered(sql)}"
    with raw_connection.cursor() as raw:
        try:
            if in_transaction:
                raw.execute(f"SAVEPOINT crm_prepare; {statement}; RELEASE SAVEPOINT crm_prepare")
            else:
                raw.execute(statement)
        except psycopg2.errors.DuplicatePreparedStatement:
            if in_transaction:
                raw.execute("ROLLBACK TO SAVEPOINT crm_prepare; RELEASE SAVEPOINT crm_prepare")
            return True  # prepared on this connection by code that did not note it: it is there
        except psycopg2.Error as error:
            if in_transaction:
                raw.execute("ROLLBACK TO SAVEPOINT crm_prepare; RELEASE SAVEPOINT crm_prepare")
            logger.warning("Not prepared, run as a plain statement: %s (%s)", sql[:200], error)
            _UNPREPARABLE.add(sql)
            return False
    if len(_TEXTS) >= _MOST_TEXTS:
        _TEXTS.clear()
    _TEXTS[name] = sql
    return True


_IN_TEXT = re.compile(r"[A-Za-z0-9_]+")


class InText(Expression):
    """A constant written into the statement's text (``status = 'open'``), not sent as one of its
    values (``status = $3``). A plan for any values, the one PostgreSQL keeps for a prepared
    statement, can use a partial index only when the index's condition is in the text: with the
    condition's constants as values, that plan read the whole table (0.44 s for the claim's pick on
    100,000 open tasks) and PostgreSQL planned the pick again for every claim's values (0.7 ms of
    its 0.8). Letters, digits and underscores only (the choices' codes), so the text needs no
    quoting."""

    output_field = CharField()

    def __init__(self, value: str):
        value = str(value)
        if not _IN_TEXT.fullmatch(value):
            raise ValueError(f"InText takes a code of letters, digits and underscores, not {value!r}")
        super().__init__()
        self.value = value

    def as_sql(self, compiler, connection):
        return f"'{self.value}'", []


_EXECUTE = re.compile(r"(?:.*;\s*)?EXECUTE (crm_[0-9a-f]+)\b", re.DOTALL)


def statement_text(sql: str) -> str:
    """The text of a statement as a page ran it: for ``EXECUTE crm_…(…)`` (as Django's query log
    records a prepared statement's run), the prepared statement's SQL; any other, itself."""
    found = _EXECUTE.match(sql)
    return _TEXTS.get(found.group(1), sql) if found else sql
