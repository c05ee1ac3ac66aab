"""Exports of customer rows (CSV and XLSX) and the one rule every one of them follows: every cell that
a spreadsheet could run as a formula (= + - @, tab, CR at the start) is escaped, and an export holding
a card graded 秘密 or above, or a key customer, needs a manager's approval (crm.services.export_request_*):
the rows are fixed when asked, a manager of the stores of those cards approves, and the requester
downloads the file once. Other exports are immediate, with one audit row (who, when, what, how many rows).

Each export (a segment here, the day's SMS list in followups.exports, the complaints in
complaints.exports) is one service returning an ``ExportFile`` or, when rows need approval, an
``ExportNeedsApproval``; one service asking for the approval (``export_approval_request``) and one
building the approved file once (``approved_export_file``). Its app names the download view of its
approved exports in its AppConfig (``export_request_downloads``: kind → URL name).

django-import-export's IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT is not used: it only strips cells
starting with = (see tests/customers/test_segments.py), which leaves "+", "-" and "@" formulas live.
"""

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.audit import audit_log_record
from crm.choices import AuditAction
from crm.exceptions import ApplicationError
from crm.exports import csv_bytes, spreadsheet_safe
from crm.masking import phone_for_user
from customers.choices import Gender
from customers.membership import member_tier_sql
from customers.models import Customer
from customers.segments import segment_customers_for_user
from customers.selectors import APPROVAL_LEVELS, customer_queryset_for_user

EXPORT_COLUMNS = ("customer_no", "name", "gender", "mobile", "district", "member_tier", "store__code")

SEGMENT_EXPORT_KIND = "customers.segment"
FILE_FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class ExportFile:
    """A built export, ready to be sent (``response()``); its audit row is already written."""

    content: bytes
    file_format: str
    filename: str

    def response(self) -> HttpResponse:
        response = HttpResponse(self.content, content_type=CONTENT_TYPES[self.file_format])
        response["Content-Disposition"] = f'attachment; filename="{self.filename}"'
        return response


@dataclass(frozen=True)
class ExportNeedsApproval:
    """An export that is not built: ``approval_row_count`` of its ``row_count`` rows need a manager's
    approval first (nothing was written; the view offers to ask for it)."""

    label: str
    row_count: int
    approval_row_count: int


# --- the rule -----------------------------------------------------------------------------------


def needs_export_approval(prefix: str = "") -> Q:
    """The cards an export may hold only with a manager's approval: 秘密 and above, key customers.
    ``prefix`` reaches the card from another model's rows (``"customer__"``)."""
    return Q(**{f"{prefix}confidentiality__in": APPROVAL_LEVELS}) | Q(**{f"{prefix}is_key_customer": True})


def rows_needing_approval(rows: QuerySet, *, customer_prefix: str = "") -> list[tuple[int, int]]:
    """(row id, the card's store id) of the rows of an export whose card needs approval (usually none)."""
    store = f"{customer_prefix}store_id"
    return list(rows.filter(needs_export_approval(customer_prefix)).values_list("pk", store).order_by())


def export_file(
    *, header: Sequence[str], rows: Iterable[Sequence], file_format: str, filename: str, stamped: bool = True
) -> ExportFile:
    """The file of an export (cells formula-safe), named ``filename-YYYYmmdd-HHMM.format`` (without
    the time when not ``stamped``: a name that holds its day or period already).

    One convention for every file staff download: the header in the reader's language (gettext
    labels, built when the file is), and values in words (a choice's label such as 男/女 or the
    rule's name, never its stored code), dates as YYYY-MM-DD (HH:MM). The command-line contract
    exports (``export_tasks``, ``export_points``, ``export_states``) are not staff downloads: they
    keep their fixed English headers and codes."""
    content = xlsx_bytes(header, rows) if file_format == "xlsx" else csv_bytes(header, rows)
    if stamped:
        filename = f"{filename}-{timezone.localtime():%Y%m%d-%H%M}"
    return ExportFile(content=content, file_format=file_format, filename=f"{filename}.{file_format}")


def export_approval_request(
    *,
    user,
    kind: str,
    rows: QuerySet,
    customer_prefix: str = "",
    subject_id: int | None = None,
    label: str,
    file_format: str,
    reason: str = "",
):
    """Ask a manager to approve an export whose rows (fixed now: their IDs) hold cards needing
    approval; the managers of those cards' stores decide. An export needing none is refused with a
    clear message (it is downloaded at once instead)."""
    from crm.services import export_request_create

    needing = rows_needing_approval(rows, customer_prefix=customer_prefix)
    if not needing:
        raise ApplicationError(_("This export needs no approval: download it directly."))
    return export_request_create(
        user=user,
        kind=kind,
        subject_id=subject_id,
        label=label,
        file_format=file_format,
        object_ids=rows.values_list("pk", flat=True),
        approval_row_count=len(needing),
        store_ids={store_id for _pk, store_id in needing},
        reason=reason,
    )


