"""The club's reads: a member's standing on a day, the points export, the members of a user's stores."""

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from clubs.choices import TIER_NAMES, Tier
from clubs.models import Membership, StoreClub, TierRule
from clubs.run import ALLOCATION, MEMBERSHIP, POINTS, STORE_CLUB, tier_on_sql
from customers.selectors import CUSTOMER_TABLE, customer_queryset_for_user

EXPORT_HEADER = ("customer_no", "card_no", "tier", "balance", "expiring_30d")
EXPIRING_DAYS = 30


def _expiring_sql(*, member: str, day: str) -> str:
    """Points of the lots of ``member`` (alias) expiring in day+1 … day+30, less what debits up to
    ``day`` consumed of them."""
    return f"""coalesce((
        SELECT sum(l.points - coalesce((
            SELECT sum(a.points) FROM {ALLOCATION} a JOIN {POINTS} d ON d.id = a.debit_id
            WHERE a.lot_id = l.id AND d."on" <= {day}), 0))
        FROM {POINTS} l
        WHERE l.membership_id = {member}.id AND l."on" <= {day}
          AND l.expires_on > {day} AND l.expires_on <= {day} + {EXPIRING_DAYS}), 0)"""


def points_export_rows(*, day: datetime.date) -> Iterator[tuple]:
    """The rows of ``export_points`` for ``day``: every member (joined by then) of every store whose
    club had started, with the tier (Chinese name) and balance at the end of the day and the points
    expiring in the 30 days after; by customer number. One query, read in chunks."""
    names = " ".join(f"WHEN {int(tier)} THEN '{name}'" for tier, name in TIER_NAMES.items())
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT c.customer_no, m.card_no,
                   CASE {tier_on_sql(member="m", day="%(day)s::date")} {names} END,
                   coalesce((SELECT sum(e.points) FROM {POINTS} e WHERE e.membership_id = m.id AND e."on" <= %(day)s), 0),
                   {_expiring_sql(member="m", day="%(day)s::date")}
            FROM {MEMBERSHIP} m
            JOIN {STORE_CLUB} sc ON sc.store_id = m.store_id AND sc.started_on <= %(day)s
            JOIN {CUSTOMER_TABLE} c ON c.id = m.customer_id
            WHERE m.joined_on <= %(day)s
            ORDER BY c.customer_no
            """,  # noqa: E501
            {"day": day},
        )
        while rows := cursor.fetchmany(10_000):
            yield from rows


def clubs_not_run_through(*, day: datetime.date) -> list[tuple[str, datetime.date | None]]:
    """The started clubs whose nightly run has not reached ``day`` (their figures miss what came since)."""
    return [
        (club.store.code, club.run_through)
        for club in StoreClub.objects.filter(started_on__lte=day).select_related("store").order_by("store__code")
        if club.run_through is None or club.run_through < day
    ]


@dataclass(frozen=True)
class MemberStanding:
    """What staff see of a member wherever they meet them (card, search, call panel, desk)."""

    membership: Membership
    tier: int
    tier_label: str
    tier_name: str
    labour_discount: object
    benefits: str
    points_balance: int
    points_expiring: int
    wallet_balance: object
    is_birthday_month: bool
    credit_card_bank: str

    @property
    def is_vip(self) -> bool:
        return self.tier >= Tier.GOLD


def member_standing(*, membership: Membership, today: datetime.date | None = None) -> MemberStanding:
    """A member's tier, its discount and benefits, the points balance and those expiring in 30 days."""
    today = today or timezone.localdate()
    rule = TierRule.objects.filter(store_id=membership.store_id, tier=membership.tier).first()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_expiring_sql(member='m', day='%(day)s::date')} FROM {MEMBERSHIP} m WHERE m.id = %(id)s",
            {"day": today, "id": membership.pk},
        )
        expiring = cursor.fetchone()[0]
    birthday = membership.customer.birthday
    return MemberStanding(
        membership=membership,
        tier=membership.tier,
        tier_label=str(Tier(membership.tier).label),
        tier_name=TIER_NAMES[Tier(membership.tier)],
        labour_discount=rule.labour_discount if rule else None,
        benefits=rule.benefits if rule else "",
        points_balance=membership.points_balance,
        points_expiring=expiring,
        wallet_balance=membership.wallet_balance,
        is_birthday_month=bool(birthday and birthday.month == today.month),
        credit_card_bank=membership.credit_card_bank,
    )


def membership_for_customer(*, customer) -> Membership | None:
    return Membership.objects.filter(customer=customer).select_related("store", "customer").first()


