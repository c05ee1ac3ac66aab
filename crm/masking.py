"""Phone numbers are masked on the server for staff without the unmask permission, so the full
number never reaches their browser.

The core knows no domain: the app that keeps people's phone numbers names, on its AppConfig,
``phone_numbers = PhoneNumbers(...)``: the permission that shows them whole, and what the audit row
of a page that showed them names (the first app in INSTALLED_APPS order that registers one; with
none, everybody sees numbers masked). This module is imported by the apps' ``apps.py``: it must not
import models.
"""

import re
from dataclasses import dataclass

from django.apps import apps


@dataclass(frozen=True)
class PhoneNumbers:
    unmask_permission: str  # "app_label.codename": staff holding it see numbers whole
    object_type: str  # what a reveal's audit row names by default ("app_label.model")


def registered_phone_numbers() -> PhoneNumbers | None:
    for app_config in apps.get_app_configs():
        phone_numbers = getattr(app_config, "phone_numbers", None)
        if phone_numbers is not None:
            return phone_numbers
    return None


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
    phone_numbers = registered_phone_numbers()
    return bool(phone_numbers and user and user.is_authenticated and user.has_perm(phone_numbers.unmask_permission))


def phone_for_user(user, value: str | None) -> str:
    return (value or "") if can_see_full_phone(user) else mask_phone(value)


# A mainland mobile (11 digits from 1[3-9]) or a landline with its area code, inside a free text.
_PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:1[3-9]\d{9}|0\d{2,3}-\d{7,8})(?!\d)")


def text_for_user(user, text: str | None) -> str:
    """A free text (an SMS, a reply, call notes) as ``user`` may read it: phone numbers typed into
    it masked like the card's, for staff who see numbers masked."""
    if not text or can_see_full_phone(user):
        return text or ""
    return _PHONE_IN_TEXT.sub(lambda match: mask_phone(match.group()), text)


def phone_reveal_record(*, user, object_ids, path: str, object_type: str = "", **detail) -> None:
    """The audit row of one page (or API answer) that showed whole numbers: one row listing every
    card it revealed, none for staff who only see them masked or when no number was shown.
    ``object_type`` defaults to the registered one (``PhoneNumbers.object_type``)."""
    from crm.audit import audit_log_record
    from crm.choices import AuditAction

    ids = list(dict.fromkeys(object_ids))
    if ids and can_see_full_phone(user):
        # Whole numbers are shown only with a registered PhoneNumbers: there is one.
        object_type = object_type or registered_phone_numbers().object_type
        audit_log_record(
            actor=user,
            action=AuditAction.VIEW_UNMASKED_PHONE,
            object_type=object_type,
            object_ids=ids,
            detail={"path": path, **detail},
        )