def approved_export_file(*, user, export_request, kind: str, build: Callable[[list[int]], ExportFile]) -> ExportFile:
    """The one download of an approved export of ``kind``: ``build`` makes the file of the rows
    fixed when it was asked (as the requester may still see them). Claimed and audited by
    crm.services.export_request_claim_download, in one transaction with the building: a failure
    while building leaves the export approved, not spent."""
    from crm.services import export_request_claim_download

    if export_request.kind != kind:
        raise ApplicationError(_("This export cannot be downloaded."))
    with transaction.atomic():
        export_request = export_request_claim_download(user=user, export_request=export_request)
        return build(list(export_request.object_ids))


# --- segments -----------------------------------------------------------------------------------


def segment_export_customers(*, segment, user) -> QuerySet[Customer]:
    return segment_customers_for_user(user=user, segment=segment).order_by("customer_no")


def export_rows(*, customers: QuerySet[Customer], user):
    # The tier is the club's for its members (as the segments filter it), else the DMS's on the card.
    tier = member_tier_sql(customer=f'"{Customer._meta.db_table}"', day="%s::date")
    customers = customers.annotate(club_tier=RawSQL(tier, [timezone.localdate()] * tier.count("%s")))
    columns = ["club_tier" if column == "member_tier" else column for column in EXPORT_COLUMNS]
    for row in customers.values_list(*columns).iterator(chunk_size=5000):
        customer_no, name, gender, mobile, district, tier, store = row
        gender = str(Gender(gender).label) if gender in Gender.values else gender
        yield [customer_no, name, gender, phone_for_user(user, mobile), district, tier, store]


def segment_export_rows(*, segment, user):
    """The rows of a segment export, as the user may see them (phones masked unless permitted)."""
    return export_rows(customers=segment_export_customers(segment=segment, user=user), user=user)


def segment_export_header() -> list[str]:
    return [_("Customer no."), _("Name"), _("Gender"), _("Mobile"), _("District"), _("Membership tier"), _("Store")]


def xlsx_bytes(header, rows) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append([spreadsheet_safe(cell) for cell in header])
    for row in rows:
        sheet.append([spreadsheet_safe("" if cell is None else cell) for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def segment_export(*, segment, user, file_format: str) -> ExportFile | ExportNeedsApproval:
    """A segment's export: the file at once, audited, or, when it holds cards needing a manager's
    approval, what the request for that approval would hold (nothing written)."""
    customers = segment_export_customers(segment=segment, user=user)
    needing = rows_needing_approval(customers)
    if needing:
        return ExportNeedsApproval(label=segment.name, row_count=customers.count(), approval_row_count=len(needing))
    rows = list(export_rows(customers=customers, user=user))
    audit_log_record(
        actor=user,
        action=AuditAction.EXPORT,
        object_type=SEGMENT_EXPORT_KIND,
        object_ids=[segment.pk],
        detail={"segment": segment.name, "rows": len(rows), "format": file_format},
    )
    return export_file(
        header=segment_export_header(), rows=rows, file_format=file_format, filename=f"segment-{segment.pk}"
    )


def segment_export_request(*, segment, user, file_format: str, reason: str = ""):
    """Ask a manager to approve the export of a segment holding cards that need approval."""
    return export_approval_request(
        user=user,
        kind=SEGMENT_EXPORT_KIND,
        rows=segment_export_customers(segment=segment, user=user),
        subject_id=segment.pk,
        label=segment.name,
        file_format=file_format,
        reason=reason,
    )


def segment_export_download(*, export_request, user) -> ExportFile:
    """The one download of an approved segment export: the cards fixed when it was asked."""

    def build(ids: list[int]) -> ExportFile:
        customers = customer_queryset_for_user(user).filter(pk__in=ids).order_by("customer_no")
        return export_file(
            header=segment_export_header(),
            rows=list(export_rows(customers=customers, user=user)),
            file_format=export_request.file_format,
            filename=f"export-{export_request.pk}",
        )

    return approved_export_file(user=user, export_request=export_request, kind=SEGMENT_EXPORT_KIND, build=build)


# --- a DMS import's rejected rows ------------------------------------------------------------------


def import_errors_export(*, batch, user) -> ExportFile:
    """The rejected rows of an import (the file admins fix and import again), with one audit row. It
    needs no approval: its rows are the DMS file's own, as the importing staff uploaded them, not
    yet cards of the CRM. Raises ApplicationError when the import has no such file (any more)."""
    if not batch.errors_file:
        raise ApplicationError(_("This import has no rejected rows file."))
    try:
        with batch.errors_file.open("rb") as handle:
            content = handle.read()
    except FileNotFoundError:
        raise ApplicationError(_("This import has no rejected rows file.")) from None
    audit_log_record(
        actor=user,
        action=AuditAction.EXPORT,
        object_type="customers.importbatch",
        object_ids=[batch.pk],
        detail={"kind": "rejected_rows", "rows": batch.rejected_count, "format": "csv"},
    )
    return ExportFile(content=content, file_format="csv", filename=f"rejected-{batch.pk}.csv")
