"""Segment exports (CSV and XLSX) for staff with the export permission: every cell that a
spreadsheet could run as a formula (= + - @, tab, CR at the start) is escaped, and every export is
logged (who, when, which segment, how many rows).

django-import-export's IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT is not used: it only strips cells
starting with = (see tests/customers/test_exports.py), which leaves "+", "-" and "@" formulas live.
"""

import io

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.audit import audit_log_record
from crm.choices import AuditAction
from crm.exports import csv_bytes, spreadsheet_safe
from crm.masking import phone_for_user
from customers.choices import Confidentiality
from customers.segments import segment_customers_for_user

EXPORT_COLUMNS = ("customer_no", "name", "gender", "mobile", "district", "member_tier", "store__code")


def segment_export_rows(*, segment, user):
    """The rows of a segment export. A top-secret (绝密) card is never exported: an export of it needs
    a manager's approval (README "Who uses it"), which has no workflow yet, so even staff named on
    the card see it in the list but not in the file."""
    customers = (
        segment_customers_for_user(user=user, segment=segment)
        .exclude(confidentiality=Confidentiality.TOP_SECRET)
        .order_by("customer_no")
    )
    for row in customers.values_list(*EXPORT_COLUMNS).iterator(chunk_size=5000):
        customer_no, name, gender, mobile, district, tier, store = row
        yield [customer_no, name, gender, phone_for_user(user, mobile), district, tier, store]


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


def segment_export_response(*, segment, user, file_format: str) -> HttpResponse:
    rows = list(segment_export_rows(segment=segment, user=user))
    header = segment_export_header()
    if file_format == "xlsx":
        content = xlsx_bytes(header, rows)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        content = csv_bytes(header, rows)
        content_type = "text/csv; charset=utf-8"
    audit_log_record(
        actor=user,
        action=AuditAction.EXPORT,
        object_type="customers.segment",
        object_ids=[segment.pk],
        detail={"segment": segment.name, "rows": len(rows), "format": file_format},
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}-{stamp}.{file_format}"'
    return response
