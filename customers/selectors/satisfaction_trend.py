"""Satisfaction over time (满意度趋势, docs/retention.md): every recorded result (calls, SMS reply
digits, delivery interviews, complaints closed with the customer's confirmation) month by month —
the average score and the share dissatisfied — per rule, per store, per service advisor of record
or per sales consultant of record, and the distribution of the scores 1–5 over the period.

Reads ``SatisfactionResult`` only. A result counts in the month of its time in the local time zone,
for the store of its customer. A result without a score counts in the share dissatisfied by its
verdict, never in the average. The service advisor of record is the advisor of the customer's
latest repair order settled on or before the result's day; the sales consultant of record the
consultant of the customer's newest car delivered on or before it (blank when none)."""

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _

from crm.calendar import add_months, local_midnight
from crm.models import Store
from customers.choices import SatisfactionSource, SatisfactionVerdict
from customers.contacts import rule_labels
from customers.models import SatisfactionResult
from customers.selectors import CUSTOMER_TABLE, REPAIR_ORDER_TABLE, VEHICLE_TABLE

RESULT_TABLE = SatisfactionResult._meta.db_table
GROUPINGS = ("rule", "store", "advisor", "consultant")
#: The lines a chart draws (the groups with the most results); the tables hold every group.
CHART_LINES = 8
SCORES = (1, 2, 3, 4, 5)

_LOCAL_DAY = "(sr.at AT TIME ZONE %(tz)s)::date"
_KEYS = {
    # A delivery interview is its own line whatever its rule; a result without a rule is named by its source.
    "rule": f"""CASE WHEN sr.source = '{SatisfactionSource.DELIVERY_INTERVIEW.value}' THEN 'source:' || sr.source
                     WHEN sr.rule_code <> '' THEN sr.rule_code ELSE 'source:' || sr.source END""",
    "store": "c.store_id::text",
    "advisor": "COALESCE(advisor.name, '')",
    "consultant": "COALESCE(consultant.name, '')",
}
_JOINS = {
    "advisor": f"""LEFT JOIN LATERAL (
        SELECT ro.service_advisor AS name
        FROM {REPAIR_ORDER_TABLE} ro JOIN {VEHICLE_TABLE} rv ON rv.id = ro.vehicle_id
        WHERE rv.customer_id = sr.customer_id AND ro.settle_date <= {_LOCAL_DAY}
        ORDER BY ro.settle_date DESC, ro.id DESC LIMIT 1) advisor ON true""",
    "consultant": f"""LEFT JOIN LATERAL (
        SELECT cv.sales_consultant AS name
        FROM {VEHICLE_TABLE} cv
        WHERE cv.customer_id = sr.customer_id AND cv.delivery_date <= {_LOCAL_DAY}
        ORDER BY cv.delivery_date DESC, cv.id DESC LIMIT 1) consultant ON true""",
}


@dataclass
class Figures:
    """Results, scored results, their score sum and the dissatisfied among all results."""

    results: int = 0
    scored: int = 0
    score_sum: int = 0
    dissatisfied: int = 0

    def add(self, other: "Figures") -> None:
        self.results += other.results
        self.scored += other.scored
        self.score_sum += other.score_sum
        self.dissatisfied += other.dissatisfied

    @property
    def average(self) -> Decimal | None:
        """The average score to two decimals; None without a scored result."""
        if not self.scored:
            return None
        return (Decimal(self.score_sum) / self.scored).quantize(Decimal("0.01"), ROUND_HALF_UP)

    @property
    def dissatisfied_share(self) -> Decimal | None:
        """The dissatisfied results as a share of all results, in % to one decimal."""
        if not self.results:
            return None
        return (Decimal(100 * self.dissatisfied) / self.results).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass
class Month:
    month: datetime.date
    partial: bool
    figures: Figures


@dataclass
class Group:
    key: str
    label: str
    total: Figures = field(default_factory=Figures)
    months: dict[datetime.date, Figures] = field(default_factory=dict)

    def month_figures(self, months: list[Month]) -> list[tuple[Month, Figures]]:
        return [(month, self.months.get(month.month, Figures())) for month in months]


@dataclass
class SatisfactionTrend:
    months: list[Month]
    groups: list[Group]
    distribution: list[tuple[int, int]]
    unscored: int

    @property
    def total(self) -> Figures:
        figures = Figures()
        for month in self.months:
            figures.add(month.figures)
        return figures

    @property
    def chart_groups(self) -> list[Group]:
        return self.groups[:CHART_LINES]


def _labels(grouping: str, keys: set[str]) -> dict[str, str]:
    if grouping == "store":
        stores = Store.objects.filter(pk__in=[int(key) for key in keys]).values_list("pk", "name")
        return {str(pk): name for pk, name in stores}
    if grouping == "rule":
        rules = rule_labels()
        sources = dict(SatisfactionSource.choices)
        return {key: str(sources.get(key[7:], key[7:])) if key.startswith("source:") else rules.get(key, key)
                for key in keys}  # fmt: skip
    return {key: key or _("(none on record)") for key in keys}


def satisfaction_trend(
    *, store_ids: list[int], first: datetime.date, last: datetime.date, grouping: str, today: datetime.date
) -> SatisfactionTrend:
    """The months ``first`` .. ``last`` (first days of their months) of the results of the customers
    of ``store_ids``, grouped by ``grouping`` (one of ``GROUPINGS``); the groups with the most
    results first. Two queries (three when grouped by store: the stores' names)."""
    if grouping not in GROUPINGS:
        raise ValueError(grouping)
    params = {
        "tz": settings.TIME_ZONE,
        "store_ids": list(store_ids),
        "start": local_midnight(first),
        "end": local_midnight(add_months(last, 1)),
    }
    where = f"""FROM {RESULT_TABLE} sr JOIN {CUSTOMER_TABLE} c ON c.id = sr.customer_id
        {_JOINS.get(grouping, "")}
        WHERE c.store_id = ANY(%(store_ids)s) AND sr.at >= %(start)s AND sr.at < %(end)s"""
    dissatisfied = SatisfactionVerdict.DISSATISFIED.value
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT {_KEYS[grouping]} AS key, date_trunc('month', sr.at AT TIME ZONE %(tz)s)::date AS month,
                       count(*), count(sr.score), COALESCE(sum(sr.score), 0),
                       count(*) FILTER (WHERE sr.verdict = '{dissatisfied}')
                {where} GROUP BY 1, 2""",
            params,
        )
        rows = cursor.fetchall()
        cursor.execute(f"SELECT sr.score, count(*) {where} GROUP BY 1", params)
        scores = dict(cursor.fetchall())

    current = today.replace(day=1)
    months, month = [], first
    while month <= last:
        months.append(Month(month, month == current, Figures()))
        month = add_months(month, 1)
    by_month = {entry.month: entry for entry in months}
    groups: dict[str, Group] = {}
    for key, row_month, results, scored, score_sum, unhappy in rows:
        figures = Figures(results, scored, score_sum, unhappy)
        group = groups.setdefault(key, Group(key, key))
        group.months[row_month] = figures
        group.total.add(figures)
        if row_month in by_month:
            by_month[row_month].figures.add(figures)
    labels = _labels(grouping, set(groups))
    for group in groups.values():
        group.label = labels.get(group.key, group.key)
    ordered = sorted(groups.values(), key=lambda group: (-group.total.results, group.label))
    distribution = [(score, scores.get(score, 0)) for score in SCORES]
    return SatisfactionTrend(months=months, groups=ordered, distribution=distribution, unscored=scores.get(None, 0))
