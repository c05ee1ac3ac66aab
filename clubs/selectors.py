"""The club's reads: a member's standing on a day, the points export, the members of a user's stores."""

import datetime
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone

from clubs.choices import DMS_TIER_SPELLINGS, TIER_NAMES, EntryKind, ReferralStage, Tier
from clubs.models import Membership, PointsEntry, Referral, StoreClub, TierChange, TierRule, WalletEntry
from clubs.run import ALLOCATION, MEMBERSHIP, POINTS, REFERRAL, STORE, STORE_CLUB, tiers_on_sql
from crm.calendar import add_months
from crm.choices import Role
from crm.models import User
from crm.scoping import scope_to_user_stores, stores_for_user, visible_store_ids
from customers.dms.parsing import FieldError, parse_mobile
from customers.selectors import CUSTOMER_TABLE, VEHICLE_TABLE, customer_queryset_for_user, customer_search_sql

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


# --- the members' screens (clubs/views.py) ------------------------------------------------------

MEMBER_SORTS = {
    "card": ("card_no", "id"),
    "balance": ("points_balance", "card_no", "id"),
    "-balance": ("-points_balance", "card_no", "id"),
    "joined": ("joined_on", "card_no", "id"),
    "-joined": ("-joined_on", "card_no", "id"),
}


def expiring_points_expression(*, day: datetime.date) -> RawSQL:
    """The points of the row's member expiring in day+1 … day+30, as an annotation."""
    sql = _expiring_sql(member=MEMBERSHIP, day="%s::date")
    return RawSQL(sql, [day] * sql.count("%s"), output_field=IntegerField())


def member_list_for_user(
    *,
    user,
    search: str = "",
    tier: int | None = None,
    store_id: int | None = None,
    balance_min: int | None = None,
    balance_max: int | None = None,
    expiring_only: bool = False,
    sort: str = "card",
    today: datetime.date | None = None,
) -> QuerySet[Membership]:
    """The members of the user's stores, narrowed by the list's search and filters, each with its
    tier rule's labour discount and its points expiring in the 30 days after ``today``."""
    today = today or timezone.localdate()
    queryset = membership_queryset_for_user(user).annotate(
        labour_discount=Subquery(
            TierRule.objects.filter(store_id=OuterRef("store_id"), tier=OuterRef("tier")).values("labour_discount")[:1]
        ),
        points_expiring=expiring_points_expression(day=today),
    )
    search = unicodedata.normalize("NFKC", search or "").strip()
    if search:
        found = customer_search_sql(search)
        customer_ids: list[int] = []
        if found is not None:
            sql, params = found
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                customer_ids = [row[0] for row in cursor.fetchall()]
        queryset = queryset.filter(Q(customer_id__in=customer_ids) | Q(card_no__in={search, search.upper()}))
    if tier is not None:
        queryset = queryset.filter(tier=tier)
    if store_id is not None:
        queryset = queryset.filter(store_id=store_id)
    if balance_min is not None:
        queryset = queryset.filter(points_balance__gte=balance_min)
    if balance_max is not None:
        queryset = queryset.filter(points_balance__lte=balance_max)
    if expiring_only:
        # The lots expiring in the window first (an index look-up), then what is left of them.
        lots_expiring = PointsEntry.objects.filter(
            membership_id=OuterRef("pk"),
            expires_on__gt=today,
            expires_on__lte=today + datetime.timedelta(days=EXPIRING_DAYS),
        )
        queryset = queryset.filter(Exists(lots_expiring), points_expiring__gt=0)
    return queryset.order_by(*MEMBER_SORTS.get(sort, MEMBER_SORTS["card"]))


def member_get_for_user(*, user, pk: int) -> Membership:
    """The member, or 404 when it does not exist or its card is outside what the user may see."""
    member = membership_queryset_for_user(user).select_related("store__club").filter(pk=pk).first()
    if member is None:
        raise Http404
    return member


def member_ledger(*, membership: Membership) -> QuerySet[PointsEntry]:
    """The member's points ledger, newest first."""
    return PointsEntry.objects.filter(membership=membership).select_related("created_by").order_by("-on", "-id")


def member_tier_history(*, membership: Membership) -> QuerySet[TierChange]:
    return (
        TierChange.objects.filter(membership=membership).select_related("created_by").order_by("-effective_on", "-id")
    )


def member_wallet_entries(*, membership: Membership, limit: int = 50) -> list[WalletEntry]:
    return list(WalletEntry.objects.filter(membership=membership).select_related("created_by").order_by("-id")[:limit])


