"""The members' screens (clubs/views.py): the list, the member page, the club settings' history."""

import datetime
import unicodedata
from dataclasses import dataclass

from django.db import connection
from django.db.models import Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone

from clubs.choices import DMS_TIER_SPELLINGS, Tier
from clubs.models import Membership, PointsEntry, StoreClub, TierChange, TierRule, WalletEntry
from clubs.run import MEMBERSHIP
from clubs.selectors.standing import EXPIRING_DAYS, expiring_points_sql, membership_queryset_for_user
from crm.compiled_reads import compiled_read
from crm.scoping import stores_for_user
from customers.selectors import customer_search_sql

# --- the members' screens (clubs/views.py) ------------------------------------------------------

#: The members list's orders. A descending order reverses its ties too (the highest card first among
#: the same balance or day), so that one index read backwards serves both directions (models.Membership).
MEMBER_SORTS = {
    "card": ("card_no", "id"),
    "balance": ("points_balance", "card_no", "id"),
    "-balance": ("-points_balance", "-card_no", "-id"),
    "joined": ("joined_on", "card_no", "id"),
    "-joined": ("-joined_on", "-card_no", "-id"),
}


def expiring_points_expression(*, day: datetime.date) -> RawSQL:
    """The points of the row's member expiring in day+1 … day+30, as an annotation."""
    sql = expiring_points_sql(member=MEMBERSHIP, day="%s::date")
    return RawSQL(sql, [day] * sql.count("%s"), output_field=IntegerField())


#: What a row of the members list shows (templates/clubs/member_list.html), besides its annotations.
MEMBER_ROW_FIELDS = (
    "customer_id", "store_id", "card_no", "tier", "points_balance", "wallet_balance", "joined_on",
    "customer__name", "customer__customer_no",
)  # fmt: skip


@dataclass(frozen=True)
class MemberListPage:
    """The members list's rows (annotated, ordered) and the same members to count: without the
    per-row subqueries and joins, which only made the count's plan and the estimate's EXPLAIN
    past the cap dearer (7–10 ms on a million members, 1.4 ms without), in the same order, which
    is what the estimate's plan rests on (the same estimates on the bench's stores and group)."""

    rows: QuerySet[Membership]
    to_count: QuerySet[Membership]


def member_list_for_user(**filters) -> QuerySet[Membership]:
    """The members of the user's stores, narrowed by the list's search and filters (the arguments
    of ``_member_list``), each with its tier rule's labour discount and its points expiring in the
    30 days after ``today``."""
    return _member_list(**filters).rows


def member_list_page_for_user(**filters) -> MemberListPage:
    """The members list's page (clubs/views.py): member_list_for_user's rows with only the columns a
    row shows (not each card's 43 columns and its store), and the same members to count."""
    members = _member_list(**filters)
    rows = members.rows.select_related(None).select_related("customer").only(*MEMBER_ROW_FIELDS)
    return MemberListPage(rows=rows, to_count=members.to_count)


def _member_list(
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
) -> MemberListPage:
    """The rows and the members to count of the list's search and filters: the members of ``user``'s
    stores found by ``search``, of ``tier`` and ``store_id``, with a points balance between
    ``balance_min`` and ``balance_max``, only those with points expiring if ``expiring_only``, in the
    order ``sort`` (MEMBER_SORTS)."""
    today = today or timezone.localdate()
    queryset = membership_queryset_for_user(user)
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
    order = MEMBER_SORTS.get(sort, MEMBER_SORTS["card"])
    rows = queryset.annotate(
        labour_discount=Subquery(
            TierRule.objects.filter(store_id=OuterRef("store_id"), tier=OuterRef("tier")).values("labour_discount")[:1]
        ),
        points_expiring=expiring_points_expression(day=today),
    )
    if expiring_only:
        # The lots expiring in the window first (an index look-up), then what is left of them.
        lots_expiring = PointsEntry.objects.filter(
            membership_id=OuterRef("pk"),
            expires_on__gt=today,
            expires_on__lte=today + datetime.timedelta(days=EXPIRING_DAYS),
        )
        rows = rows.filter(Exists(lots_expiring), points_expiring__gt=0)
        return MemberListPage(rows=rows.order_by(*order), to_count=rows.order_by(*order))
    return MemberListPage(rows=rows.order_by(*order), to_count=queryset.select_related(None).order_by(*order))


def member_get_for_user(*, user, pk: int) -> Membership:
    """The member, or 404 when it does not exist or its card is outside what the user may see."""
    member = membership_queryset_for_user(user).select_related("store__club").filter(pk=pk).first()
    if member is None:
        raise Http404
    return member


def member_ledger(*, membership: Membership) -> QuerySet[PointsEntry]:
    """The member's points ledger, newest first."""
    return PointsEntry.objects.filter(membership=membership).select_related("created_by").order_by("-on", "-id")


def customer_points_entries(*, customer, limit: int = 50) -> list[PointsEntry]:
    """The customer's points ledger lines (any of their memberships), newest first: the card's timeline."""

    def build(*, customer_id: int) -> QuerySet[PointsEntry]:
        entries = PointsEntry.objects.filter(membership__customer_id=customer_id).select_related("created_by")
        return entries.order_by("-on", "-id")[:limit]

    return compiled_read(("customer points entries", limit), build, customer_id=customer.pk)


def member_tier_history(*, membership: Membership) -> QuerySet[TierChange]:
    return (
        TierChange.objects.filter(membership=membership).select_related("created_by").order_by("-effective_on", "-id")
    )


def membership_wallet(*, membership: Membership) -> QuerySet[WalletEntry]:
    """The member's stored-value entries, newest first."""
    return WalletEntry.objects.filter(membership=membership).select_related("created_by").order_by("-id")


def member_wallet_entries(*, membership: Membership, limit: int = 50) -> list[WalletEntry]:
    return list(membership_wallet(membership=membership)[:limit])


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
