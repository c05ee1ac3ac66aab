"""What customers and follow-ups read of the club (registered on ClubsConfig, customers/membership.py),
and the managers' DMS-differences report.
"""

import datetime

from django.db.models import IntegerField, Q, QuerySet
from django.utils import timezone

from clubs.choices import DMS_TIER_SPELLINGS, TIER_NAMES, Tier
from clubs.models import Membership
from clubs.run import ALLOCATION, MEMBERSHIP, POINTS, STORE_CLUB
from clubs.selectors.standing import membership_queryset_for_user

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
    from django.db.models import BooleanField, Case, F, Value, When
    from django.db.models.functions import Trim

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
