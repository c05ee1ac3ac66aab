"""The audit trail of sensitive reads and bulk operations on customer data."""

from crm.choices import AuditAction
from crm.models import AuditLog


def audit_log_record(
    *, actor, action: AuditAction, object_type: str = "", object_ids=(), detail: dict | None = None
) -> AuditLog:
    return AuditLog.objects.create(
        actor=actor if actor and actor.is_authenticated else None,
        action=action,
        object_type=object_type,
        object_ids=[str(object_id) for object_id in object_ids],
        detail=detail or {},
    )
