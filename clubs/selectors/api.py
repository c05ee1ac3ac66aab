"""The API's reads of the club (clubs/api)."""

import datetime

from django.db.models import QuerySet

from clubs.models import Membership
from clubs.selectors.screens import member_list_for_user
from customers.selectors import customer_queryset_for_user

# --- The API's reads --------------------------------------------------------------------------


def membership_list_for_user(user, *, today: datetime.date | None = None) -> QuerySet[Membership]:
    """The members ``user`` may see, each with its tier's labour discount and ``points_expiring``
    (points of lots expiring in the 30 days after ``today``): the members' list without its filters."""
    return member_list_for_user(user=user, today=today)


def referrers_visible_to(*, user, referrals) -> set[int]:
    """Of the customers who made ``referrals``, those whose card the user may see (a 绝密 or 机密
    referrer's name is not shown to the rest of the store). One query."""
    ids = {referral.referrer_id for referral in referrals if referral.referrer_id}
    if not ids:
        return set()
    return set(customer_queryset_for_user(user).filter(pk__in=ids).values_list("pk", flat=True))
