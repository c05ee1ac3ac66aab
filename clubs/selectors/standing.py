"""A member's standing on a day (tier, benefits, balance, points expiring) and the points export."""

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from clubs.choices import TIER_NAMES, Tier
from clubs.models import Membership, StoreClub, TierRule
from clubs.run import ALLOCATION, MEMBERSHIP, POINTS, STORE_CLUB, tiers_on_sql
from crm.scoping import scope_to_user_stores
from customers.selectors import CUSTOMER_TABLE, customer_visible_to

EXPORT_HEADER = ("customer_no", "card_no", "tier", "balance", "expiring_30d")
EXPIRING_DAYS = 30


def expiring_points_sql(*, member: str, day: str) -> str:
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
    expiring in the 30 days after; by customer number. One set-based query (aggregates per member,
    no per-member look-ups), read in chunks."""
    names = " ".join(f"WHEN {int(tier)} THEN '{name}'" for tier, name in TIER_NAMES.items())
    # A server-side cursor: a million rows stream through in chunks instead of arriving at once.
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(
            f"""
            WITH balances AS (
                SELECT e.membership_id, sum(e.points) AS points FROM {POINTS} e
                WHERE e."on" <= %(day)s GROUP BY e.membership_id
            ), used AS (
                SELECT a.lot_id, sum(a.points) AS points FROM {ALLOCATION} a
                JOIN {POINTS} d ON d.id = a.debit_id AND d."on" <= %(day)s
                GROUP BY a.lot_id
            ), expiring AS (
                SELECT l.membership_id, sum(l.points - coalesce(u.points, 0)) AS points
                FROM {POINTS} l LEFT JOIN used u ON u.lot_id = l.id
                WHERE l.expires_on > %(day)s AND l.expires_on <= %(day)s::date + {EXPIRING_DAYS} AND l."on" <= %(day)s
                GROUP BY l.membership_id
            )
            SELECT c.customer_no, m.card_no, CASE t.tier {names} END,
                   coalesce(b.points, 0), coalesce(x.points, 0)
            FROM {MEMBERSHIP} m
            JOIN {STORE_CLUB} sc ON sc.store_id = m.store_id AND sc.started_on <= %(day)s
            JOIN {CUSTOMER_TABLE} c ON c.id = m.customer_id
            JOIN {tiers_on_sql(day="%(day)s::date")} t ON t.membership_id = m.id
            LEFT JOIN balances b ON b.membership_id = m.id
            LEFT JOIN expiring x ON x.membership_id = m.id
            WHERE m.joined_on <= %(day)s
            ORDER BY c.customer_no COLLATE "C"
            """,
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
            f"SELECT {expiring_points_sql(member='m', day='%(day)s::date')} FROM {MEMBERSHIP} m WHERE m.id = %(id)s",
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
    # The member's store, and the card levels as "not one of the few restricted cards hidden from
    # the user" (an indexed anti-join, as the call queue reads its tasks), not as ``customer IN
    # (every card the user may see)``: for a group that read all of its million cards on every page.
    members = scope_to_user_stores(Membership.objects.all(), user)
    return members.filter(customer_visible_to(user)).select_related("customer", "store")
