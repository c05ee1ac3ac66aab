"""Workflows of the shared core: exports that need a manager's approval (request, decision, one
download), each step audited. What needs approval and how the file is built belong to the app that
owns the data (customers.exports); the core knows only stores, people and row IDs."""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.audit import audit_log_record
from crm.choices import AuditAction, Role
from crm.exceptions import ApplicationError
from crm.models import ExportRequest
from crm.scoping import member_store_ids


def _request_detail(export_request: ExportRequest) -> dict:
    return {
        "export_request": export_request.pk,
        "what": export_request.label,
        "kind": export_request.kind,
        "rows": export_request.row_count,
        "rows_needing_approval": export_request.approval_row_count,
        "format": export_request.file_format,
    }


@transaction.atomic
def export_request_create(
    *,
    user,
    kind: str,
    subject_id: int | None,
    label: str,
    file_format: str,
    object_ids: Iterable[int],
    approval_row_count: int,
    store_ids: Iterable[int],
    reason: str = "",
) -> ExportRequest:
    """Ask for an export needing approval: the rows are fixed now (``object_ids``); the managers of
    ``store_ids`` (the stores of the rows needing approval) decide."""
    ids = [int(object_id) for object_id in object_ids]
    stores = sorted(set(store_ids))  # read once: ``store_ids`` may be a generator
    export_request = ExportRequest(
        requested_by=user,
        kind=kind,
        subject_id=subject_id,
        label=label[:200],
        file_format=file_format,
        object_ids=ids,
        row_count=len(ids),
        approval_row_count=approval_row_count,
        reason=reason[:300],
    )
    export_request.full_clean(exclude=["stores"])
    export_request.save()
    export_request.stores.set(stores)
    audit_log_record(
        actor=user,
        action=AuditAction.EXPORT_REQUEST,
        object_type=kind,
        object_ids=[subject_id] if subject_id else [],
        detail={**_request_detail(export_request), "stores": stores},
    )
    return export_request


def export_request_may_decide(*, user, export_request: ExportRequest) -> bool:
    """A manager (the role) of every store of the request, who did not ask for it himself."""
    if not (user and user.is_authenticated and user.role == Role.MANAGER):
        return False
    if export_request.requested_by_id == user.pk:
        return False
    wanted = {store.pk for store in export_request.stores.all()}
    return wanted <= set(member_store_ids(user))


@transaction.atomic
def export_request_decide(*, user, export_request: ExportRequest, approve: bool) -> ExportRequest:
    """Approve or refuse a pending request. Only a manager of every store concerned, never the
    requester; a request already decided stays as it was (a clear message)."""
    if not export_request_may_decide(user=user, export_request=export_request):
        raise ApplicationError(_("Only a manager of every store concerned, other than the requester, may decide."))
    status = ExportRequest.Status.APPROVED if approve else ExportRequest.Status.REFUSED
    now = timezone.now()
    updated = ExportRequest.objects.filter(pk=export_request.pk, status=ExportRequest.Status.PENDING).update(
        status=status, decided_by=user, decided_at=now
    )
    if not updated:
        raise ApplicationError(_("This export request was already decided."))
    export_request.refresh_from_db()
    audit_log_record(
        actor=user,
        action=AuditAction.EXPORT_APPROVE if approve else AuditAction.EXPORT_REFUSE,
        object_type="crm.exportrequest",
        object_ids=[export_request.pk],
        detail={**_request_detail(export_request), "requested_by": export_request.requested_by_id},
    )
    return export_request


@transaction.atomic
def export_request_claim_download(*, user, export_request: ExportRequest) -> ExportRequest:
    """The requester's one download of an approved export: claimed by a conditional update, so a
    second download (or two at once) is refused with a clear message. The export is audited."""
    if export_request.requested_by_id != user.pk:
        raise ApplicationError(_("Only the member of staff who asked for this export may download it."))
    claimed = ExportRequest.objects.filter(
        pk=export_request.pk, requested_by=user, status=ExportRequest.Status.APPROVED
    ).update(status=ExportRequest.Status.DOWNLOADED, downloaded_at=timezone.now())
    if not claimed:
        export_request.refresh_from_db()
        messages = {
            ExportRequest.Status.PENDING: _("This export is still waiting for a manager's approval."),
            ExportRequest.Status.REFUSED: _("A manager refused this export."),
            ExportRequest.Status.DOWNLOADED: _(
                "This export was already downloaded, on %(when)s: an approved export is downloaded once. "
                "Ask again if you need it again."
            )
            % {"when": timezone.localtime(export_request.downloaded_at).strftime("%Y-%m-%d %H:%M")}
            if export_request.downloaded_at
            else "",
        }
        raise ApplicationError(messages.get(export_request.status) or _("This export cannot be downloaded."))
    export_request.refresh_from_db()
    audit_log_record(
        actor=user,
        action=AuditAction.EXPORT,
        object_type=export_request.kind,
        object_ids=[export_request.subject_id] if export_request.subject_id else [],
        detail=_request_detail(export_request),
    )
    return export_request