@dataclass(frozen=True)
class DmsDifference:
    """Where the DMS's strings on the card (still imported) disagree with the CRM's record."""

    dms_tier: str
    crm_tier: str
    dms_points: int | None
    crm_points: int
    tier_differs: bool
    points_differs: bool


def member_dms_difference(*, membership: Membership) -> DmsDifference | None:
    """The DMS's tier and balance against the CRM's, or None when they agree (or the DMS is silent)."""
    customer = membership.customer
    dms_tier = (customer.member_tier or "").strip()
    tier_differs = bool(dms_tier) and DMS_TIER_SPELLINGS.get(dms_tier) != membership.tier
    points_differs = customer.points_balance is not None and customer.points_balance != membership.points_balance
    if not (tier_differs or points_differs):
        return None
    return DmsDifference(
        dms_tier=dms_tier,
        crm_tier=str(Tier(membership.tier).label),
        dms_points=customer.points_balance,
        crm_points=membership.points_balance,
        tier_differs=tier_differs,
        points_differs=points_differs,
    )


def club_stores_for_user(user) -> list:
    """The user's active stores with their club (``store.started_club`` is the StoreClub or None)."""
    stores = list(stores_for_user(user).order_by("code"))
    clubs = {club.store_id: club for club in StoreClub.objects.filter(store__in=[store.pk for store in stores])}
    for store in stores:
        store.started_club = clubs.get(store.pk)
    return stores


def tier_rules_for_store(*, store) -> list[TierRule]:
    return list(TierRule.objects.filter(store=store).order_by("tier"))


@dataclass(frozen=True)
class SettingsChange:
    """One saved version of a club's rules or a tier rule: who, when, what changed (old → new)."""

    at: datetime.datetime
    user: object
    subject: str
    kind: str
    changes: list[tuple[str, object, object]]


def _history_changes(records, fields, subject_of) -> list[SettingsChange]:
    previous: dict = {}
    result = []
    for record in records:
        key = subject_of(record)
        before = previous.get(key)
        changes = [
            (str(field.verbose_name), getattr(before, field.attname), getattr(record, field.attname))
            for field in fields
            if before is not None and getattr(before, field.attname) != getattr(record, field.attname)
        ]
        previous[key] = record
        result.append(
            SettingsChange(
                at=record.history_date,
                user=record.history_user,
                subject=key,
                kind=record.history_type,
                changes=changes,
            )
        )
    return result


_CLUB_RULE_FIELDS = (
    "started_on", "points_per_amount", "silver_spend", "gold_spend", "diamond_topup", "topup_min", "topup_max",
    "points_valid_months", "referral_points", "referral_window_days",
)  # fmt: skip
_TIER_RULE_FIELDS = ("points_rate", "labour_discount", "benefits")


def club_settings_history(*, store, limit: int = 50) -> list[SettingsChange]:
    """Every saved version of the store's club rules and tier rules (simple-history), newest first."""
    club_fields = [StoreClub._meta.get_field(name) for name in _CLUB_RULE_FIELDS]
    tier_fields = [TierRule._meta.get_field(name) for name in _TIER_RULE_FIELDS]
    club_records = StoreClub.history.filter(store_id=store.pk).select_related("history_user")
    tier_records = TierRule.history.filter(store_id=store.pk).select_related("history_user")
    club_name = str(StoreClub._meta.verbose_name)
    changes = _history_changes(
        club_records.order_by("history_date", "history_id"), club_fields, lambda record: club_name
    ) + _history_changes(
        tier_records.order_by("history_date", "history_id"), tier_fields, lambda record: str(Tier(record.tier).label)
    )
    changes.sort(key=lambda change: change.at, reverse=True)
    return changes[:limit]


# --- referrals (保客转介绍) ------------------------------------------------------------------------

OPEN_REFERRAL_STAGES = (ReferralStage.NEW, ReferralStage.CONTACTED, ReferralStage.TEST_DRIVE)
REFERRAL_STAGE_FILTERS = ("open", *ReferralStage.values, "all")


def referral_consultants(*, store_ids: list[int] | None) -> QuerySet[User]:
    """The active sales consultants of these stores (None: of every store), by name: who works a
    referral."""
    staff = User.objects.filter(is_active=True, groups__name=Role.SALES_CONSULTANT)
    if store_ids is not None:
        staff = staff.filter(stores__in=store_ids)
    return staff.distinct().order_by("last_name", "first_name", "username")


