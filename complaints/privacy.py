"""Complaints' part of a customer's personal data (customers/privacy.py registries): the complaints,
their change history, actions and attachments in the customer's data export, and their erasure."""

from django.db import transaction

from complaints.models import Complaint, ComplaintAction, ComplaintAttachment
from customers.privacy import ERASED_TEXT, queryset_rows

# The complaint's texts about the person; its type, department, severity, store, dates and SLA
# figures stay (the complaint rates and the dashboard).
ERASED_COMPLAINT_FIELDS = {"description": ERASED_TEXT, "resolution": "", "confirmation_note": ""}


def personal_data(*, customer) -> dict[str, list[dict]]:
    complaints = Complaint.objects.filter(customer=customer)
    return {
        "complaints": queryset_rows(complaints.order_by("id")),
        "complaint_history": queryset_rows(
            Complaint.history.filter(id__in=complaints.values("pk")).order_by("history_id")
        ),
        "complaint_actions": queryset_rows(ComplaintAction.objects.filter(complaint__in=complaints).order_by("id")),
        "complaint_attachments": queryset_rows(
            ComplaintAttachment.objects.filter(complaint__in=complaints).order_by("id")
        ),
    }


def erase(*, customer) -> dict[str, int]:
    """The complaints' texts (description, resolution, callback note), their actions' notes and their
    change history are cleared; attachments (photos, letters) are deleted with their files."""
    complaints = Complaint.objects.filter(customer=customer)
    ids = list(complaints.values_list("id", flat=True))
    changed = complaints.update(**ERASED_COMPLAINT_FIELDS)
    Complaint.history.filter(id__in=ids).update(**ERASED_COMPLAINT_FIELDS)
    actions = ComplaintAction.objects.filter(complaint_id__in=ids).exclude(note="").update(note="")
    attachments = list(ComplaintAttachment.objects.filter(complaint_id__in=ids))
    for attachment in attachments:
        storage, name = attachment.file.storage, attachment.file.name
        attachment.delete()
        if name:
            # The file goes once the erasure is committed (a rolled-back erasure keeps it).
            transaction.on_commit(lambda storage=storage, name=name: storage.delete(name))
    return {"complaints": changed, "complaint_actions": actions, "complaint_attachments": len(attachments)}
