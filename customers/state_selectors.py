"""Reads of the retention dashboard (流失分析): the month-end states over 24 months, the movement
of one month between states, churn and win-back rates, and the customers behind a figure. Counts
come from the movement sums (customers.states builds them with the snapshots); the customers
behind a figure from the snapshots, through the card visibility rule."""

import datetime
from dataclasses import dataclass, field

from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum
from django.utils.translation import gettext_lazy as _

from crm.calendar import add_months
from crm.scoping import report_store_ids
from customers.choices import CustomerState
from customers.models import Customer, CustomerMonthState, CustomerStateMovement, CustomerWinBack
from customers.selectors import customer_queryset_for_user
from customers.selectors.win_backs import win_back_customer_ids

DASHBOARD_MONTHS = 24
STATES = [state.value for state in CustomerState]
#: The previous month's state of a movement; blank: not in the previous month's snapshot.
NONE = ""
PREVIOUS_STATES = [NONE, *STATES]
#: "Won back": dormant or lost at the end of one month, active at the end of the next.
WON_BACK_FROM = [CustomerState.DORMANT.value, CustomerState.LOST.value]


def previous_state_label(previous_state: str) -> str:
    return str(_("None (new to the snapshot)")) if previous_state == NONE else str(CustomerState(previous_state).label)


# The dashboard covers the stores of crm.scoping's rule for reports.
retention_store_ids = report_store_ids


@dataclass
class MonthStates:
    month: datetime.date
    partial: bool
    counts: dict[str, int]

    @property
    def active(self) -> int:
        return self.counts[CustomerState.ACTIVE.value]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class MatrixRow:
    previous_state: str
    label: str
    cells: list[tuple[str, int]]

    @property
    def total(self) -> int:
        return sum(count for _state, count in self.cells)


@dataclass
class Movement:
    month: datetime.date
    partial: bool
    rows: list[MatrixRow] = field(default_factory=list)

    def _count(self, previous: list[str], states: list[str]) -> int:
        return sum(count for row in self.rows if row.previous_state in previous for state, count in row.cells
                   if state in states)  # fmt: skip

    @property
    def column_totals(self) -> list[tuple[str, int]]:
        return [(state, self._count(PREVIOUS_STATES, [state])) for state in STATES]

    @property
    def won_back(self) -> int:
        return self._count(WON_BACK_FROM, [CustomerState.ACTIVE.value])

    @property
    def churned(self) -> int:
        """Active at the end of the previous month, dormant or lost at the end of this one."""
        return self._count([CustomerState.ACTIVE.value], WON_BACK_FROM)

    @property
    def previous_active(self) -> int:
        return self._count([CustomerState.ACTIVE.value], STATES)

    @property
    def previous_dormant_or_lost(self) -> int:
        return self._count(WON_BACK_FROM, STATES)

    @property
    def churn_rate(self) -> float | None:
        """Churned as a share of the previous month's active, in %; None when there were none."""
        return round(100 * self.churned / self.previous_active, 1) if self.previous_active else None

    @property
    def win_back_rate(self) -> float | None:
        """Won back as a share of the previous month's dormant and lost, in %."""
        if not self.previous_dormant_or_lost:
            return None
        return round(100 * self.won_back / self.previous_dormant_or_lost, 1)


@dataclass
class RetentionDashboard:
    months: list[MonthStates]
    movement: Movement


def retention_dashboard(*, store_ids: list[int], month: datetime.date, today: datetime.date) -> RetentionDashboard:
    """The states of the 24 months up to today's (today's month partial) and the movement of
    ``month`` (the first of a month), summed over ``store_ids``. Two queries."""
    current = today.replace(day=1)
    first = add_months(current, 1 - DASHBOARD_MONTHS)
    sums = (
        CustomerStateMovement.objects.filter(store_id__in=store_ids, month__range=(first, current))
        .values_list("month", "state")
        .annotate(customers=Sum("customers"))
        .order_by()
    )
    counts: dict[datetime.date, dict[str, int]] = {}
    for row_month, state, customers in sums:
        counts.setdefault(row_month, dict.fromkeys(STATES, 0))[state] = customers
    months = []
    for index in range(DASHBOARD_MONTHS):
        row_month = add_months(first, index)
        months.append(MonthStates(row_month, row_month == current, counts.get(row_month, dict.fromkeys(STATES, 0))))

    cells = (
        CustomerStateMovement.objects.filter(store_id__in=store_ids, month=month)
        .values_list("previous_state", "state")
        .annotate(customers=Sum("customers"))
        .order_by()
    )
    matrix = {(previous, state): customers for previous, state, customers in cells}
    movement = Movement(month=month, partial=month == current)
    for previous in PREVIOUS_STATES:
        row_cells = [(state, matrix.get((previous, state), 0)) for state in STATES]
        movement.rows.append(MatrixRow(previous, previous_state_label(previous), row_cells))
    return RetentionDashboard(months=months, movement=movement)


def retention_customers_for_user(
    *,
    user,
    store_ids: list[int],
    month: datetime.date,
    previous_states: list[str],
    state: str,
    search: str = "",
    won_back_by: str = "",
) -> QuerySet[Customer]:
    """The customers behind a figure of the movement of ``month``: in ``state`` at its end and in one
    of ``previous_states`` (NONE: not in the snapshot) at the end of the month before, of the
    stores given, that the user may see; with their last visit as of the month's end. With
    ``won_back_by`` (a "won back by" figure's key), only the returns that figure counts."""
    previous_month = add_months(month, -1)
    if sorted(previous_states) == sorted(WON_BACK_FROM) and state == CustomerState.ACTIVE:
        # Won back: the month's win-back rows are exactly these customers (written from the same
        # two snapshots in the same transaction), a few thousand rows rather than two months of all.
        won_back = CustomerWinBack.objects.filter(month=month, store_id__in=store_ids).values("customer_id")
        customers = customer_queryset_for_user(user).filter(pk__in=won_back)
    else:
        now = CustomerMonthState.objects.filter(month=month, state=state, store_id__in=store_ids)
        before = Q(pk__in=CustomerMonthState.objects.filter(
            month=previous_month, state__in=[value for value in previous_states if value != NONE]
        ).values("customer_id"))  # fmt: skip
        if NONE in previous_states:
            before |= ~Q(pk__in=CustomerMonthState.objects.filter(month=previous_month).values("customer_id"))
        customers = customer_queryset_for_user(user).filter(pk__in=now.values("customer_id")).filter(before)
    if won_back_by:
        customers = customers.filter(pk__in=win_back_customer_ids(store_ids=store_ids, month=month, key=won_back_by))
    if search:
        customers = customers.filter(Q(customer_no__istartswith=search) | Q(name__icontains=search))
    last_visit = CustomerMonthState.objects.filter(customer_id=OuterRef("pk"), month=month).values("last_visit")
    return customers.select_related("store").annotate(month_last_visit=Subquery(last_visit)).order_by("customer_no")
