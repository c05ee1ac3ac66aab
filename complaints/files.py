"""Complaint attachments behind /media/ (see crm/files.py): for whoever may see the complaint."""

from complaints.models import ComplaintAttachment
from complaints.selectors import complaint_queryset_for_user
from crm.files import PrivateFile


def attachment_file_for_user(*, user, name: str) -> PrivateFile | None:
    if not name.startswith("complaints/"):
        return None
    attachment = ComplaintAttachment.objects.filter(file=name, complaint__in=complaint_queryset_for_user(user)).first()
    if attachment is None:
        return None
    return PrivateFile(file=attachment.file, filename=attachment.original_name, content_type=attachment.content_type)
