"""Segment exports (CSV and XLSX) for staff with the export permission: every cell that a
spreadsheet could run as a formula (= + - @, tab, CR at the start) is escaped, and every export is
logged (who, when, which segment, how many rows).

An export holding a card graded 秘密 or above, or a key customer, needs a manager's approval
(crm.services.export_request_*): the rows are fixed when asked, a manager of the stores of those
cards approves, and the requester downloads the file once. Other exports are immediate.

django-import-export's IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT is not used: it only strips cells
starting with = (see tests/customers/test_exports.py), which leaves "+", "-" and "@" formulas live.
"""

import io

from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.audit import audit_log_record
from crm.choices import AuditAction
from crm.exports import csv_bytes, spreadsheet_safe
from crm.masking import phone_for_user
from customers.models import Customer
from customers.segments import segment_customers_for_user
from customers.selectors import APPROVAL_LEVELS, customer_queryset_for_user

EXPORT_COLUMNS = ("customer_no", "name", "gender", "mobile", "district", "member_tier", "store__code")


SEGMENT_EXPORT_KIND = "customers.segment"


def needs_export_approval() -> Q:
    """The cards an export may hold only with a manager's approval: 秘密 and above, key customers."""
    return Q(confidentiality__in=APPROVAL_LEVELS) | Q(is_key_customer=True)


def segment_export_customers(*, segment, user) -> QuerySet[Customer]:
    return segment_customers_for_user(user=user, segment=segment).order_by("customer_no")


def export_cards_needing_approval(customers: QuerySet[Customer]) -> list[tuple[int, int]]:
    """(id, store id) of the cards of an export that need a manager's approval (usually none)."""
    return list(customers.filter(needs_export_approval()).values_list("pk", "store_id"))


def export_rows(*, customers: QuerySet[Customer], user):
    for row in customers.values_list(*EXPORT_COLUMNS).iterator(chunk_size=5000):
        customer_no, name, gender, mobile, district, tier, store = row
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


def _file_response(*, rows: list, file_format: str, filename: str) -> HttpResponse:
    header = segment_export_header()
    if file_format == "xlsx":
        content = xlsx_bytes(header, rows)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        content = csv_bytes(header, rows)
        content_type = "text/csv; charset=utf-8"
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.{file_format}"'
    return response


def segment_export_response(*, segment, user, file_format: str) -> HttpResponse:
    """The immediate export of a segment holding no card that needs approval (the view checks)."""
    rows = list(segment_export_rows(segment=segment, user=user))
    audit_log_record(
        actor=user,
        action=AuditAction.EXPORT,
        object_type="customers.segment",
        object_ids=[segment.pk],
        detail={"segment": segment.name, "rows": len(rows), "format": file_format},
    )
    return _file_response(rows=rows, file_format=file_format, filename=f"segment-{segment.pk}")


def segment_export_request(*, segment, user, file_format: str, reason: str = ""):
    """Ask a manager to approve the export of a segment holding cards that need approval."""
    from crm.services import export_request_create

    customers = segment_export_customers(segment=segment, user=user)
    needing = export_cards_needing_approval(customers)
    return export_request_create(
        user=user,
        kind=SEGMENT_EXPORT_KIND,
        subject_id=segment.pk,
        label=segment.name,
        file_format=file_format,
        object_ids=customers.values_list("pk", flat=True),
        approval_row_count=len(needing),
        store_ids={store_id for _pk, store_id in needing},
        reason=reason,
    )


def export_request_download_response(*, export_request, user) -> HttpResponse:
    """The one download of an approved export: the rows fixed when it was asked, as the requester
    may still see them. Claimed and audited by crm.services.export_request_claim_download."""
    from crm.services import export_request_claim_download

    # One transaction: a failure while building the file leaves the export approved, not spent.
    with transaction.atomic():
        export_request = export_request_claim_download(user=user, export_request=export_request)
        customers = customer_queryset_for_user(user).filter(pk__in=export_request.object_ids).order_by("customer_no")
        rows = list(export_rows(customers=customers, user=user))
        return _file_response(rows=rows, file_format=export_request.file_format, filename=f"export-{export_request.pk}")
