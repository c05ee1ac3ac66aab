"""The club's badge wherever staff meet a member (the card, the search results, the call panel):
customers/membership.py calls ``membership_badges`` through ``customer_membership_badges`` on
ClubsConfig, so customers and follow-ups show the club without importing it."""

import datetime
from decimal import Decimal

from django.db.models import OuterRef, Subquery
from django.db.models.expressions import RawSQL
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from clubs.choices import DMS_TIER_SPELLINGS, Tier
from clubs.models import Membership, TierRule
from clubs.selectors import expiring_points_sql
from crm.compiled_reads import compiled_read
from customers.membership import MemberBadge


def labour_discount_text(discount: Decimal | None) -> str:
    """0.95 → "工时9.5折", 0.70 → "工时7折" (in English "Labour 5% off"); nothing for no discount."""
    if discount is None or discount >= 1:
        return ""
    zhe = (discount * 10).normalize()
    off = ((1 - discount) * 100).normalize()
    return _("Labour %(off)s%% off") % {"zhe": f"{zhe:f}", "off": f"{off:f}"}


def differs_from_dms(*, customer, tier: int, points: int) -> bool:
    """The DMS's tier (blank is 普通; an unknown spelling always differs) or stated balance on the
    card is not the club's (clubs.selectors.dms_differences_for_user lists them the same way)."""
    dms_tier = (customer.member_tier or "").strip()
    if dms_tier and dms_tier not in DMS_TIER_SPELLINGS:
        return True
    if int(DMS_TIER_SPELLINGS.get(dms_tier, Tier.REGULAR)) != tier:
        return True
    return customer.points_balance is not None and customer.points_balance != points


def _badge_rows(memberships, today: datetime.date):
    """What a badge shows of each of ``memberships`` whose store's club has started by ``today``."""
    expiring_sql = expiring_points_sql(member=Membership._meta.db_table, day="%s::date")
    discount = TierRule.objects.filter(store_id=OuterRef("store_id"), tier=OuterRef("tier")).values("labour_discount")
    return (
        memberships.filter(store__club__started_on__lte=today)
        .annotate(
            discount=Subquery(discount[:1]),
            expiring=RawSQL(expiring_sql, [today] * expiring_sql.count("%s")),
        )
        .values_list(
            "pk", "customer_id", "card_no", "tier", "points_balance", "wallet_balance", "credit_card_bank", "discount",
            "expiring",
        )
    )  # fmt: skip


def _member_url(pk: int) -> str:
    try:
        return reverse("clubs:member", args=[pk])
    except NoReverseMatch:
        return ""


def membership_badges(*, customers, today: datetime.date | None = None) -> dict[int, MemberBadge]:
    """The badges of the club members among ``customers`` (their store's club started by today):
    tier, labour discount, points and those expiring in 30 days, stored value, birthday month,
    co-branded card, the member page. One query for the whole list."""
    by_id = {customer.pk: customer for customer in customers}
    if not by_id:
        return {}
    today = today or timezone.localdate()
    if len(by_id) == 1:  # a card, a call panel: compiled once a day (crm.compiled_reads)
        (customer_id,) = by_id

        def build(*, customer_id: int):
            return _badge_rows(Membership.objects.filter(customer_id=customer_id), today)

        rows = compiled_read(("membership badge", today), build, customer_id=customer_id)
    else:
        rows = _badge_rows(Membership.objects.filter(customer_id__in=list(by_id)), today)
    badges = {}
    for pk, customer_id, card_no, tier, points, wallet, bank, discount_paid, expiring in rows:
        customer = by_id[customer_id]
        birthday = customer.birthday
        badges[customer_id] = MemberBadge(
            tier_label=str(Tier(tier).label),
            is_vip=tier >= Tier.GOLD,
            labour_discount=labour_discount_text(discount_paid),
            points_balance=points,
            points_expiring_30d=int(expiring),
            wallet_balance=wallet if wallet else None,
            birthday_month=bool(birthday and birthday.month == today.month),
            credit_card_bank=bank,
            url=_member_url(pk),
            card_no=card_no,
            from_club=True,
            differs_from_dms=differs_from_dms(customer=customer, tier=tier, points=points),
        )
    return badges
