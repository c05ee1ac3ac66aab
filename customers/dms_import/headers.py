"""Header mapping of the DMS import: which column of a file fills which field."""

from __future__ import annotations

import re
from collections.abc import Sequence

from crm.exceptions import ApplicationError
from customers.choices import ImportKind
from customers.dms.reference import (
    IMPORT_FIELDS,
    KEY_FIELDS,
    REASON_MISSING_KEY_COLUMN,
    REFERENCE_HEADERS,
    REQUIRED_FIELDS,
    WRONG_KIND,
)
from customers.models import HeaderMappingProfile


def _normalise_header(header: str) -> str:
    return re.sub(r"\s+", "", str(header or "")).lower()


def _refuse_another_kind(*, kind: str, header: Sequence[str], matched: int) -> None:
    """A file of another report (a vehicles file given as customers) names that report's key column,
    which this one has not, and matches more of its columns: refused, never half imported."""
    names = {_normalise_header(name) for name in header}
    for other, headers in REFERENCE_HEADERS.items():
        if other == kind or KEY_FIELDS[other] in IMPORT_FIELDS[kind]:
            continue
        fields = {field_name for name, field_name in headers.items() if _normalise_header(name) in names}
        fields |= {field_name for field_name in IMPORT_FIELDS[other] if _normalise_header(field_name) in names}
        if set(REQUIRED_FIELDS[other]) <= fields and len(fields) > matched:
            column = next(name for name, field_name in headers.items() if field_name == KEY_FIELDS[other])
            raise ApplicationError(
                str(WRONG_KIND % {"other": ImportKind(other).label, "kind": ImportKind(kind).label, "column": column})
            )


def header_mapping(*, kind: str, header: Sequence[str], profile: HeaderMappingProfile | None) -> dict[int, str]:
    """Column index → field for a file's header row: the profile's aliases, then the reference
    headers, then the field names themselves. The first column naming a field wins."""
    aliases: dict[str, str] = {}
    for field_name in IMPORT_FIELDS[kind]:
        aliases[_normalise_header(field_name)] = field_name
    for name, field_name in REFERENCE_HEADERS[kind].items():
        aliases[_normalise_header(name)] = field_name
    if profile is None:
        profile = HeaderMappingProfile.objects.filter(kind=kind, is_default=True).first()
    if profile is not None:
        for name, field_name in (profile.aliases or {}).items():
            if field_name in IMPORT_FIELDS[kind]:
                aliases[_normalise_header(name)] = field_name
    mapping: dict[int, str] = {}
    for index, name in enumerate(header):
        field_name = aliases.get(_normalise_header(name))
        if field_name and field_name not in mapping.values():
            mapping[index] = field_name
    _refuse_another_kind(kind=kind, header=header, matched=len(mapping))
    missing = [field_name for field_name in REQUIRED_FIELDS[kind] if field_name not in mapping.values()]
    if missing:
        raise ApplicationError(str(REASON_MISSING_KEY_COLUMN % {"fields": ", ".join(missing)}))
    return mapping
