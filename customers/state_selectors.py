"""Reads of the retention dashboard (流失分析): the month-end states over 24 months, the movement
of one month between states, churn and win-back rates, and the customers behind a figure. Counts
come from the movement sums (customers.states builds them with the snapshots); the customers
behind a figure from the snapshots, through the card visibility rule."""

import datetime
from dataclasses import dataclass, field

from django.db import connection, connections, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils.translation import gettext_lazy as _

from crm.calendar import add_months
from crm.scoping import report_store_ids, visible_store_ids
from customers.choices import CustomerState
from customers.models import Customer, CustomerMonthState, CustomerStateMovement, CustomerWinBack
from customers.selectors import customer_visible_to, customers_hidden_from
from customers.selectors.win_backs import win_back_customer_ids, win_back_filter

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


#: The customers behind a figure are counted exactly up to this many; past it the count is the
#: figure's own (the movement sums) or the planner's estimate (crm.api.pagination's rule).
FIGURE_COUNT_CAP = 1_000


class FigureCustomers:
    """The customers behind a figure, for a paginator: ``count()`` and slices, each slice read
    with one query whatever the figure's size (docs/retention.md, "The customers behind a figure").

    The matches are read from the figure's own rows (the month's win-back rows, or the month's
    snapshot rows of a state), through their ``(month, store, ...)`` index ranges; the visibility
    rule is the anti-join on the few hidden cards (``customer_visible_to``), so a card is read
    only when the store scope or a search needs it. The count is exact for the whole group without
    a search (the win-back rows, or the movement sums less the hidden cards in the figure), else
    it stops at ``FIGURE_COUNT_CAP`` and is estimated past it (``count_is_estimate``). A page
    is read one of two ways, whichever reads fewer rows: from the matches, sorted by customer no.
    (a figure of few customers), or by walking the customers in customer no. order and probing
    the figure's rows of each until the page is full (a figure of many: its first pages need a
    few thousand probes, not a sort of every match)."""

    def __init__(self, *, user, store_ids, month, previous_states, state, search="", won_back_by=""):
        self.month = month
        self.previous_states = previous_states
        self.state = state
        self.store_ids = store_ids
        self.won_back_by = won_back_by
        self.search = search
        previous_month = add_months(month, -1)
        self.won_back = sorted(previous_states) == sorted(WON_BACK_FROM) and state == CustomerState.ACTIVE
        if self.won_back:
            # Won back: the month's win-back rows are exactly these customers (written from the same
            # two snapshots in the same transaction), a few thousand rows rather than two months of all.
            source = CustomerWinBack.objects.filter(month=month, store_id__in=store_ids)
            if won_back_by:
                source = source.filter(win_back_filter(won_back_by) or Q(pk__in=[]))
        else:
            source = CustomerMonthState.objects.filter(month=month, state=state, store_id__in=store_ids)
            before = Q(customer_id__in=CustomerMonthState.objects.filter(
                month=previous_month, state__in=[value for value in previous_states if value != NONE]
            ).values("customer_id"))  # fmt: skip
            if NONE in previous_states:  # an anti-join probing each row's own key, not a hash of a month
                before |= ~Exists(CustomerMonthState.objects.filter(customer_id=OuterRef("customer_id"),
                                                                    month=previous_month))  # fmt: skip
            source = source.filter(before)
            if won_back_by:
                source = source.filter(customer_id__in=win_back_customer_ids(store_ids=store_ids, month=month,
                                                                             key=won_back_by))  # fmt: skip
        self.source = source.filter(customer_visible_to(user))
        self.hidden = customers_hidden_from(user)
        self.previous_month = previous_month
        # What needs the card itself: the user's stores (a card may have moved since) and the search.
        card = Q()
        self.walk_card = Q()
        if not user.is_authenticated:
            card = Q(pk__in=[])
        else:
            visible = visible_store_ids(user)
            if visible is not None:
                card &= Q(store_id__in=visible)
                # The walk tests the store as it reads each card in customer no. order: "+ 0"
                # keeps the planner from reading all of the store's cards by their index first.
                self.walk_card &= Q(walk_store__in=visible)
        if search:
            card &= Q(customer_no__istartswith=search) | Q(name__icontains=search)
            self.walk_card &= Q(customer_no__istartswith=search) | Q(name__icontains=search)
        if not user.is_authenticated:
            self.walk_card = Q(pk__in=[])
        self.card = card
        self.count_is_estimate = False
        self._count = None

    def _matches(self) -> QuerySet:
        """The figure's rows the user may see (not ordered)."""
        if not self.card:
            return self.source
        return self.source.filter(customer__in=Customer.objects.filter(self.card))

    def count(self) -> int:
        if self._count is not None:
            return self._count
        if not self.card and self.won_back:
            # The month's win-back rows of the stores: an index range of a few thousand rows.
            self._count = self.source.count()
        elif not self.card and not self.won_back_by:
            # The figure as the movement sums count it (the same two snapshots), less the hidden
            # cards in it: those are few, each tested by its own rows.
            hidden = self._tested(Customer.objects.filter(pk__in=self.hidden)).count()
            self._count = self._figure() - hidden
        else:
            capped = self._matches().order_by()[: FIGURE_COUNT_CAP + 1].count()
            if capped <= FIGURE_COUNT_CAP:
                self._count = capped
            else:
                self.count_is_estimate = True
                self._count = max(self._estimate(), capped)
        return self._count

    def _figure(self) -> int:
        cells = CustomerStateMovement.objects.filter(
            store_id__in=self.store_ids, month=self.month, previous_state__in=self.previous_states, state=self.state
        ).aggregate(customers=Sum("customers"))
        return cells["customers"] or 0

    def _estimate(self) -> int:
        if not self.search and not self.won_back_by:  # the figure itself, as the dashboard shows it
            return self._figure()
        from crm.api.pagination import planner_row_estimate

        return planner_row_estimate(self._matches())

    def _tested(self, rows: QuerySet[Customer]) -> QuerySet[Customer]:
        """``rows`` that are in the figure, tested one card at a time: each test reads the card's
        own row of the month by its ``(customer, month)`` key (never a scan of the figure's rows)."""
        if self.won_back:
            returns = CustomerWinBack.objects.filter(customer_id=OuterRef("pk"), month=self.month)
            if self.won_back_by:
                returns = returns.filter(win_back_filter(self.won_back_by) or Q(pk__in=[]))
            return rows.alias(figure_store=Subquery(returns.values("store_id")[:1])).filter(
                figure_store__in=self.store_ids
            )
        now = CustomerMonthState.objects.filter(customer_id=OuterRef("pk"), month=self.month)
        before = CustomerMonthState.objects.filter(customer_id=OuterRef("pk"), month=self.previous_month)
        rows = rows.alias(
            figure_state=Subquery(now.values("state")[:1]),
            figure_store=Subquery(now.values("store_id")[:1]),
            figure_before=Subquery(before.values("state")[:1]),
        ).filter(figure_state=self.state, figure_store__in=self.store_ids)
        previous = Q(figure_before__in=[value for value in self.previous_states if value != NONE])
        if NONE in self.previous_states:
            previous |= Q(figure_before__isnull=True)
        rows = rows.filter(previous)
        if self.won_back_by:
            rows = rows.filter(pk__in=win_back_customer_ids(store_ids=self.store_ids, month=self.month,
                                                            key=self.won_back_by))  # fmt: skip
        return rows

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if not isinstance(index, slice):
            raise TypeError("FigureCustomers is read a page at a time")
        start, stop = index.start or 0, index.stop
        count = self.count()
        # The planner's row count of the cards (never counted), and the rows of the month's state
        # in the stores (the movement sums' column): what sorting a snapshot figure reads.
        with connection.cursor() as cursor:
            cursor.execute(
                f"""SELECT (SELECT reltuples FROM pg_class WHERE oid = %s::regclass),
                    (SELECT COALESCE(SUM(customers), 0) FROM {CustomerStateMovement._meta.db_table}
                     WHERE store_id = ANY(%s) AND month = %s AND state = %s)""",
                [Customer._meta.db_table, list(self.store_ids), self.month, self.state],
            )
            customers, state_rows = cursor.fetchone()
        # Sorting reads every row of the figure's range (its win-back rows, or the month's rows of
        # the state, each tested against the month before) and the card of every match. Walking
        # reads about stop * customers / count cards in customer no. order, each a third of that
        # cost (measured at a million owners: index probes of a card read in order). A table
        # never measured (reltuples -1) is a small one: sort.
        sorted_rows = count if self.won_back else max(state_rows, count)
        walk = count > 0 and customers > 0 and stop * customers / count < 3 * sorted_rows
        last_visit = CustomerMonthState.objects.filter(customer_id=OuterRef("pk"), month=self.month).values(
            "last_visit"
        )
        if walk:
            cards = Customer.objects.alias(walk_store=F("store_id") + 0).filter(self.walk_card)
            rows = self._tested(cards.exclude(pk__in=self.hidden))
        else:
            rows = Customer.objects.filter(self.card, pk__in=self.source.values("customer_id"))
        rows = rows.select_related("store").annotate(month_last_visit=Subquery(last_visit)).order_by("customer_no")
        # The walk's plan looks dear to the planner (it cannot know the page fills early) and
        # would be compiled (JIT) at a cost of a second: the plan is a few index probes a row.
        with transaction.atomic(using=rows.db), connections[rows.db].cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            return list(rows[start:stop])
