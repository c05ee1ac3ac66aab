"""The import's files behind /media/ (see crm/files.py): the uploaded DMS file and its rejected
rows, for whoever may see the import (the import permission and the import's scope)."""

from pathlib import PurePosixPath

from django.db.models import Q

from crm.files import PrivateFile
from customers.selectors import import_batch_queryset_for_user


def import_file_for_user(*, user, name: str) -> PrivateFile | None:
    if not name.startswith("dms_imports/") or not user.has_perm("customers.import_dms"):
        return None
    batch = import_batch_queryset_for_user(user).filter(Q(source_file=name) | Q(errors_file=name)).first()
    if batch is None:
        return None
    if batch.errors_file.name == name:
        return PrivateFile(
            file=batch.errors_file, filename=f"rejected-{batch.pk}.csv", content_type="text/csv; charset=utf-8"
        )
    return PrivateFile(file=batch.source_file, filename=PurePosixPath(batch.file_name or name).name)
