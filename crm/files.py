"""Uploaded files are never served as plain files: every link to MEDIA_URL goes through
``crm.views.media_file``, which asks the app that owns the file whether the user may read it.

Each app names its readers in its AppConfig (``private_file_readers``, dotted paths): a reader is
``f(*, user, name) -> PrivateFile | None`` and answers only for the files of its own rows that the
user may see (store scope, role). A file no reader claims is not served to anyone.
"""

from dataclasses import dataclass

from django.apps import apps
from django.db.models.fields.files import FieldFile
from django.http import Http404
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class PrivateFile:
    file: FieldFile
    filename: str  # the name the browser saves it under
    content_type: str | None = None  # None: guessed from ``filename``


def _readers():
    for app_config in apps.get_app_configs():
        for path in getattr(app_config, "private_file_readers", []):
            yield import_string(path)


def private_file_get_for_user(*, user, name: str) -> PrivateFile:
    """The stored file ``name`` (relative to MEDIA_ROOT), or 404 when no app lets ``user`` read it."""
    for reader in _readers():
        found = reader(user=user, name=name)
        if found is not None:
            return found
    raise Http404
