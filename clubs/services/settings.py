"""A store's club settings: starting the club from the settings page, its rules and tier rules."""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from clubs.models import (
    StoreClub,
    TierRule,
)
from clubs.run import club_start
from crm.audit import audit_log_record
from crm.choices import AuditAction
from crm.exceptions import ApplicationError

# --- the club's settings page (clubs/views.py): starting a store's club, its rules, its tier rules ---

STORE_CLUB_RULE_FIELDS = (
    "points_per_amount", "silver_spend", "gold_spend", "diamond_topup", "topup_min", "topup_max",
    "points_valid_months", "referral_points", "referral_window_days",
)  # fmt: skip
TIER_RULE_FIELDS = ("points_rate", "labour_discount", "benefits")


def store_club_start(*, store, started_on: datetime.date, user):
    """Start ``store``'s club from the settings page: the same clubs.run.club_start as the command
    (refused when it has started already), audited."""
    result = club_start(store=store, started_on=started_on, user=user)
    audit_log_record(
        actor=user, action=AuditAction.CLUB_START, object_type="clubs.storeclub", object_ids=[store.pk],
        detail={"started_on": started_on.isoformat(), "members": result.members, "points": result.opening_points},
    )  # fmt: skip
    return result


def _validated_save(obj, *, user, fields: tuple[str, ...], values: dict, object_type: str, key) -> list[str]:
    """Set ``values`` on ``obj``, validate it (fields and constraints) and save it with its history
    user; refused with the first problem in words. Returns the names of the fields changed."""
    unknown = set(values) - set(fields)
    if unknown:
        raise ValueError(f"not editable here: {sorted(unknown)}")
    history = type(obj).history
    if not history.filter(**{obj._meta.pk.attname: obj.pk}).exists():
        # Rows made in bulk (club_start's tier rules) have no first version: record it as it was,
        # so that the history of the first change says what it changed from.
        history.bulk_history_create([obj], default_date=obj.created_at)
    changed = []
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.append(name)
    try:
        obj.full_clean()
    except ValidationError as error:
        messages = []
        for name, errors in error.message_dict.items():
            label = obj._meta.get_field(name).verbose_name if name in fields else None
            messages += [f"{label}: {text}" if label else text for text in errors]
        raise ApplicationError(" ".join(messages)) from None
    if not changed:
        return []
    obj._history_user = user
    obj.save()
    obj.refresh_from_db()
    audit_log_record(
        actor=user, action=AuditAction.CHANGE_SETTINGS, object_type=object_type, object_ids=[key],
        detail={name: str(getattr(obj, name)) for name in changed},
    )  # fmt: skip
    return changed


@transaction.atomic
def store_club_update(*, store_club: StoreClub, user, **values) -> list[str]:
    """A manager changes the club's rules (thresholds, top-up range, step, validity, referrals).
    The rules apply from the next run on; what was earned stays. Returns the fields changed."""
    club = StoreClub.objects.select_for_update().get(pk=store_club.pk)
    for name in ("silver_spend", "gold_spend", "diamond_topup", "topup_min", "topup_max"):
        if name in values and values[name] is not None and values[name] <= 0:
            raise ApplicationError(
                _("%(field)s: enter an amount above zero.") % {"field": StoreClub._meta.get_field(name).verbose_name}
            )
    changed = _validated_save(
        club, user=user, fields=STORE_CLUB_RULE_FIELDS, values=values, object_type="clubs.storeclub", key=club.pk
    )
    store_club.refresh_from_db()
    return changed


@transaction.atomic
def tier_rule_update(*, tier_rule: TierRule, user, **values) -> list[str]:
    """A manager changes what a tier earns and gives (points per step, labour discount, benefits)."""
    rule = TierRule.objects.select_for_update().get(pk=tier_rule.pk)
    if "benefits" in values:
        values["benefits"] = (values["benefits"] or "").strip()
    changed = _validated_save(
        rule, user=user, fields=TIER_RULE_FIELDS, values=values, object_type="clubs.tierrule", key=rule.pk
    )
    tier_rule.refresh_from_db()
    return changed
