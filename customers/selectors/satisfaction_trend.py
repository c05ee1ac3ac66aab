"""Satisfaction over time (满意度趋势, docs/retention.md): every recorded result (calls, SMS reply
digits, delivery interviews, complaints closed with the customer's confirmation) month by month —
the average score and the share dissatisfied — per rule, per store, per service advisor of record
or per sales consultant of record, and the distribution of the scores 1–5 over the period.

Reads the monthly figures (``SatisfactionMonth``, kept by customers.satisfaction_figures) only, never
the results: a few rows per store, month and group. A result counts in the month of its time in the
local time zone, for its store of record. A result without a score counts in the share dissatisfied
by its verdict, never in the average. Whom a result is credited to is fixed when it is recorded: the
customer's store then, the advisor of the customer's latest repair order settled on or before the
result's day, the consultant of the customer's newest car delivered on or before it (blank when
none); a later store move or a repair order imported later does not move it."""

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import connections, router
from django.utils.translation import gettext as _

from crm.calendar import add_months
from crm.models import Store
from customers.choices import SatisfactionSource
from customers.contacts import rule_labels
from customers.models import SatisfactionMonth
from customers.satisfaction_figures import MONTH_TABLE, SCORES

GROUPINGS = ("rule", "store", "advisor", "consultant")
#: The lines a chart draws (the groups with the most results); the tables hold every group.
CHART_LINES = 8

# The figures' dimension each grouping sums (a store's figures are those of its rule keys, as
# every result is in exactly one rule key), and the group's key.
_DIMENSIONS = {"rule": "rule", "store": "rule", "advisor": "advisor", "consultant": "consultant"}
_KEYS = {"rule": "f.key", "store": "f.store_id::text", "advisor": "f.key", "consultant": "f.key"}


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
    """The months ``first`` .. ``last`` (first days of their months) of the results of the stores
    ``store_ids``, grouped by ``grouping`` (one of ``GROUPINGS``); the groups with the most results
    first. Two queries on the monthly figures (three when grouped by store: the stores' names),
    whatever the number of results."""
    if grouping not in GROUPINGS:
        raise ValueError(grouping)
    params = {
        "store_ids": list(store_ids),
        "first": first,
        "last": last,
        "dimension": _DIMENSIONS[grouping],
    }
    where = f"""FROM {MONTH_TABLE} f
        WHERE f.store_id = ANY(%(store_ids)s) AND f.month BETWEEN %(first)s AND %(last)s
          AND f.dimension = %(dimension)s"""
    scores = ", ".join(f"COALESCE(sum(f.score_{score}), 0)" for score in SCORES)
    with connections[router.db_for_read(SatisfactionMonth)].cursor() as cursor:
        cursor.execute(
            f"""SELECT {_KEYS[grouping]} AS key, f.month, sum(f.results), sum(f.scored), sum(f.score_sum),
                       sum(f.dissatisfied)
                {where} GROUP BY 1, 2""",
            params,
        )
        rows = cursor.fetchall()
        params["dimension"] = "rule"  # the distribution: every result once
        cursor.execute(f"SELECT {scores}, COALESCE(sum(f.results - f.scored), 0) {where}", params)
        *score_counts, unscored = cursor.fetchone()

    current = today.replace(day=1)
    months, month = [], first
    while month <= last:
        months.append(Month(month, month == current, Figures()))
        month = add_months(month, 1)
    by_month = {entry.month: entry for entry in months}
    groups: dict[str, Group] = {}
    for key, row_month, results, scored, score_sum, unhappy in rows:
        figures = Figures(int(results), int(scored), int(score_sum), int(unhappy))
        group = groups.setdefault(key, Group(key, key))
        group.months[row_month] = figures
        group.total.add(figures)
        if row_month in by_month:
            by_month[row_month].figures.add(figures)
    labels = _labels(grouping, set(groups))
    for group in groups.values():
        group.label = labels.get(group.key, group.key)
    ordered = sorted(groups.values(), key=lambda group: (-group.total.results, group.label))
    distribution = [(score, int(count)) for score, count in zip(SCORES, score_counts, strict=True)]
    return SatisfactionTrend(months=months, groups=ordered, distribution=distribution, unscored=int(unscored))
