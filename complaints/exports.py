"""The managers' CSV exports of complaints, under the rule of every export of customer rows
(customers.exports): the complaints of a period at once and audited, or, when one is about a card
graded 秘密 or above or a key customer, a request a manager approves before the one download. The
monthly rates hold no customer rows: always immediate, audited."""

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from complaints import selectors
from complaints.selectors import DashboardPeriod
from crm.audit import audit_log_record
from crm.choices import AuditAction
from customers.exports import (
    ExportFile,
    ExportNeedsApproval,
    approved_export_file,
    export_approval_request,
    export_file,
    rows_needing_approval,
)

COMPLAINT_EXPORT_KIND = "complaints.complaint"


def _stamp(period: DashboardPeriod) -> str:
    return f"{period.first_month:%Y%m}-{period.last_month:%Y%m}"


def _label(period: DashboardPeriod) -> str:
    return _("Complaints %(period)s") % {"period": _stamp(period)}


def complaint_export_header() -> list[str]:
    return [
        _("Number"),
        _("Store"),
        _("Received"),
        _("Customer number"),
        _("Customer"),
        _("Plate"),
        _("Channel"),
        _("Department"),
        _("Type"),
        _("Severity"),
        _("Staff member concerned"),
        _("Responsible manager"),
        _("Status"),
        _("First response"),
        _("Closed"),
        _("Customer's confirmation"),
        _("Description"),
        _("Resolution"),
    ]


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _rows(complaints) -> list[list]:
    return [
        [
            complaint.pk,
            complaint.store.code,
            _when(complaint.received_at),
            complaint.customer.customer_no,
            complaint.customer.name,
            complaint.vehicle.plate_no if complaint.vehicle else "",
            complaint.get_channel_display(),
            complaint.get_department_display(),
            complaint.complaint_type.name,
            complaint.get_severity_display(),
            complaint.staff_concerned_display,
            complaint.assigned_manager.get_full_name() if complaint.assigned_manager else "",
            complaint.get_status_display(),
            _when(complaint.first_response_at),
            _when(complaint.closed_at),
            complaint.get_customer_confirmation_display(),
            complaint.description,
            complaint.resolution,
        ]
        for complaint in complaints
    ]


def _complaints(*, user, store_ids: list[int], period: DashboardPeriod) -> QuerySet:
    return selectors.complaint_export_rows(user=user, store_ids=store_ids, period=period)


def complaint_export(*, user, store_ids: list[int], period: DashboardPeriod) -> ExportFile | ExportNeedsApproval:
    """The complaints of the stores and period the user may see, as a CSV at once with one audit row,
    or, when one is about a card needing a manager's approval, what the request would hold."""
    complaints = _complaints(user=user, store_ids=store_ids, period=period)
    needing = rows_needing_approval(complaints, customer_prefix="customer__")
    if needing:
        return ExportNeedsApproval(label=_label(period), row_count=complaints.count(), approval_row_count=len(needing))
    complaints = list(complaints)
    audit_log_record(
        actor=user,
        action=AuditAction.EXPORT,
        object_type=COMPLAINT_EXPORT_KIND,
        object_ids=[complaint.pk for complaint in complaints],
        detail={"stores": store_ids, "period": _stamp(period), "rows": len(complaints), "format": "csv"},
    )
    return export_file(
        header=complaint_export_header(),
        rows=_rows(complaints),
        file_format="csv",
        filename=f"complaints-{_stamp(period)}",
        stamped=False,
    )


def complaint_export_request(*, user, store_ids: list[int], period: DashboardPeriod, reason: str):
    """Ask a manager to approve the export of a period's complaints about cards needing approval."""
    return export_approval_request(
        user=user,
        kind=COMPLAINT_EXPORT_KIND,
        rows=_complaints(user=user, store_ids=store_ids, period=period),
        customer_prefix="customer__",
        label=_label(period),
        file_format="csv",
        reason=reason,
    )


def complaint_export_download(*, user, export_request) -> ExportFile:
    """The one download of an approved complaints export: the complaints fixed when it was asked."""

    def build(ids: list[int]) -> ExportFile:
        complaints = selectors.complaints_by_id_for_user(user=user, ids=ids)
        return export_file(
            header=complaint_export_header(),
            rows=_rows(complaints),
            file_format="csv",
            filename=f"export-{export_request.pk}",
        )

    return approved_export_file(user=user, export_request=export_request, kind=COMPLAINT_EXPORT_KIND, build=build)


def complaint_rates_export(*, user, store_ids: list[int], period: DashboardPeriod) -> ExportFile:
    """The dashboard's monthly complaint rates (no customer rows: never needs approval), audited."""
    months = selectors.dashboard_months(store_ids=store_ids, period=period)
    audit_log_record(
        actor=user,
        action=AuditAction.EXPORT,
        object_type="complaints.monthly",
        detail={"stores": store_ids, "period": _stamp(period)},
    )
    header = [
        _("Month"),
        _("Sales complaints"),
        _("Deliveries"),
        _("Sales complaint rate %"),
        _("Service complaints"),
        _("Repair orders"),
        _("Service complaint rate %"),
    ]
    rows = [
        [
            month.month.strftime("%Y-%m"),
            month.sales_complaints,
            month.deliveries,
            month.sales_rate,
            month.service_complaints,
            month.repair_orders,
            month.service_rate,
        ]
        for month in months
    ]
    return export_file(
        header=header, rows=rows, file_format="csv", filename=f"complaint-rates-{_stamp(period)}", stamped=False
    )