def referral_staff_choices(user) -> QuerySet[User]:
    """The active staff of the user's stores: who may be the referrer of a staff referral."""
    staff = User.objects.filter(is_active=True)
    store_ids = visible_store_ids(user)
    if store_ids is not None:
        staff = staff.filter(stores__in=store_ids)
    return staff.distinct().order_by("last_name", "first_name", "username")


def referral_queryset_for_user(user) -> QuerySet[Referral]:
    """The referrals of the user's stores (whoever referred: the prospect is the store's)."""
    return scope_to_user_stores(Referral.objects.all(), user)


def referral_get_for_user(*, user, pk: int) -> Referral:
    referral = referral_queryset_for_user(user).select_related("store").filter(pk=pk).first()
    if referral is None:
        raise Http404
    return referral


def customer_referrals(*, user, customer, limit: int = 50) -> list[Referral]:
    """The referrals a customer made (their card's panel), newest first, with the car they won."""
    queryset = referral_queryset_for_user(user).filter(referrer=customer)
    return list(queryset.select_related("consultant", "won_vehicle").order_by("-referred_on", "-id")[:limit])


def referral_list_for_user(
    *, user, search: str = "", stage: str = "open", consultant: str = "", store_id: int | None = None
) -> QuerySet[Referral]:
    """The prospects' list: the referrals of the user's stores narrowed by stage (``open``, a stage
    or ``all``), consultant (``mine``, ``none`` for not assigned, an ID, or blank for everyone),
    store and ``search`` (the prospect's whole mobile, else a part of the name or intended model)."""
    queryset = referral_queryset_for_user(user).select_related(
        "store", "referrer", "referrer_staff", "consultant", "won_vehicle"
    )
    if stage == "open":
        queryset = queryset.filter(stage__in=OPEN_REFERRAL_STAGES)
    elif stage in ReferralStage.values:
        queryset = queryset.filter(stage=stage)
    if consultant == "mine":
        queryset = queryset.filter(consultant=user)
    elif consultant == "none":
        queryset = queryset.filter(consultant__isnull=True)
    elif consultant.isdecimal():
        queryset = queryset.filter(consultant_id=int(consultant))
    if store_id is not None:
        queryset = queryset.filter(store_id=store_id)
    search = " ".join(search.split())
    if search:
        try:
            mobile = parse_mobile(search)
        except FieldError:
            mobile = None
        if mobile:
            queryset = queryset.filter(prospect_mobile=mobile)
        else:
            queryset = queryset.filter(Q(prospect_name__icontains=search) | Q(intended_model__icontains=search))
    return queryset.order_by("-referred_on", "-id")


# --- The API's reads --------------------------------------------------------------------------


def membership_list_for_user(user, *, today: datetime.date | None = None) -> QuerySet[Membership]:
    """The members ``user`` may see, each with its tier's labour discount and ``points_expiring``
    (points of lots expiring in the 30 days after ``today``), computed in the list's one query."""
    from django.db.models import IntegerField, OuterRef, Subquery
    from django.db.models.expressions import RawSQL

    today = today or timezone.localdate()
    expiring = _expiring_sql(member=MEMBERSHIP, day="%s::date")
    discount = TierRule.objects.filter(store_id=OuterRef("store_id"), tier=OuterRef("tier")).values("labour_discount")
    return membership_queryset_for_user(user).annotate(
        points_expiring=RawSQL(expiring, [today] * expiring.count("%s"), output_field=IntegerField()),
        labour_discount=Subquery(discount[:1]),
    )


def membership_wallet(*, membership: Membership) -> QuerySet:
    """The member's stored-value entries, newest first."""
    from clubs.models import WalletEntry

    return WalletEntry.objects.filter(membership=membership).select_related("created_by").order_by("-id")


def referrers_visible_to(*, user, referrals) -> set[int]:
    """Of the customers who made ``referrals``, those whose card the user may see (a 绝密 or 机密
    referrer's name is not shown to the rest of the store). One query."""
    ids = {referral.referrer_id for referral in referrals if referral.referrer_id}
    if not ids:
        return set()
    return set(customer_queryset_for_user(user).filter(pk__in=ids).values_list("pk", flat=True))


