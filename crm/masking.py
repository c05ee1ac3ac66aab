"""Phone numbers are masked on the server for staff without the unmask permission, so the full
number never reaches their browser."""

UNMASK_PERMISSION = "customers.view_unmasked_phone"


def mask_phone(value: str | None) -> str:
    """138****1234 for a mobile; keep the area code and the last four digits of a landline."""
    if not value:
        return ""
    if len(value) == 11 and value.isdigit():
        return f"{value[:3]}****{value[-4:]}"
    if "-" in value:
        area, _sep, local = value.partition("-")
        return f"{area}-{'*' * max(len(local) - 4, 0)}{local[-4:]}"
    if len(value) <= 4:
        return "*" * len(value)
    return f"{'*' * (len(value) - 4)}{value[-4:]}"


def can_see_full_phone(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(UNMASK_PERMISSION))


def phone_for_user(user, value: str | None) -> str:
    return (value or "") if can_see_full_phone(user) else mask_phone(value)


def phone_reveal_record(*, user, object_ids, path: str, object_type: str = "customers.customer", **detail) -> None:
    """The audit row of one page (or API answer) that showed whole numbers: one row listing every
    card it revealed, none for staff who only see them masked or when no number was shown."""
    from crm.audit import audit_log_record
    from crm.choices import AuditAction

    ids = list(dict.fromkeys(object_ids))
    if ids and can_see_full_phone(user):
        audit_log_record(
            actor=user,
            action=AuditAction.VIEW_UNMASKED_PHONE,
            object_type=object_type,
            object_ids=ids,
            detail={"path": path, **detail},
        )
