"""A web worker's warm-up, run once as it starts (``config/wsgi.py``), before it takes a request.

Django does some work only on the first request of each process: importing every view module
while the URLconf is read, and compiling each template the first time it is rendered (the cached
loader then keeps it). On the bench database that made each gunicorn worker's first call panel
take 0.5–1 s instead of 0.1 s (the URLconf's imports 0.5 s, the first ``reverse()`` of each
language, which indexes every URL pattern, 0.15–0.3 s, the templates the rest) — felt by whoever
came first after every deploy or worker restart, a whole call centre at eight in the morning. The
warm-up does that work while the worker boots (0.6–1 s).
"""

import logging
from pathlib import Path

from django.conf import settings
from django.template import TemplateSyntaxError, engines
from django.template.utils import get_app_template_dirs
from django.urls import get_resolver, reverse
from django.utils import translation

logger = logging.getLogger(__name__)


def project_template_names() -> list[str]:
    """The names of the project's own templates (its ``templates/`` and its apps'), not the
    libraries' (the admin's hundred-odd, read by administrators only, compile when first used)."""
    base = Path(settings.BASE_DIR).resolve()
    roots = [Path(directory) for engine in settings.TEMPLATES for directory in engine.get("DIRS", [])]
    roots += [Path(directory) for directory in get_app_template_dirs("templates")]
    names = set()
    for root in roots:
        root = root.resolve()
        if not root.is_relative_to(base) or ".venv" in root.parts or not root.is_dir():
            continue
        names.update(str(path.relative_to(root)) for path in root.rglob("*.html"))
    return sorted(names)


def warm_up() -> int:
    """Read the URLconf (importing every view), index its patterns for reversing in every
    language, and compile the project's templates into the cached loader. Returns the number of
    templates compiled. A template that does not compile is logged and left to fail where it is
    used, as it would without the warm-up."""
    get_resolver().url_patterns  # noqa: B018 - reading it imports the URLconf and its views
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            reverse("home")  # the first reverse in a language indexes every pattern for it
    engine = engines["django"]
    compiled = 0
    for name in project_template_names():
        try:
            engine.get_template(name)
        except TemplateSyntaxError:
            logger.exception("Template %s does not compile", name)
        else:
            compiled += 1
    return compiled
