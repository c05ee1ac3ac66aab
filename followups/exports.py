"""The day's SMS list as a CSV (what a dealer uploads to its own SMS platform), under the rule of
every export of customer rows (customers.exports): immediate and audited, or, when it holds a card
graded 秘密 or above or a key customer, a request a manager approves before the one download."""

import datetime

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from crm.audit import audit_log_record
from crm.choices import AuditAction
from crm.masking import phone_for_user
from customers.exports import (
    ExportFile,
    ExportNeedsApproval,
    approved_export_file,
    export_approval_request,
    export_file,
    rows_needing_approval,
)
from followups import selectors

SMS_LIST_EXPORT_KIND = "followups.smslist"


def sms_list_header() -> list[str]:
    """The columns in the reader's language, as every export staff download (customers.exports)."""
    return [_("Store"), _("Rule"), _("Customer no."), _("Name"), _("Mobile"), _("Plate"), _("Text")]


def _label(day: datetime.date) -> str:
    return _("SMS list of %(day)s") % {"day": day.isoformat()}


def _rows(tasks, *, user) -> list[list]:
    return [
        [
            task.store.code,
            task.get_code_display(),
            task.customer.customer_no,
            task.customer.name,
            phone_for_user(user, task.customer.mobile),
            task.vehicle.plate_no if task.vehicle else "",
            getattr(getattr(task, "sms", None), "body", ""),
        ]
        for task in tasks
    ]


def _file(tasks, *, user, filename: str, stamped: bool) -> ExportFile:
    rows = _rows(tasks, user=user)
    return export_file(header=sms_list_header(), rows=rows, file_format="csv", filename=filename, stamped=stamped)


def _tasks(*, user, day: datetime.date, search: str) -> QuerySet:
    return selectors.sms_list_for_day(user=user, day=day, search=search)


def sms_list_export(*, user, day: datetime.date, search: str = "") -> ExportFile | ExportNeedsApproval:
    """The day's SMS list as a CSV at once, with one audit row (the customers listed), or, when a
    task's card needs a manager's approval, what the request would hold (nothing written)."""
    tasks = _tasks(user=user, day=day, search=search)
    needing = rows_needing_approval(tasks, customer_prefix="customer__")
    if needing:
        return ExportNeedsApproval(label=_label(day), row_count=tasks.count(), approval_row_count=len(needing))
    tasks = list(tasks)
    audit_log_record(
        actor=user,
        action=AuditAction.EXPORT,
        object_type=SMS_LIST_EXPORT_KIND,
        object_ids=[task.customer_id for task in tasks],
        detail={"date": day.isoformat(), "rows": len(tasks), "format": "csv"},
    )
    return _file(tasks, user=user, filename=f"sms-{day.isoformat()}", stamped=False)


def sms_list_export_request(*, user, day: datetime.date, search: str = "", reason: str):
    """Ask a manager to approve the export of a day's SMS list holding cards that need approval."""
    return export_approval_request(
        user=user,
        kind=SMS_LIST_EXPORT_KIND,
        rows=_tasks(user=user, day=day, search=search),
        customer_prefix="customer__",
        label=_label(day),
        file_format="csv",
        reason=reason,
    )


def sms_list_export_download(*, user, export_request) -> ExportFile:
    """The one download of an approved SMS list: the tasks fixed when it was asked."""

    def build(ids: list[int]) -> ExportFile:
        tasks = selectors.sms_tasks_by_id(user=user, ids=ids)
        return _file(tasks, user=user, filename=f"export-{export_request.pk}", stamped=True)

    return approved_export_file(user=user, export_request=export_request, kind=SMS_LIST_EXPORT_KIND, build=build)