@dataclass(frozen=True)
class ReferralMonth:
    """One store's referral sales in one month: referrals recorded (by their date), won (cars
    delivered to a referred prospect that month), the store's deliveries, the referral points credited."""

    month: datetime.date
    store_code: str
    store_name: str
    recorded: int
    won: int
    deliveries: int
    points: int

    @property
    def share(self) -> Decimal | None:
        """The share of the month's deliveries that were referral sales, in %, one decimal."""
        if not self.deliveries:
            return None
        return (Decimal(self.won * 100) / self.deliveries).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class ReferralReport:
    first_month: datetime.date
    last_month: datetime.date
    rows: list[ReferralMonth]  # by month, then store code
    totals: list[ReferralMonth]  # by month, every store of the report together


# The ledger reference of a referral's points is "referral:<id>" (clubs.run._win_referrals).
_REFERRAL_REPORT_SQL = f"""
WITH months AS (
    SELECT generate_series(%(first)s::date, %(last)s::date, interval '1 month')::date AS month
), stores AS (
    SELECT id, code, name FROM {STORE} WHERE id = ANY(%(stores)s)
), recorded AS (
    SELECT store_id, date_trunc('month', referred_on)::date AS month, count(*) AS n
    FROM {REFERRAL}
    WHERE store_id = ANY(%(stores)s) AND referred_on >= %(first)s AND referred_on < %(after)s
    GROUP BY 1, 2
), won AS (
    SELECT r.store_id, date_trunc('month', r.won_on)::date AS month, count(*) AS n,
           coalesce(sum(p.points), 0) AS points
    FROM {REFERRAL} r
    LEFT JOIN {MEMBERSHIP} m ON m.customer_id = r.referrer_id
    LEFT JOIN {POINTS} p ON p.membership_id = m.id AND p.kind = '{EntryKind.REFERRAL.value}'
         AND p.reference = 'referral:' || r.id
    WHERE r.store_id = ANY(%(stores)s) AND r.won_on >= %(first)s AND r.won_on < %(after)s
    GROUP BY 1, 2
), deliveries AS (
    SELECT store_id, date_trunc('month', delivery_date)::date AS month, count(*) AS n
    FROM {VEHICLE_TABLE}
    WHERE store_id = ANY(%(stores)s) AND delivery_date >= %(first)s AND delivery_date < %(after)s
    GROUP BY 1, 2
)
SELECT months.month, stores.code, stores.name, coalesce(recorded.n, 0)::int, coalesce(won.n, 0)::int,
       coalesce(deliveries.n, 0)::int, coalesce(won.points, 0)::int
FROM months CROSS JOIN stores
LEFT JOIN recorded ON recorded.store_id = stores.id AND recorded.month = months.month
LEFT JOIN won ON won.store_id = stores.id AND won.month = months.month
LEFT JOIN deliveries ON deliveries.store_id = stores.id AND deliveries.month = months.month
ORDER BY months.month, stores.code
"""


def referral_report(*, store_ids: list[int], first_month: datetime.date, last_month: datetime.date) -> ReferralReport:
    """The referral-sales report of these stores, month by month (``first_month`` to
    ``last_month``, each the 1st of its month): one set-based query, whatever the number of
    referrals, cars or members."""
    with connection.cursor() as cursor:
        cursor.execute(
            _REFERRAL_REPORT_SQL,
            {"stores": list(store_ids), "first": first_month, "last": last_month,
             "after": add_months(last_month, 1)},
        )  # fmt: skip
        rows = [ReferralMonth(*row) for row in cursor.fetchall()]
    totals: dict[datetime.date, list[int]] = {}
    month = first_month
    while month <= last_month:
        totals[month] = [0, 0, 0, 0]
        month = add_months(month, 1)
    for row in rows:
        figures = totals[row.month]
        for index, value in enumerate((row.recorded, row.won, row.deliveries, row.points)):
            figures[index] += value
    months = [ReferralMonth(month, "", "", *figures) for month, figures in totals.items()]
    return ReferralReport(first_month=first_month, last_month=last_month, rows=rows, totals=months)


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


# --- club events ---------------------------------------------------------------------------------

EVENT_REPORT_DAYS = 30
# The event page's list: who holds a place, the waiting list in its order, the invited, who came, who cancelled.
LIST_ORDER = ("registered", "waiting", "invited", "attended", "cancelled")
DOOR_RESULT_LIMIT = 20


def event_queryset_for_user(user) -> QuerySet:
    """The events of the user's stores."""
    from clubs.models import ClubEvent

    return scope_to_user_stores(ClubEvent.objects.all(), user)


def event_get_for_user(*, user, pk: int):
    """The event, or 404 when it does not exist or belongs to a store the user does not work in."""
    event = event_queryset_for_user(user).select_related("store", "segment", "created_by").filter(pk=pk).first()
    if event is None:
        raise Http404
    return event


