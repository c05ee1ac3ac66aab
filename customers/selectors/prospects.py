"""Reads of prospects (潜在客户): the list, one prospect, the sales consultants who may work them."""

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.http import Http404

from crm.choices import Role
from crm.models import User
from crm.scoping import scope_to_user_stores
from customers.choices import ProspectLostReason, ProspectSource, ProspectStatus
from customers.dms.parsing import FieldError, parse_mobile
from customers.models import OPEN_PROSPECT_STATUSES, Prospect

PROSPECT_STATUS_FILTERS = ("open", *ProspectStatus.values, "all")


def prospect_consultants(*, store_ids: list[int] | None) -> QuerySet[User]:
    """The active sales consultants of these stores (None: of every store), by name: who may work a
    prospect."""
    staff = User.objects.filter(is_active=True, groups__name=Role.SALES_CONSULTANT)
    if store_ids is not None:
        staff = staff.filter(stores__in=store_ids)
    return staff.distinct().order_by("last_name", "first_name", "username")


def prospect_queryset_for_user(user) -> QuerySet[Prospect]:
    """The prospects of the user's stores (a prospect is the store's, whoever works it)."""
    return scope_to_user_stores(Prospect.objects.all(), user)


def prospect_get_for_user(*, user, pk: int) -> Prospect:
    """One prospect of the user's stores, with its store, consultant and car; 404 otherwise."""
    prospect = (
        prospect_queryset_for_user(user)
        .select_related("store", "consultant", "recorded_by", "won_vehicle", "won_customer")
        .filter(pk=pk)
        .first()
    )
    if prospect is None:
        raise Http404
    return prospect


def prospect_list_for_user(
    *,
    user,
    search: str = "",
    status: str = "open",
    source: str = "",
    consultant: str = "",
    store_id: int | None = None,
) -> QuerySet[Prospect]:
    """The prospects' list of the user's stores, narrowed by ``status`` (``open``, a status or
    ``all``), ``source``, ``consultant`` (``mine``, ``none`` for not assigned, an ID, or blank for
    everyone), store and ``search`` (a whole mobile, else a part of the name or intended model).
    The user's own prospects come first, then the newest."""
    queryset = prospect_queryset_for_user(user).select_related("store", "consultant")
    if status == "open":
        queryset = queryset.filter(status__in=OPEN_PROSPECT_STATUSES)
    elif status in ProspectStatus.values:
        queryset = queryset.filter(status=status)
    if source in ProspectSource.values:
        queryset = queryset.filter(source=source)
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
            queryset = queryset.filter(mobile=mobile)
        else:
            queryset = queryset.filter(Q(name__icontains=search) | Q(intended_model__icontains=search))
    mine_first = Case(When(consultant_id=user.pk, then=Value(0)), default=Value(1), output_field=IntegerField())
    return queryset.annotate(mine_first=mine_first).order_by("mine_first", "-recorded_on", "-id")


def prospect_history(*, prospect: Prospect, limit: int = 50) -> list:
    """The prospect's history, newest first, with who made each change."""
    return list(
        prospect.history.select_related("history_user", "consultant").order_by("-history_date", "-history_id")[:limit]
    )


def _conversion(won: int, new: int) -> float | None:
    return round(100 * won / new, 1) if new else None


def prospect_report(*, user, start, end) -> dict:
    """The prospects recorded in [start, end] in the user's stores, per source and per consultant:
    how many, how many are won and lost now (lost per reason), and the conversion rate (won of new).
    A prospect counts in the period it was recorded in, wherever it stands today. Two queries."""
    prospects = prospect_queryset_for_user(user).filter(recorded_on__gte=start, recorded_on__lte=end)
    figures = {
        "new": Count("id"),
        "won": Count("id", filter=Q(status=ProspectStatus.WON)),
        "lost": Count("id", filter=Q(status=ProspectStatus.LOST)),
        **{
            f"lost_{reason}": Count("id", filter=Q(status=ProspectStatus.LOST, lost_reason=reason))
            for reason in ProspectLostReason.values
        },
    }

    def finish(row: dict) -> dict:
        row["lost_by_reason"] = [
            {"reason": reason, "label": str(label), "count": row.pop(f"lost_{reason}")}
            for reason, label in ProspectLostReason.choices
        ]
        row["conversion"] = _conversion(row["won"], row["new"])
        return row

    sources = dict(ProspectSource.choices)
    by_source = [
        finish({**row, "key": row["source"], "label": str(sources.get(row["source"], row["source"]))})
        for row in prospects.values("source").annotate(**figures).order_by("source")
    ]
    by_consultant = []
    for row in (
        prospects.values("consultant_id", "consultant__username", "consultant__last_name", "consultant__first_name")
        .annotate(**figures)
        .order_by(F("consultant__username").asc(nulls_last=True))
    ):
        name = f"{row['consultant__last_name'] or ''}{row['consultant__first_name'] or ''}".strip()
        by_consultant.append(
            finish(
                {**row, "key": row["consultant__username"] or "", "label": name or row["consultant__username"] or ""}
            )
        )
    totals = {key: sum(row[key] for row in by_source) for key in ("new", "won", "lost")}
    totals["conversion"] = _conversion(totals["won"], totals["new"])
    return {
        "by_source": by_source,
        "by_consultant": by_consultant,
        "totals": totals,
        "reasons": [str(label) for label in ProspectLostReason.labels],
    }
