"""The audit trail of sensitive reads and bulk operations on customer data."""

import datetime

from django.utils import timezone

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


def audit_count_today(*, actor, action: AuditAction) -> int:
    """How many rows of ``action`` the actor has today (local day): a daily quota counted from the
    audit trail itself, so it holds with Redis down and cannot drift from what was logged."""
    midnight = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time.min))
    return AuditLog.objects.filter(actor=actor, action=action, at__gte=midnight).count()


def audit_object_type_label(object_type: str) -> str:
    """What an audit row's ``object_type`` ("app_label.model") is, in the reader's language: the
    model's name ("客户"); the stored code itself for a type no installed model has. Read from the
    registry of every installed model (the core reaches no app's model by its name)."""
    from django.apps import apps

    for model in apps.get_models():
        if model._meta.label_lower == object_type:
            return str(model._meta.verbose_name)
    return object_type