def event_list_for_user(*, user, when: str = "upcoming", search: str = "", store_id: int | None = None) -> QuerySet:
    """The events of the user's stores: ``upcoming`` (not over yet, soonest first), ``past`` (over,
    latest first) or ``all``; narrowed by a part of the title or place and a store. Each carries
    ``places_taken`` and ``waiting`` (counted in the same query)."""
    from django.db.models import Count

    queryset = event_queryset_for_user(user).select_related("store")
    now = timezone.now()
    if when == "upcoming":
        queryset = queryset.filter(ends_at__gt=now).order_by("starts_at", "id")
    elif when == "past":
        queryset = queryset.filter(ends_at__lte=now).order_by("-starts_at", "-id")
    else:
        queryset = queryset.order_by("-starts_at", "-id")
    if store_id is not None:
        queryset = queryset.filter(store_id=store_id)
    search = " ".join(search.split())
    if search:
        queryset = queryset.filter(Q(title__icontains=search) | Q(place__icontains=search))
    return queryset.annotate(
        places_taken=Count("registrations", filter=Q(registrations__status__in=("registered", "attended"))),
        waiting=Count("registrations", filter=Q(registrations__status="waiting")),
    )


def event_status_counts(*, event) -> dict[str, int]:
    """How many of the event's list are in each status (every status present, 0 when none). One query."""
    from django.db.models import Count

    from clubs.choices import RegistrationStatus
    from clubs.models import EventRegistration

    counts = dict.fromkeys(RegistrationStatus.values, 0)
    rows = EventRegistration.objects.filter(event=event).values_list("status").annotate(total=Count("id"))
    counts.update(dict(rows.order_by()))
    return counts


def event_registrations(*, user, event, status: str = "") -> QuerySet:
    """The event's list as the user may see it (the card's level), by status, in the order people
    registered (the waiting list's order)."""
    from clubs.models import EventRegistration

    queryset = EventRegistration.objects.filter(event=event, customer__in=customer_queryset_for_user(user).values("pk"))
    if status:
        queryset = queryset.filter(status=status)
    return queryset.select_related("customer", "points_entry").order_by("status", "registered_at", "invited_at", "id")


def event_registration_get_for_user(*, user, event, pk: int):
    registration = event_registrations(user=user, event=event).filter(pk=pk).first()
    if registration is None:
        raise Http404
    return registration


@dataclass(frozen=True)
class DoorRow:
    """A person found at the door: the customer, their registration (None for a walk-in), a plate."""

    customer: object
    registration: object
    plate: str


def door_find(*, user, event, search: str, customer_ids: list[int] | None = None) -> list[DoorRow]:
    """The door's search: the last four digits of a mobile (the digits the mask shows anyway) among
    the people on the event's list, or the customers ``customer_ids`` of the event's store found by
    the customers' search (name, plate, whole number, name with the last four digits), which finds
    walk-ins too. The event's list first, then walk-ins; at most DOOR_RESULT_LIMIT. Three queries.

    Four digits alone never search the whole store: they would list every customer whose number
    ends so, a way to collect names and plates that the customers' search refuses."""
    from django.db.models import Case, Value, When

    from clubs.models import EventRegistration

    text = unicodedata.normalize("NFKC", search).strip()
    customers = customer_queryset_for_user(user).filter(store_id=event.store_id)
    if len(text) == 4 and text.isdigit():
        listed = EventRegistration.objects.filter(event=event).values("customer_id")
        customers = customers.filter(pk__in=listed, mobile__endswith=text)
    elif customer_ids is not None:
        customers = customers.filter(pk__in=customer_ids)
    else:
        return []
    on_list = EventRegistration.objects.filter(event=event, customer_id=OuterRef("pk"))
    customers = (
        customers.annotate(on_list=Exists(on_list))
        .annotate(first=Case(When(on_list=True, then=Value(0)), default=Value(1), output_field=IntegerField()))
        .order_by("first", "name", "id")[:DOOR_RESULT_LIMIT]
    )
    found = list(customers)
    registrations = {
        registration.customer_id: registration
        for registration in EventRegistration.objects.filter(event=event, customer__in=[c.pk for c in found])
    }
    plates: dict[int, str] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT customer_id, string_agg(plate_no, ' ' ORDER BY id) FROM {VEHICLE_TABLE} "
            "WHERE customer_id = ANY(%s) AND plate_no <> '' GROUP BY customer_id",
            [[c.pk for c in found]],
        )
        plates = dict(cursor.fetchall())
    return [DoorRow(customer, registrations.get(customer.pk), plates.get(customer.pk, "")) for customer in found]


