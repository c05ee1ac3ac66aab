"""Referrals (保客转介绍): the prospects' lists and the referral-sales report."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404

from clubs.choices import EntryKind, ReferralStage
from clubs.models import Referral
from clubs.run import MEMBERSHIP, POINTS, REFERRAL, STORE
from crm.calendar import add_months
from crm.compiled_reads import compiled_read
from crm.models import User
from crm.scoping import in_stores, scope_to_user_stores, store_scope, visible_store_ids
from customers.dms.parsing import FieldError, parse_mobile
from customers.selectors import VEHICLE_TABLE
from customers.selectors.prospects import prospect_consultants

# --- referrals (保客转介绍) ------------------------------------------------------------------------

OPEN_REFERRAL_STAGES = (ReferralStage.NEW, ReferralStage.CONTACTED, ReferralStage.TEST_DRIVE)
REFERRAL_STAGE_FILTERS = ("open", *ReferralStage.values, "all")


# A referral is a prospect of the pipeline (docs/referrals.md): the same consultants work it.
referral_consultants = prospect_consultants


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
    if not user.is_authenticated:
        return []
    scope = store_scope(user)

    def build(*, customer_id: int) -> QuerySet[Referral]:
        referrals = in_stores(Referral.objects.filter(referrer_id=customer_id), scope)
        return referrals.select_related("consultant", "won_vehicle").order_by("-referred_on", "-id")[:limit]

    return compiled_read(("customer referrals", scope, limit), build, customer_id=customer.pk)


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
