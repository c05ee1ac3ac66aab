"""The API's reads of the club (clubs/api)."""

import datetime

from django.db.models import IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone

from clubs.models import Membership, TierRule, WalletEntry
from clubs.run import MEMBERSHIP
from clubs.selectors.standing import expiring_points_sql, membership_queryset_for_user
from customers.selectors import customer_queryset_for_user

# --- The API's reads --------------------------------------------------------------------------


def membership_list_for_user(user, *, today: datetime.date | None = None) -> QuerySet[Membership]:
    """The members ``user`` may see, each with its tier's labour discount and ``points_expiring``
    (points of lots expiring in the 30 days after ``today``), computed in the list's one query."""

    today = today or timezone.localdate()
    expiring = expiring_points_sql(member=MEMBERSHIP, day="%s::date")
    discount = TierRule.objects.filter(store_id=OuterRef("store_id"), tier=OuterRef("tier")).values("labour_discount")
    return membership_queryset_for_user(user).annotate(
        points_expiring=RawSQL(expiring, [today] * expiring.count("%s"), output_field=IntegerField()),
        labour_discount=Subquery(discount[:1]),
    )


def membership_wallet(*, membership: Membership) -> QuerySet:
    """The member's stored-value entries, newest first."""

    return WalletEntry.objects.filter(membership=membership).select_related("created_by").order_by("-id")


def referrers_visible_to(*, user, referrals) -> set[int]:
    """Of the customers who made ``referrals``, those whose card the user may see (a 绝密 or 机密
    referrer's name is not shown to the rest of the store). One query."""
    ids = {referral.referrer_id for referral in referrals if referral.referrer_id}
    if not ids:
        return set()
    return set(customer_queryset_for_user(user).filter(pk__in=ids).values_list("pk", flat=True))