@dataclass(frozen=True)
class EventReport:
    """An event's figures: its list by status, and what the attendees did in the 30 days after."""

    invited: int
    registered: int
    waiting: int
    cancelled: int
    attended: int
    walk_ins: int
    points: int
    repair_orders: int
    spend: Decimal
    returned: int
    first_day: datetime.date
    last_day: datetime.date


@dataclass(frozen=True)
class AttendeeRow:
    registration_id: int
    customer_id: int
    name: str
    checked_in_at: datetime.datetime
    repair_orders: int
    spend: Decimal


def _event_window(event) -> tuple[datetime.date, datetime.date]:
    last_event_day = timezone.localdate(event.ends_at)
    return last_event_day + datetime.timedelta(days=1), last_event_day + datetime.timedelta(days=EVENT_REPORT_DAYS)


_ATTENDEE_ORDERS_SQL = f"""
    SELECT r.id, r.customer_id, count(ro.id), coalesce(sum(ro.total_amount), 0)
    FROM clubs_eventregistration r
    LEFT JOIN {VEHICLE_TABLE} v ON v.customer_id = r.customer_id
    LEFT JOIN customers_repairorder ro ON ro.vehicle_id = v.id
        AND coalesce(ro.open_date, ro.settle_date) BETWEEN %(first)s AND %(last)s
    WHERE r.event_id = %(event)s AND r.status = 'attended'
    GROUP BY r.id, r.customer_id
"""


def event_report(*, event) -> EventReport:
    """The event's report, set-based (two queries whatever the number of attendees): invited (every
    one who had an invitation), registered (holding a place now: registered, or registered and
    came), waiting, cancelled, attended (walk-ins included), the points credited for attending, and
    the attendees' repair orders opened (else settled) from the day after the event's last day
    through 30 days later with their total spend, and how many of them came back with one."""
    first, last = _event_window(event)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE r.invited_at IS NOT NULL),
                   count(*) FILTER (WHERE r.status = 'registered'
                                    OR (r.status = 'attended' AND r.registered_at IS NOT NULL)),
                   count(*) FILTER (WHERE r.status = 'waiting'),
                   count(*) FILTER (WHERE r.status = 'cancelled'),
                   count(*) FILTER (WHERE r.status = 'attended'),
                   count(*) FILTER (WHERE r.status = 'attended' AND r.source = 'door'),
                   coalesce(sum(p.points), 0)
            FROM clubs_eventregistration r
            LEFT JOIN clubs_pointsentry p ON p.id = r.points_entry_id
            WHERE r.event_id = %s
            """,
            [event.pk],
        )
        invited, registered, waiting, cancelled, attended, walk_ins, points = cursor.fetchone()
        cursor.execute(
            f"SELECT coalesce(sum(orders), 0), coalesce(sum(spend), 0), count(*) FILTER (WHERE orders > 0) "
            f"FROM ({_ATTENDEE_ORDERS_SQL}) AS a(id, customer_id, orders, spend)",
            {"event": event.pk, "first": first, "last": last},
        )
        orders, spend, returned = cursor.fetchone()
    return EventReport(
        invited=invited, registered=registered, waiting=waiting, cancelled=cancelled, attended=attended,
        walk_ins=walk_ins, points=int(points), repair_orders=int(orders), spend=Decimal(spend), returned=returned,
        first_day=first, last_day=last,
    )  # fmt: skip


def event_attendee_rows(*, user, event, limit: int = 200) -> list[AttendeeRow]:
    """The attendees the user may see with their repair orders and spend in the report's window,
    in the order they came in. One query for the figures, one for the names."""
    first, last = _event_window(event)
    with connection.cursor() as cursor:
        cursor.execute(_ATTENDEE_ORDERS_SQL, {"event": event.pk, "first": first, "last": last})
        figures = {row[0]: row for row in cursor.fetchall()}
    registrations = (
        event_registrations(user=user, event=event, status="attended")
        .filter(pk__in=list(figures))
        .order_by("checked_in_at", "id")[:limit]
    )
    return [
        AttendeeRow(
            registration_id=registration.pk,
            customer_id=registration.customer_id,
            name=registration.customer.name,
            checked_in_at=registration.checked_in_at,
            repair_orders=figures[registration.pk][2],
            spend=Decimal(figures[registration.pk][3]),
        )
        for registration in registrations
    ]
