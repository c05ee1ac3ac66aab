"""Reads of "won back by" (docs/retention.md) for the retention dashboard: a month's returns and
their repair orders' revenue per rule, campaign, club events, appointments and "no contact" (each
return in exactly one row), and per agent (the calls'); the customers behind each figure."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from customers.contacts import CONTACT_KINDS, campaign_labels, rule_labels
from customers.models import CustomerWinBack

#: The "no contact" figure's key.
NO_CONTACT = "none"


@dataclass
class WinBackFigure:
    """One row of the attribution: ``key`` names it in a link (``rule:<code>``, ``campaign:<id>``,
    ``kind:<kind>``, ``agent:<id>``, ``none``)."""

    key: str
    label: str
    returns: int
    revenue: Decimal


@dataclass
class WinBackAttribution:
    sources: list[WinBackFigure]
    agents: list[WinBackFigure]

    @property
    def returns(self) -> int:
        return sum(row.returns for row in self.sources)

    @property
    def revenue(self) -> Decimal:
        return sum((row.revenue for row in self.sources), Decimal("0.00"))


def _source_key(kind: str, rule_code: str, campaign_id: int | None) -> str:
    if campaign_id is not None:
        return f"campaign:{campaign_id}"
    if rule_code:
        return f"rule:{rule_code}"
    if kind:
        return f"kind:{kind}"
    return NO_CONTACT


def win_back_attribution(*, store_ids: list[int], month: datetime.date) -> WinBackAttribution:
    """The returns of ``month`` in ``store_ids`` by what brought them back, the most first ("no
    contact" last), and by agent. Two queries, a third when a campaign is among them."""
    rows = (
        CustomerWinBack.objects.filter(store_id__in=store_ids, month=month)
        .values_list("contact_kind", "contact_rule_code", "contact_campaign_id")
        .annotate(returns=Count("id"), revenue=Sum("revenue"))
        .order_by()
    )
    sums: dict[str, list] = {}
    for kind, rule_code, campaign_id, returns, revenue in rows:
        entry = sums.setdefault(_source_key(kind, rule_code, campaign_id), [0, Decimal("0.00")])
        entry[0] += returns
        entry[1] += revenue
    campaigns = campaign_labels(int(key.split(":")[1]) for key in sums if key.startswith("campaign:"))
    rules = rule_labels() if any(key.startswith("rule:") for key in sums) else {}
    sources = []
    for key, (returns, revenue) in sums.items():
        sort, value = key.partition(":")[0], key.partition(":")[2]
        if sort == "campaign":
            label = _("Campaign: %(name)s") % {"name": campaigns.get(int(value), f"#{value}")}
        elif sort == "rule":
            label = _("Rule: %(name)s") % {"name": rules.get(value, value)}
        elif sort == "kind":
            label = str(CONTACT_KINDS.get(value, value))
        else:
            label = _("No contact")
        sources.append(WinBackFigure(key, label, returns, revenue))
    sources.sort(key=lambda row: (row.key == NO_CONTACT, -row.returns, row.label))

    agent_rows = (
        CustomerWinBack.objects.filter(store_id__in=store_ids, month=month, contact_agent__isnull=False)
        .values_list("contact_agent_id", "contact_agent__username", "contact_agent__last_name",
                     "contact_agent__first_name")
        .annotate(returns=Count("id"), revenue=Sum("revenue"))
        .order_by("-returns", "contact_agent__username")
    )  # fmt: skip
    agents = [
        WinBackFigure(f"agent:{agent_id}", f"{last}{first}".strip() or username, returns, revenue)
        for agent_id, username, last, first, returns, revenue in agent_rows
    ]
    return WinBackAttribution(sources=sources, agents=agents)


def win_back_filter(key: str) -> Q | None:
    """The win-back rows a figure's ``key`` stands for, or None when the key is not one."""
    sort, _sep, value = key.partition(":")
    if key == NO_CONTACT:
        return Q(contact_kind="")
    if sort == "rule" and value:
        return Q(contact_rule_code=value, contact_campaign_id__isnull=True)
    if sort == "campaign" and value.isdigit():
        return Q(contact_campaign_id=int(value))
    if sort == "kind" and value in CONTACT_KINDS:
        return Q(contact_kind=value, contact_rule_code="", contact_campaign_id__isnull=True)
    if sort == "agent" and value.isdigit():
        return Q(contact_agent_id=int(value))
    return None


def win_back_customer_ids(*, store_ids: list[int], month: datetime.date, key: str) -> QuerySet:
    """The ids of the customers behind the figure ``key`` of ``month`` (a subquery)."""
    condition = win_back_filter(key) or Q(pk__in=[])
    return CustomerWinBack.objects.filter(condition, store_id__in=store_ids, month=month).values("customer_id")