def membership_queryset_for_user(user) -> QuerySet[Membership]:
    """The members whose cards ``user`` may see (their stores, their confidentiality)."""
    return Membership.objects.filter(customer__in=customer_queryset_for_user(user)).select_related("customer", "store")


# --- What customers and follow-ups read of the club (registered on ClubsConfig, customers/membership.py) ---

_TIER_NAME_CASES = " ".join(f"WHEN {int(tier)} THEN '{name}'" for tier, name in TIER_NAMES.items())


def customer_member_tier_sql(*, day: str) -> str:
    """The Chinese name of the club tier of every member of a club started by the SQL date ``day``,
    as (customer_id, tier) (the segment facts keep it instead of the DMS's tier). The tier is the
    member's as of the club's last run or change."""
    return f"""SELECT m.customer_id, CASE m.tier {_TIER_NAME_CASES} END AS tier
        FROM {MEMBERSHIP} m JOIN {STORE_CLUB} sc ON sc.store_id = m.store_id AND sc.started_on <= {day}"""


def _points_on_sql(*, member: str, day: str) -> str:
    """The points of the membership row ``member`` at the end of ``day``: what is left then of every
    lot earned by that day and not expired (debits up to that day taken out). It is the sum of the
    ledger up to ``day`` once the nightly run has recorded that day's expiries, and right before it
    (a lot expiring on ``day`` does not count on ``day``)."""
    return f"""coalesce((
        SELECT sum(l.points - coalesce((
            SELECT sum(a.points) FROM {ALLOCATION} a JOIN {POINTS} d ON d.id = a.debit_id
            WHERE a.lot_id = l.id AND d."on" <= {day}), 0))
        FROM {POINTS} l
        WHERE l.membership_id = {member}.id AND l."on" <= {day} AND l.expires_on > {day}), 0)"""


def customer_points_on_sql(*, customer: str, day: str) -> str:
    """The points balance at the end of the SQL date ``day`` of the customer row ``customer`` when
    their store's club had started by then, from the ledger (0 for a customer who is no member);
    NULL in a store without a started club (the DMS's balance on the card counts there)."""
    return f"""(SELECT coalesce((SELECT {_points_on_sql(member="m", day=day)} FROM {MEMBERSHIP} m
                                 WHERE m.customer_id = {customer}.id), 0)
        FROM {STORE_CLUB} sc WHERE sc.store_id = {customer}.store_id AND sc.started_on <= {day})"""


def dms_differences_for_user(user, *, search: str = "", today: datetime.date | None = None) -> QuerySet[Membership]:
    """The members of ``user``'s stores (clubs started by ``today``) whose card disagrees with the
    club: the DMS's tier (blank is 普通, a spelling the club does not know always disagrees) is not
    the club's tier, or the DMS states a points balance that is not the club's. After S the club is
    the record: the difference is only shown, nothing is changed. ``search`` narrows on the name,
    customer number or card number. By store, then card number."""
    from django.db.models import BooleanField, Case, F, IntegerField, Q, Value, When
    from django.db.models.functions import Trim

    from clubs.choices import DMS_TIER_SPELLINGS

    today = today or timezone.localdate()
    ranks: dict[int, list[str]] = {}
    for spelling, rank in DMS_TIER_SPELLINGS.items():
        ranks.setdefault(int(rank), []).append(spelling)
    dms_rank = Case(
        *[When(dms_tier__in=spellings, then=Value(rank)) for rank, spellings in sorted(ranks.items())],
        default=Value(int(Tier.REGULAR)),
        output_field=IntegerField(),
    )
    unknown_spelling = ~(Q(dms_tier="") | Q(dms_tier__in=list(DMS_TIER_SPELLINGS)))
    members = (
        membership_queryset_for_user(user)
        .filter(store__club__started_on__lte=today)
        .alias(dms_tier=Trim("customer__member_tier"))
        .annotate(dms_rank=dms_rank)
        .annotate(
            tier_differs=Case(
                When(~Q(dms_rank=F("tier")) | unknown_spelling, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
            points_differ=Case(
                When(
                    Q(customer__points_balance__isnull=False) & ~Q(customer__points_balance=F("points_balance")),
                    then=Value(True),
                ),
                default=Value(False),
                output_field=BooleanField(),
            ),
        )
        .filter(Q(tier_differs=True) | Q(points_differ=True))
    )
    if search := search.strip():
        members = members.filter(
            Q(customer__name__icontains=search) | Q(customer__customer_no__iexact=search) | Q(card_no__iexact=search)
        )
    return members.order_by("store__code", "card_no", "pk")
