"""Reads of the follow-up engine: the calendar, the queue, the preview and the reports."""

import datetime
from collections.abc import Iterable
from contextlib import contextmanager

from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection, connections, router, transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce
from django.http import Http404
from django.utils import timezone

from crm import prepared
from crm.calendar import WorkingCalendar, local_midnight
from crm.compiled_reads import compiled_read, read_sentinel
from crm.models import Store, User
from crm.prepared import InText
from crm.scoping import scope_to_user_stores, user_active_stores, visible_store_ids
from crm.selectors import working_calendar
from customers.choices import ConsentPurpose
from customers.message_outcomes import MessageOutcome
from customers.selectors import (
    CUSTOMER_TABLE,
    REPAIR_ORDER_TABLE,
    VEHICLE_TABLE,
    customer_sms_allowed_sql,
    customer_visibility_condition,
    customer_visible_to,
)
from customers.selectors.appointments import APPOINTMENT_TABLE, appointment_booked_from_task_sql
from followups.choices import MARKETING_RULES, REACHED_OUTCOMES, CallOutcome, Channel, RuleCode, TaskStatus
from followups.generation import preview_statements
from followups.models import CallAttempt, FollowupRule, FollowupTask, InboundSms, SmsMessage
from followups.placeholders import render_placeholders, task_placeholder_values
from followups.report_figures import hidden_customers_sql, period_figures

CLAIM_LAPSE = datetime.timedelta(minutes=30)  # a claim nobody touched for this long is free again


def call_windows_open(store: Store, at: datetime.time) -> bool:
    """Whether ``at`` is inside one of the store's call windows."""
    return (store.morning_call_start <= at < store.morning_call_end) or (
        store.afternoon_call_start <= at < store.afternoon_call_end
    )


# --- rules ------------------------------------------------------------------------------------


def rules_for_user(*, user, store_id: int | None = None) -> QuerySet[FollowupRule]:
    rules = scope_to_user_stores(FollowupRule.objects.select_related("store"), user)
    if store_id:
        rules = rules.filter(store_id=store_id)
    return rules.order_by("store__code", "code")


def rule_get_for_user(*, user, pk: int) -> FollowupRule:
    try:
        return rules_for_user(user=user).get(pk=pk)
    except (FollowupRule.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


# --- the queue --------------------------------------------------------------------------------


# The marketing rules' codes as an SQL list (fixed identifiers of RuleCode: no parameter needed).
_MARKETING_CODES_SQL = ", ".join(f"'{code}'" for code in sorted(str(code) for code in MARKETING_RULES))


def sms_allowed_sql(code_column: str) -> str:
    """Whether the customer ``cu`` may get the SMS of the rule in ``code_column`` now: not opted out,
    and the consent of the rule's purpose (``rule_consent_purpose``) not withdrawn. No parameters."""
    marketing = customer_sms_allowed_sql(purpose=ConsentPurpose.MARKETING, alias="cu")
    service = customer_sms_allowed_sql(purpose=ConsentPurpose.SERVICE, alias="cu")
    return f"(CASE WHEN {code_column} IN ({_MARKETING_CODES_SQL}) THEN {marketing} ELSE {service} END)"


def _visible_tasks(user) -> QuerySet[FollowupTask]:
    tasks = scope_to_user_stores(FollowupTask.objects.all(), user)
    return tasks.filter(customer_visibility_condition(user, prefix="customer__"))


# The queue's one order, for the list's rows and for the claim (no second copy of the rule): a
# task's place is (priority, work date, customer, id), the most urgent first; the claim walks the
# queue's tasks in QUEUE_ORDER (index followuptask_queue_order_idx) and takes the first callable
# one. A customer's row in the list ranks by its first task in that order among the tasks callable
# now (else among all its tasks): queue_rank() is (priority, work date) as one sortable number. So
# the first callable row of the list is the customer the claim takes.
QUEUE_ORDER = ("priority", "work_date", "customer_id", "id")
# The queue's open phone tasks as the condition of its partial indexes, written into the statements'
# text (crm.prepared.InText) so that the plan PostgreSQL keeps for them can walk those indexes.
_OPEN_IN_TEXT, _PHONE_IN_TEXT = InText(TaskStatus.OPEN), InText(Channel.PHONE)
_RANK_EPOCH = datetime.date(2000, 1, 1)
_RANK_DAYS = 100_000  # a work date in days since _RANK_EPOCH stays below this for 270 years


def queue_rank() -> ExpressionWrapper:
    """A task's (priority, work date) as one number ordered the same way (QUEUE_ORDER's first two)."""
    days = Func(F("work_date"), Value(_RANK_EPOCH), function="", arg_joiner=" - ", output_field=IntegerField())
    return ExpressionWrapper(
        Cast(F("priority"), BigIntegerField()) * Value(_RANK_DAYS) + days, output_field=BigIntegerField()
    )


def _queue_visible_tasks(user) -> QuerySet[FollowupTask]:
    """The tasks of the user's stores whose card the user may see, for the queue's reads: the card
    levels are applied as "not one of the few restricted cards hidden from the user"
    (customer_visible_to, an indexed anti-join) rather than as a test of every task's card, so no
    statement of the queue page or of the claim reads the whole customers table. Same rule as
    ``_visible_tasks``."""
    tasks = scope_to_user_stores(FollowupTask.objects.all(), user)
    return tasks.filter(customer_visible_to(user))


def queue_tasks(*, user, today: datetime.date, store_ids: list[int] | None = None) -> QuerySet[FollowupTask]:
    """The queue's tasks: open phone tasks of the user's stores due by ``today`` (overdue included),
    not assigned to a person (those are in the person's "My tasks"). ``store_ids``, some of the
    user's stores already read, narrows them to those without reading the user's stores again."""
    if store_ids is None:
        tasks = _queue_visible_tasks(user)
    else:
        tasks = FollowupTask.objects.filter(customer_visible_to(user), store_id__in=store_ids)
    return tasks.filter(status=_OPEN_IN_TEXT, channel=_PHONE_IN_TEXT, work_date__lte=today, assignee__isnull=True)


def queue_open_store_ids(stores: Iterable[Store], now: datetime.datetime) -> list[int]:
    """The stores of ``stores`` whose call window is open at ``now``."""
    local_time = timezone.localtime(now).time()
    return [store.pk for store in stores if call_windows_open(store, local_time)]


def queue_task_callable(*, now: datetime.datetime, open_store_ids: list[int]) -> Q:
    """A queue task callable now: its store's call window is open and its call-back time (also the
    15-minute pause of a call put back) has passed."""
    return Q(store_id__in=open_store_ids) & (Q(callback_at__isnull=True) | Q(callback_at__lte=now))


def queue_claimed_elsewhere(*, user, now: datetime.datetime) -> Q:
    """An open task someone else holds in a live call (a claim younger than CLAIM_LAPSE): its
    customer is not called by a second person at the same time."""
    # "Claimed by someone" spelt out, so the small partial index of claimed tasks
    # (followuptask_claimed_idx) answers it.
    held = Q(status=_OPEN_IN_TEXT, claimed_by__isnull=False, claimed_at__gte=now - CLAIM_LAPSE)
    return held & ~Q(claimed_by_id=user.pk)


def queue_claimable(*, user, now: datetime.datetime, open_store_ids: list[int]) -> QuerySet[FollowupTask]:
    """The queue's tasks the claim may take now, in QUEUE_ORDER: callable, not held by someone
    else, of a customer who may be called and whom nobody else is calling. ``open_store_ids``: the
    user's stores whose call window is open (``queue_open_store_ids``)."""
    busy = FollowupTask.objects.filter(queue_claimed_elsewhere(user=user, now=now), customer_id=OuterRef("customer_id"))
    return (
        queue_tasks(user=user, today=timezone.localdate(now), store_ids=open_store_ids)
        .filter(queue_task_callable(now=now, open_store_ids=open_store_ids))
        .filter(Q(claimed_by__isnull=True) | Q(claimed_by=user) | Q(claimed_at__lt=now - CLAIM_LAPSE))
        .filter(customer__do_not_call=False)
        .exclude(Exists(busy))
        .order_by(*QUEUE_ORDER)
    )


def queue_for_user(*, user, today: datetime.date, now: datetime.datetime | None = None, search: str = "",
                   stores: Iterable[Store] | None = None,
                   open_store_ids: list[int] | None = None) -> QuerySet:  # fmt: skip
    """Today's queue, one row per customer and store (overdue tasks included; a customer with calls
    in two of the user's stores has a row in each), in the queue's order (see QUEUE_ORDER). Rows of
    the tasks only (no join to the cards, so no statement reads them all):
    ``queue_rows_complete`` adds the page's names and whether each row is callable now.
    ``open_store_ids``: the stores whose call window is open (default: those of ``stores`` at ``now``)."""
    now = now or timezone.now()
    if open_store_ids is None:
        stores = user_active_stores(user) if stores is None else stores
        open_store_ids = queue_open_store_ids(stores, now)
    callable_now = queue_task_callable(now=now, open_store_ids=open_store_ids)
    tasks = queue_tasks(user=user, today=today)
    search = search.strip()
    if search:
        tasks = tasks.filter(
            Q(customer__customer_no__iexact=search) | Q(customer__name__startswith=search) | Q(code=search)
        )
    return (
        tasks.values("customer_id", "store_id")
        .annotate(
            task_count=Count("id"),
            callable_tasks=Count("id", filter=callable_now),
            rank=Coalesce(Min(queue_rank(), filter=callable_now), Min(queue_rank())),
            callback=Min("callback_at"),
        )
        .order_by("rank", "customer_id")
    )


# The queue page's list and figures compiled to SQL once per user, stores, search and page (as the
# claim's, services._claimable_sql): building and compiling these ORM queries cost the page more CPU
# than PostgreSQL spends running them, on every "save and next call". Only the times change between
# two requests, and they are parameters: each statement is compiled at two sentinel times, and the
# parameters that differ between them are the times (``_times``) swapped for the real ones on every
# request. A statement whose text differs, or holding a time in any other form, is never reused.
_COMPILED_SQL: dict[tuple, tuple[str, list, dict[int, int]]] = {}
_SENTINEL_NOW = datetime.datetime(2000, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)
_SECOND_SENTINEL_NOW = datetime.datetime(2001, 3, 5, 7, 9, 11, 131517, tzinfo=datetime.UTC)


def _times(now: datetime.datetime) -> list:
    """The times a queue statement may hold, derived from ``now``."""
    today = timezone.localdate(now)
    tomorrow = today + datetime.timedelta(days=1)
    return [now, now - CLAIM_LAPSE, today, tomorrow, local_midnight(today), local_midnight(tomorrow)]


def _compiled_twice(build, sentinels: dict | None = None) -> tuple[str, list, dict[int, int | str]] | None:
    """``build`` compiled at the two sentinel times (given ``sentinels`` for its other values): the
    SQL, the parameters, and which of them are which of ``_times`` ({position: index}) or which
    value ({position: name}); None when the two differ in any other way or a value is not found."""
    sentinels = sentinels or {}
    sql, params = build(_SENTINEL_NOW, **sentinels).query.sql_with_params()
    second_sql, second_params = build(_SECOND_SENTINEL_NOW, **sentinels).query.sql_with_params()
    if sql != second_sql or len(params) != len(second_params):
        return None
    times = list(zip(_times(_SENTINEL_NOW), _times(_SECOND_SENTINEL_NOW), strict=True))
    slots = {}
    for position, (first, second) in enumerate(zip(params, second_params, strict=True)):
        value = next((name for name, sentinel in sentinels.items()
                      if type(first) is type(sentinel) and first == sentinel), None)  # fmt: skip
        if value is not None:
            slots[position] = value
            continue
        if type(first) is type(second) and first == second:
            continue  # the same at both times: not a time
        found = (index for index, (one, other) in enumerate(times)
                 if (type(one), one, type(other), other) == (type(first), first, type(second), second))  # fmt: skip
        index = next(found, None)
        if index is None:
            return None
        slots[position] = index
    if set(sentinels) - set(slots.values()):
        return None
    return sql, list(params), slots


@contextmanager
def _compiled_at(key: tuple, now: datetime.datetime, build, **values):
    """A cursor that has run the queryset ``build(now, **values)``, compiled once per ``key`` (which
    names everything the statement depends on but the time and ``values``: IDs and lists of IDs)
    and prepared on the connection (``crm.prepared``); a statement that cannot be reused is
    compiled and run as Django would, every time."""
    if key not in _COMPILED_SQL:
        sentinels = {name: read_sentinel(value, index) for index, (name, value) in enumerate(values.items())}
        compiled = _compiled_twice(build, sentinels)
        if compiled is None:  # a time or a value of another form: compiled every time, not prepared
            with connection.cursor() as cursor:
                prepared.execute(cursor, *build(now, **values).query.sql_with_params(), reused=False)
                yield cursor
            return
        if len(_COMPILED_SQL) > 1000:
            _COMPILED_SQL.clear()
        _COMPILED_SQL[key] = compiled
    sql, params, slots = _COMPILED_SQL[key]
    times = _times(now)
    params = [
        param if position not in slots else times[slot] if isinstance(slot := slots[position], int) else values[slot]
        for position, param in enumerate(params)
    ]
    with connection.cursor() as cursor:
        prepared.execute(cursor, sql, params)
        yield cursor


def queue_current_call_customer(*, user, now: datetime.datetime) -> int | None:
    """The customer of the agent's live queue call (a claim younger than CLAIM_LAPSE, of today's
    queue: not a call opened from My tasks), if any; compiled once per agent (``_compiled_at``)."""

    def build(at: datetime.datetime) -> QuerySet:
        return (
            FollowupTask.objects.filter(
                claimed_by=user,
                status=TaskStatus.OPEN,
                channel=Channel.PHONE,
                claimed_at__gte=at - CLAIM_LAPSE,
                work_date__lte=timezone.localdate(at),
                assignee__isnull=True,  # a call opened from My tasks is not the queue's
            )
            .values_list("customer_id", flat=True)
            .order_by("pk")[:1]
        )

    with _compiled_at(("current", user.pk), now, build) as cursor:
        row = cursor.fetchone()
    return row[0] if row else None


def _user_key(user) -> tuple:
    """What of the user the queue's statements depend on, besides the time."""
    return (user.pk, user.is_superuser, tuple(visible_store_ids(user) or ()), visible_store_ids(user) is None)


def queue_page(*, user, now: datetime.datetime, stores: list[Store], search: str, number: int, per_page: int,
               rows_in_all: int | None = None) -> list[dict]:  # fmt: skip
    """One page of ``queue_for_user`` (``number`` from 1) as dicts, each with ``total``, the number of
    rows of the whole list. Without a search, ``rows_in_all`` (``queue_summary``'s ``rows``, counted
    in the figures' own pass over the queue) is that number and the page is read by walking the
    queue's index in its order (``_queue_walk``): the first page reads a few dozen tasks, not the
    whole queue grouped by customer. With a search (a few tasks), the list is grouped and counted
    at once (``COUNT(*) OVER ()``)."""
    open_store_ids = queue_open_store_ids(stores, now)
    bottom = (number - 1) * per_page
    walk = not search and rows_in_all is not None

    def build(at: datetime.datetime) -> QuerySet:
        if walk:
            return _queue_walk(user=user, now=at, open_store_ids=open_store_ids)[bottom : bottom + per_page]
        rows = queue_for_user(user=user, today=timezone.localdate(at), now=at, search=search,
                              open_store_ids=open_store_ids)  # fmt: skip
        return rows.annotate(total=Window(Count("*")))[bottom : bottom + per_page]

    key = ("page", *_user_key(user), walk, tuple(open_store_ids), search, bottom, per_page)
    with _compiled_at(key, now, build) as cursor:
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if walk:
        for row in rows:
            row["total"] = rows_in_all
    return rows


def _queue_walk(*, user, now: datetime.datetime, open_store_ids: list[int]) -> QuerySet:
    """The rows of ``queue_for_user`` (no search), in its order, read by walking the queue's tasks
    in QUEUE_ORDER and keeping the task that places each row (a customer's tasks of one store):
    its first callable task, or its first task when none is callable. That task's rank is the
    row's (``queue_for_user``'s "first callable task, else first task"), and rows come out in the
    list's order, (rank, customer): the walk stops after the page's rows, reading the tasks before
    them and, for each, the few open tasks of its customer (followuptask_customer_idx)."""
    today = timezone.localdate(now)
    callable_now = queue_task_callable(now=now, open_store_ids=open_store_ids)
    same_row = FollowupTask.objects.filter(
        customer_id=OuterRef("customer_id"),
        store_id=OuterRef("store_id"),
        status=_OPEN_IN_TEXT,
        channel=_PHONE_IN_TEXT,
        work_date__lte=today,
        assignee__isnull=True,
    )
    before = (
        Q(priority__lt=OuterRef("priority"))
        | Q(priority=OuterRef("priority"), work_date__lt=OuterRef("work_date"))
        | Q(priority=OuterRef("priority"), work_date=OuterRef("work_date"), id__lt=OuterRef("id"))
    )
    callable_of_row = same_row.filter(callable_now)
    places_row = (callable_now & ~Exists(callable_of_row.filter(before))) | (
        ~callable_now & ~Exists(callable_of_row) & ~Exists(same_row.filter(before))
    )

    def of_row(aggregate) -> Subquery:
        return Subquery(same_row.order_by().values("customer_id").annotate(value=aggregate).values("value"))

    return (
        queue_tasks(user=user, today=today)
        .filter(places_row)
        .order_by(*QUEUE_ORDER)
        .values("customer_id", "store_id")
        .annotate(
            task_count=of_row(Count("id")),
            callable_tasks=of_row(Count("id", filter=callable_now)),
            rank=queue_rank(),
            callback=of_row(Min("callback_at")),
        )
    )


def queue_rows_complete(*, user, rows: list[dict], stores: Iterable[Store], now: datetime.datetime) -> list[dict]:
    """The page's rows with their customer's name and number, store name, priority and date (from the
    rank) and ``callable``: callable tasks, a customer who may be called and whom nobody else is
    calling — exactly what the claim takes. One query for the page, whatever its length."""
    store_names = {store.pk: store.name for store in stores}
    customer_ids = [row["customer_id"] for row in rows]
    details = {}
    table = FollowupTask._meta.db_table

    def build(at: datetime.datetime, *, customer_ids: list[int]) -> QuerySet:
        of_page = RawSQL(f'"{table}"."customer_id" = ANY(%s)', [customer_ids], output_field=BooleanField())
        return (
            FollowupTask.objects.filter(of_page, status=TaskStatus.OPEN)
            .values("customer_id", "customer__name", "customer__customer_no", "customer__do_not_call")
            .annotate(busy=Count("id", filter=queue_claimed_elsewhere(user=user, now=at)))
            .order_by()
        )

    if customer_ids:  # compiled once per agent (the page's customers an array parameter)
        with _compiled_at(("rows", user.pk), now, build, customer_ids=customer_ids) as cursor:
            names = [column.name for column in cursor.description]
            details = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    for row in rows:
        detail = details.get(row["customer_id"], {})
        priority, days = divmod(row["rank"], _RANK_DAYS)
        row.update(
            customer__name=detail.get("customer__name", ""),
            customer__customer_no=detail.get("customer__customer_no", ""),
            store__name=store_names.get(row["store_id"], ""),
            priority=priority,
            since=_RANK_EPOCH + datetime.timedelta(days=days),
            callable=bool(row["callable_tasks"]) and not detail.get("customer__do_not_call") and not detail.get("busy"),
        )
    return rows


def queue_summary(*, user, today: datetime.date, now: datetime.datetime | None = None) -> dict:
    """The queue's figures (the queue's tasks only: assigned ones are in their person's list), the
    number of rows of the queue list (``rows``, for its pages: ``queue_page``), and whether the
    user is in a call (``in_call``). One statement; for an agent of some stores, over
    two indexes: the stores' open phone tasks (followuptask_store_queue_idx) and those they
    completed today, a range on ``completed_at`` from local midnight to the next
    (followuptask_store_done_idx). For an agent of the whole group the planner reads the table
    (the million-owner bench: 57,881 tasks)."""
    now = now or timezone.now()
    if today != timezone.localdate(now):  # another day than now's: not the page's figures, compiled afresh
        return _queue_summary_rows(user, today, now).values(*_SUMMARY)[0]

    def build(at: datetime.datetime) -> QuerySet:
        return _queue_summary_rows(user, timezone.localdate(at), at).values(*_SUMMARY)

    with _compiled_at(("summary", *_user_key(user)), now, build) as cursor:
        names = [column.name for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


# A row of the queue list (a customer's tasks of one store) as one bigint, the customer's ID times
# 2**32 plus the store's: counted distinct, it sorts several times faster than the pair as a ROW
# or a numeric (under load the figures' statement took twice as long with a numeric). Distinct
# for store IDs below 2**32; a customer ID past 2**31 would make PostgreSQL refuse the statement
# ("bigint out of range"), never count wrong.
_ROW_NUMBER = Func(F("customer_id"), F("store_id"), template="(%(expressions)s)",
                   arg_joiner=f" * {2**32} + ", output_field=BigIntegerField())  # fmt: skip
_SUMMARY = ("open", "done_today", "tomorrow", "in_call", "rows")


def _queue_summary_rows(user, today: datetime.date, now: datetime.datetime) -> QuerySet:
    """``queue_summary``'s statement: one row of figures (no GROUP BY, so one row even without tasks)."""
    tomorrow = today + datetime.timedelta(days=1)
    midnight = local_midnight(today)
    next_midnight = local_midnight(tomorrow)
    done_today = Q(completed_at__gte=midnight, completed_at__lt=next_midnight)
    tasks = _queue_visible_tasks(user).filter(channel=_PHONE_IN_TEXT, assignee__isnull=True)
    tasks = tasks.filter(Q(status=_OPEN_IN_TEXT, work_date__lte=tomorrow) | done_today)
    return (
        tasks.annotate(one=Value(1))
        .values("one")
        .annotate(
            open=Count("id", filter=Q(status=_OPEN_IN_TEXT, work_date__lte=today)),
            done_today=Count("id", filter=done_today),
            tomorrow=Count("id", filter=Q(status=_OPEN_IN_TEXT, work_date=tomorrow)),
            # The queue list's rows, for its pages (queue_page).
            rows=Count(_ROW_NUMBER, distinct=True, filter=Q(status=_OPEN_IN_TEXT, work_date__lte=today)),
            in_call=Count(
                "id", filter=Q(status=_OPEN_IN_TEXT, claimed_by_id=user.pk, claimed_at__gte=now - CLAIM_LAPSE)
            ),
        )
        .order_by()
    )


def _assigned_tasks(*, user) -> QuerySet[FollowupTask]:
    """The open assigned phone tasks ``user`` works from "My tasks": their own; a manager (who reads
    the follow-up reports) also those of every person of the manager's stores. The card levels as
    the queue reads them: tested on every task's card, a group manager's 1,250 assigned calls were
    hash-joined with all million cards (430 ms; 10-17 ms so)."""
    tasks = _queue_visible_tasks(user).filter(status=TaskStatus.OPEN, channel=Channel.PHONE, assignee__isnull=False)
    if not user.has_perm("followups.view_followup_reports"):
        tasks = tasks.filter(assignee=user)
    return tasks


def my_tasks_for_user(*, user, today: datetime.date, search: str = "") -> QuerySet:
    """ "My tasks": today's open assigned phone tasks (overdue included), one row per customer and
    person (several tasks of a customer are one call), most urgent first. ``search`` narrows them
    to a customer number, a name prefix, a plate or a rule code."""
    tasks = _assigned_tasks(user=user).filter(work_date__lte=today)
    search = search.strip()
    if search:
        tasks = tasks.filter(
            Q(customer__customer_no__iexact=search)
            | Q(customer__name__startswith=search)
            | Q(vehicle__plate_no__iexact=search)
            | Q(code=search)
        )
    return (
        tasks.values(
            "customer_id", "customer__name", "customer__customer_no", "store_id", "store__name", "assignee_id",
            "assignee__username", "assignee__last_name", "assignee__first_name",
        )
        .annotate(
            task_count=Count("id"), priority=Min("priority"), since=Min("work_date"), callback=Min("callback_at"),
            codes=ArrayAgg("code", distinct=True, order_by="code"),
        )
        .order_by("priority", "since", "customer_id", "assignee_id")
    )  # fmt: skip


def my_tasks_count(*, user, today: datetime.date) -> int:
    """How many of the user's own assigned calls are due today (the landing page's figure)."""
    return (
        _visible_tasks(user)
        .filter(status=TaskStatus.OPEN, channel=Channel.PHONE, assignee=user, work_date__lte=today)
        .values("customer_id")
        .distinct()
        .count()
    )


def assigned_open_by_person(*, user, today: datetime.date) -> list[dict]:
    """For the managers' report: per person, the open assigned tasks due by today, those overdue
    (due before today) and those due later."""
    return list(
        _queue_visible_tasks(user)  # the card levels as an anti-join: no read of every card (see above)
        .filter(status=TaskStatus.OPEN, channel=Channel.PHONE, assignee__isnull=False)
        .values("assignee_id", "assignee__username", "assignee__last_name", "assignee__first_name")
        .annotate(
            due=Count("id", filter=Q(work_date__lte=today)),
            overdue=Count("id", filter=Q(work_date__lt=today)),
            later=Count("id", filter=Q(work_date__gt=today)),
        )
        .order_by("assignee__username")
    )


def call_script(task: FollowupTask) -> str:
    """The rule's call script with the task's fields filled in (``followups.placeholders``, as in
    the SMS). A manager writes the script, so any other brace (a typo, ``{0}``) is left as it is
    rather than breaking the call page."""
    return render_placeholders(task.rule.script, task_placeholder_values(task))


def call_panel_history(*, customer_id: int, limit: int = 5) -> list[CallAttempt]:
    """The call panel's earlier calls, newest first: only their time, outcome and score, which the
    panel shows (``call_history`` joins each call's task, rule and agent for the card's timeline)."""

    def build(*, customer_id: int) -> QuerySet[CallAttempt]:
        attempts = CallAttempt.objects.filter(customer_id=customer_id).only("at", "outcome", "satisfaction")
        return attempts.order_by("-at")[:limit]

    return compiled_read(("panel history", limit), build, customer_id=customer_id)


def call_history(*, customer_id: int, limit: int = 10) -> list[CallAttempt]:
    """The customer's calls, newest first, with their task's rule and agent (the card's timeline):
    compiled once per ``limit``."""

    def build(*, customer_id: int) -> QuerySet[CallAttempt]:
        attempts = CallAttempt.objects.filter(customer_id=customer_id).select_related("task__rule", "agent")
        return attempts.order_by("-at")[:limit]

    return compiled_read(("call history", limit), build, customer_id=customer_id)


# --- preview and reports ----------------------------------------------------------------------


def queue_preview(*, user, day: datetime.date, calendar: WorkingCalendar | None = None) -> list[dict]:
    """What the queue of ``day`` will hold, per store and rule: the tasks the rules would generate
    with today's data and settings, and the tasks already rolled over to that day.

    Counted here and now (``queue_preview_counts``); the page reads the same counts from the cache,
    counted by a task (followups/queue_preview.py)."""
    calendar = calendar or working_calendar()
    rules = list(rules_for_user(user=user))
    generated = queue_preview_counts(rules=rules, day=day, calendar=calendar)
    return queue_preview_rows(rules=rules, generated=generated, rolled_over=queue_rolled_over(user=user, day=day))


def rule_generates(rule: FollowupRule) -> bool:
    """Whether the nightly generation runs ``rule``: switched on, in an active store (generation
    leaves inactive stores out whole, so their rules make nothing however they are set)."""
    return rule.is_enabled and rule.store.is_active


def queue_preview_counts(
    *, rules: Iterable[FollowupRule], day: datetime.date, calendar: WorkingCalendar, progress=None
) -> dict[tuple[int, str], int]:
    """The tasks ``rules`` would generate on ``day`` (those that generate, ``rule_generates``):
    {(store ID, rule code): count},
    the pairs with none left out. The one source of the preview's new-task numbers, whether counted
    in a request (``queue_preview``) or by the preview's task.

    One statement per rule code whatever the number of stores (one per code, channel and
    parameters: stores whose rule differs get their own), each the SELECT that generation inserts,
    over the rules' stores at once and grouped by store (``followups.generation.preview_statements``).
    ``progress(done, of)``, when given, is called before the first statement and after each."""
    statements = preview_statements([rule for rule in rules if rule_generates(rule)], day=day, calendar=calendar)
    generated: dict[tuple[int, str], int] = {}
    if progress is not None:
        progress(0, len(statements))
    if not statements:
        return generated
    with transaction.atomic(), connection.cursor() as cursor:
        # Generation's statements, run as generation runs them: compiling them (JIT) costs more than
        # it saves (0.6 s of the maintenance count over ten stores).
        cursor.execute("SET LOCAL jit = off")
        for done, (code, sql, params) in enumerate(statements, start=1):
            cursor.execute(sql, params)
            generated.update(((store_id, code), count) for store_id, count in cursor.fetchall())
            if progress is not None:
                progress(done, len(statements))
    return generated


def queue_rolled_over(*, user, day: datetime.date) -> dict[tuple[int, str], int]:
    """The open tasks of the user's stores and visible cards already moved to ``day`` (rolled over
    or called back), per (store ID, rule code). One query."""
    return {
        (row["store_id"], row["code"]): row["count"]
        for row in _visible_tasks(user)
        .filter(status=TaskStatus.OPEN, work_date=day)
        .exclude(queue_date=day)
        .values("store_id", "code")
        .annotate(count=Count("id"))
    }


def queue_preview_rows(
    *, rules: Iterable[FollowupRule], generated: dict[tuple[int, str], int], rolled_over: dict[tuple[int, str], int]
) -> list[dict]:
    """The preview's rows, one per rule: its new tasks (none for a rule switched off or of an
    inactive store), the tasks rolled over and their total."""
    rows = []
    for rule in rules:
        key = (rule.store_id, rule.code)
        new = generated.get(key, 0) if rule_generates(rule) else 0
        rolled = rolled_over.get(key, 0)
        rows.append({"rule": rule, "generated": new, "rolled_over": rolled, "total": new + rolled})
    return rows


def completion_report(*, user, start: datetime.date, end: datetime.date) -> dict:
    """Per rule and per agent: tasks due, calls made, reached, satisfied (score ≥ 4), dissatisfied.
    Read from the per-day figures (followups/report_figures.py), one query."""
    return _completion(period_figures(user=user, store_ids=visible_store_ids(user), start=start, end=end))


def _completion(figures: dict) -> dict:
    labels = dict(RuleCode.choices)
    keys = ("made", "reached", "satisfied", "dissatisfied")
    by_rule = []
    for code in sorted(set(figures["rule"]) | set(figures["due"])):
        calls = figures["rule"].get(code, {})
        by_rule.append(
            {"task__code": code, "label": labels.get(code, code), "due": figures["due"].get(code, 0),
             **{key: calls.get(key, 0) for key in keys}}
        )  # fmt: skip
    by_agent = [
        {name: row[name] for name in ("agent_id", "agent__username", "agent__last_name", "agent__first_name", *keys)}
        for row in figures["agent"]
    ]
    return {"by_rule": by_rule, "by_agent": by_agent}


# A call "reaches" the owner when its outcome is one of these (a call that books a visit reached the
# owner too; "booked" is compared as a string so the report holds before that outcome exists).
REACHING_OUTCOMES = (str(CallOutcome.REACHED), "booked")
# A repair order of the vehicle opened this many days after the reaching call (the call's day
# included) counts as brought back by the call.
FUNNEL_REPAIR_ORDER_DAYS = 7


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def call_funnel_report(*, user, start: datetime.date, end: datetime.date) -> dict:
    """The calls' funnel of a period, per rule and per agent: phone tasks reached (their first
    reaching call in the period, by whoever made it), booked (an appointment made from the task's
    call), kept (that appointment kept), and the repair orders of the task's vehicle opened within
    FUNNEL_REPAIR_ORDER_DAYS days after the reaching call, with their revenue (sum of the orders'
    totals; an order counts once per rule and once per agent). The rates are booked/reached,
    kept/booked and orders/reached. One query.

    It reads the period's reaching calls only (the ``at`` index), keeps each task's first of them,
    and that call is the task's first reaching one when no reaching call of the task came before it
    (a probe of the task's index per task); a reached task's booking is a probe of the bookings'
    reference index (appointment_call_ref_idx), its orders one of the vehicle's; the cards the
    user may not see are the few restricted ones left out (``hidden_customers_sql``), not a check
    of each call's card."""
    store_ids = visible_store_ids(user)
    hidden_sql, params = hidden_customers_sql(user)
    store_sql = "" if store_ids is None else "AND t.store_id = ANY(%(store_ids)s)"
    booked_sql = appointment_booked_from_task_sql(alias="ap", task_id_sql="r.task_id")
    params = {
        **params,
        "store_ids": store_ids,
        "outcomes": list(REACHING_OUTCOMES),
        "phone": str(Channel.PHONE),
        "start": start,
        "end": end,
        "days": FUNNEL_REPAIR_ORDER_DAYS,
        "tz": settings.TIME_ZONE,
    }
    statement = f"""
        WITH hidden AS MATERIALIZED ({hidden_sql}), period_first AS MATERIALIZED (
            -- Each task's first reaching call of the period, the period read once from the
            -- reaching calls' index (callattempt_reach_at_idx, covering): one candidate per task.
            SELECT DISTINCT ON (a.task_id) a.id, a.task_id, a.agent_id, a.at
            FROM {CallAttempt._meta.db_table} a
            WHERE a.at >= %(start)s::timestamp AT TIME ZONE %(tz)s
              AND a.at < (%(end)s::date + 1)::timestamp AT TIME ZONE %(tz)s
              AND a.outcome = ANY(%(outcomes)s)
            ORDER BY a.task_id, a.at, a.id
        ), first_reach AS (
            SELECT a.task_id, a.agent_id, (a.at AT TIME ZONE %(tz)s)::date AS call_day,
                   t.code, t.vehicle_id
            FROM period_first a
            -- Each candidate's task by its key (OFFSET 0: never a merge with every task, which the
            -- planner chose when it misjudged how many candidates survive the probe below).
            CROSS JOIN LATERAL (SELECT t.code, t.vehicle_id, t.customer_id FROM {FollowupTask._meta.db_table} t
                                WHERE t.id = a.task_id AND t.channel = %(phone)s {store_sql} OFFSET 0) t
            -- NOT IN (the hidden cards' keys are never NULL): a hashed look-up per task, not a
            -- nested loop over the hidden cards the planner would take for one row.
            WHERE t.customer_id NOT IN (SELECT hidden.id FROM hidden)
              -- The task's first reaching call ever: none before it (callattempt_task_reach_idx).
              AND NOT EXISTS (SELECT 1 FROM {CallAttempt._meta.db_table} earlier
                              WHERE earlier.task_id = a.task_id AND earlier.outcome = ANY(%(outcomes)s)
                                AND (earlier.at < a.at OR (earlier.at = a.at AND earlier.id < a.id)) OFFSET 0)
        ), reached AS (
            -- Probes of the bookings' reference index (appointment_call_ref_idx), or one hash of
            -- the call bookings when the planner finds that cheaper: EXISTS allows both.
            SELECT r.*,
                   EXISTS (SELECT 1 FROM {APPOINTMENT_TABLE} ap WHERE {booked_sql}) AS booked,
                   EXISTS (SELECT 1 FROM {APPOINTMENT_TABLE} ap WHERE {booked_sql} AND ap.kept_at IS NOT NULL) AS kept
            FROM first_reach r
        ), orders AS (
            SELECT DISTINCT r.code, r.agent_id, ro.id AS order_id, COALESCE(ro.total_amount, 0) AS total
            FROM reached r JOIN {REPAIR_ORDER_TABLE} ro ON ro.vehicle_id = r.vehicle_id
            WHERE ro.open_date BETWEEN r.call_day AND r.call_day + %(days)s
        )
        SELECT 'rule', r.code, NULL::bigint, '', '', count(*), count(*) FILTER (WHERE r.booked),
               count(*) FILTER (WHERE r.kept),
               (SELECT count(DISTINCT o.order_id) FROM orders o WHERE o.code = r.code),
               (SELECT COALESCE(sum(d.total), 0) FROM (SELECT DISTINCT o.order_id, o.total FROM orders o
                                                       WHERE o.code = r.code) d)
        FROM reached r GROUP BY r.code
        UNION ALL
        SELECT 'agent', NULL, r.agent_id, COALESCE(u.username, ''),
               COALESCE(NULLIF(trim(u.last_name || u.first_name), ''), u.username, ''),
               count(*), count(*) FILTER (WHERE r.booked),
               count(*) FILTER (WHERE r.kept),
               (SELECT count(DISTINCT o.order_id) FROM orders o WHERE o.agent_id IS NOT DISTINCT FROM r.agent_id),
               (SELECT COALESCE(sum(d.total), 0) FROM (SELECT DISTINCT o.order_id, o.total FROM orders o
                                                       WHERE o.agent_id IS NOT DISTINCT FROM r.agent_id) d)
        FROM reached r LEFT JOIN {User._meta.db_table} u ON u.id = r.agent_id
        GROUP BY r.agent_id, u.username, u.last_name, u.first_name
    """
    # A report page reads from the replica when one is configured (crm/replicas.py): so does this SQL.
    with connections[router.db_for_read(CallAttempt)].cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    return funnel_figures(rows)


def funnel_figures(rows) -> dict:
    """The funnel statement's rows (dimension, code, agent, username, name, reached, booked, kept,
    orders, revenue) as the report's per-rule and per-agent figures with their rates."""
    labels = dict(RuleCode.choices)
    by_rule, by_agent = [], []
    for dimension, code, agent_id, username, name, reached, booked, kept, orders, revenue in rows:
        figures = {
            "reached": reached,
            "booked": booked,
            "kept": kept,
            "orders": orders,
            "revenue": revenue,
            "booked_rate": _rate(booked, reached),
            "kept_rate": _rate(kept, booked),
            "order_rate": _rate(orders, reached),
        }
        if dimension == "rule":
            by_rule.append({"code": code, "label": str(labels.get(code, code)), **figures})
        else:
            by_agent.append({"agent_id": agent_id, "username": username, "name": name, **figures})
    by_rule.sort(key=lambda row: row["code"])
    by_agent.sort(key=lambda row: (row["username"] == "", row["username"]))
    return {"by_rule": by_rule, "by_agent": by_agent}


def call_summary(*, user, start: datetime.date, end: datetime.date) -> dict:
    """The call-summary report (回访总结报告) of a period: outcomes, satisfaction, dissatisfied customers.
    The figures come from the per-day figures (one query), the dissatisfied calls from their index."""
    figures = period_figures(user=user, store_ids=visible_store_ids(user), start=start, end=end)
    return _summary(figures, dissatisfied=dissatisfied_calls(user=user, start=start, end=end))


def dissatisfied_calls(*, user, start: datetime.date, end: datetime.date, limit: int = 100) -> list[CallAttempt]:
    """The period's dissatisfied calls the user may see, newest first (callattempt_dissatisfied_idx)."""
    return list(
        CallAttempt.objects.filter(
            at__gte=local_midnight(start),
            at__lt=local_midnight(end + datetime.timedelta(days=1)),
            is_dissatisfied=True,
            task__in=_visible_tasks(user),
        )
        .select_related("customer", "task", "agent")
        .order_by("-at")[:limit]
    )


def _summary(figures: dict, *, dissatisfied: list[CallAttempt]) -> dict:
    outcome_labels = dict(CallOutcome.choices)
    outcomes = [
        {"outcome": outcome, "label": outcome_labels.get(outcome, outcome), "count": count}
        for outcome, count in sorted(figures["outcome"].items())
    ]
    satisfaction = [0, 0, 0, 0, 0]
    for calls in figures["rule"].values():
        satisfaction = [total + count for total, count in zip(satisfaction, calls["scores"], strict=True)]
    daily = [
        {"at__date": day, "made": calls["made"], "reached": calls["reached"]}
        for day, calls in sorted(figures["day"].items())
    ]
    total = sum(calls["made"] for calls in figures["rule"].values())
    reached = sum(row["count"] for row in outcomes if row["outcome"] in REACHED_OUTCOMES)
    scored = sum(satisfaction)
    score_sum = sum(score * count for score, count in enumerate(satisfaction, start=1))
    return {
        "total": total,
        "reached": reached,
        "reach_rate": round(100 * reached / total, 1) if total else 0,
        "average_satisfaction": round(score_sum / scored, 2) if scored else None,
        "outcomes": outcomes,
        "satisfaction": satisfaction,
        "daily": daily,
        "dissatisfied": dissatisfied,
    }


def followup_reports(*, user, start: datetime.date, end: datetime.date) -> dict:
    """The follow-up reports page's figures of a period: {"completion": completion_report,
    "summary": call_summary, "funnel": call_funnel_report}, in three queries whatever the data's size
    (the per-day figures, the dissatisfied calls, the funnel) after the user's stores."""
    figures = period_figures(user=user, store_ids=visible_store_ids(user), start=start, end=end)
    return {
        "completion": _completion(figures),
        "summary": _summary(figures, dissatisfied=dissatisfied_calls(user=user, start=start, end=end)),
        "funnel": call_funnel_report(user=user, start=start, end=end),
    }


def sms_list_for_day(*, user, day: datetime.date, search: str = "") -> QuerySet[FollowupTask]:
    """The day's SMS tasks (what a dealer uploads to its own SMS platform), with their messages;
    ``search`` narrows them to a customer number, a name prefix or a rule code."""
    tasks = _visible_tasks(user).filter(channel=Channel.SMS, queue_date=day)
    # An open task is listed (and uploaded) only while the customer may still get it: not after an
    # opt-out or a withdrawn consent since it was generated.
    table = FollowupTask._meta.db_table
    may_send = sms_allowed_sql(f'"{table}"."code"')
    sendable = RawSQL(
        f'"{table}"."status" <> %s OR EXISTS (SELECT 1 FROM {CUSTOMER_TABLE} cu'
        f' WHERE cu.id = "{table}"."customer_id" AND {may_send})',
        [TaskStatus.OPEN.value],
        output_field=BooleanField(),
    )
    tasks = tasks.filter(sendable)
    search = search.strip()
    if search:
        tasks = tasks.filter(
            Q(customer__customer_no__iexact=search) | Q(customer__name__startswith=search) | Q(code=search)
        )
    return _sms_list_rows(tasks)


def _sms_list_rows(tasks: QuerySet[FollowupTask]) -> QuerySet[FollowupTask]:
    """The SMS list's related rows and order (the page, its CSV and an approved export's download)."""
    return tasks.select_related("customer", "vehicle", "store", "rule", "sms").order_by(
        "store__code", "code", "customer__customer_no", "id"
    )


def export_rows(*, day: datetime.date) -> list[tuple]:
    """docs/followups.md contract: tasks whose queue date is D as (rule, customer_no, vin, channel, due_date),
    sorted by rule, customer_no, vin."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT t.code, cu.customer_no, COALESCE(v.vin, ''), t.channel, t.queue_date
            FROM followups_followuptask t
            JOIN {CUSTOMER_TABLE} cu ON cu.id = t.customer_id
            LEFT JOIN {VEHICLE_TABLE} v ON v.id = t.vehicle_id
            WHERE t.queue_date = %s
            ORDER BY t.code, cu.customer_no, COALESCE(v.vin, '')
            """,
            [day],
        )
        return cursor.fetchall()


def customer_open_tasks(*, customer_id: int) -> list[FollowupTask]:
    return list(
        FollowupTask.objects.filter(customer_id=customer_id, status=TaskStatus.OPEN)
        .select_related("vehicle")
        .order_by("work_date", "priority")[:20]
    )


def customer_sms(*, customer_id: int, limit: int = 50) -> list[SmsMessage]:
    """The customer's SMS, newest first, with their campaign: compiled once per ``limit``."""

    def build(*, customer_id: int) -> QuerySet[SmsMessage]:
        messages = SmsMessage.objects.filter(customer_id=customer_id).select_related("campaign")
        return messages.order_by("-created_at")[:limit]

    return compiled_read(("customer sms", limit), build, customer_id=customer_id)


def customer_sms_replies(*, customer_id: int, limit: int = 50) -> list[InboundSms]:
    """The customer's SMS replies (T/TD, Y, a score…) with what they did, newest first."""

    def build(*, customer_id: int) -> QuerySet[InboundSms]:
        return InboundSms.objects.filter(customer_id=customer_id).order_by("-received_at", "-id")[:limit]

    return compiled_read(("customer sms replies", limit), build, customer_id=customer_id)


def sms_tasks_by_id(*, user, ids: list[int]) -> QuerySet[FollowupTask]:
    """The SMS tasks of ``ids`` the user may still see (an approved export of the day's SMS list), in
    the list's order."""
    return _sms_list_rows(_visible_tasks(user).filter(pk__in=ids, channel=Channel.SMS))


def message_outcomes(*, code: str, detail_key: str, detail_value: str):
    """How many customers the ``code`` tasks whose detail holds ``detail_key`` = ``detail_value``
    named, how many an SMS reached the gateway for, and how many the provider reported delivered
    (customers.message_outcomes; the club's event report asks for its invitations). One query."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(DISTINCT t.customer_id),
                   count(DISTINCT t.customer_id) FILTER (WHERE m.status = 'sent'),
                   count(DISTINCT t.customer_id) FILTER (WHERE m.status = 'sent' AND m.delivery_status = 'delivered')
            FROM {FollowupTask._meta.db_table} t
            LEFT JOIN {SmsMessage._meta.db_table} m ON m.task_id = t.id
            WHERE t.code = %s AND t.detail ->> %s = %s
            """,
            [code, detail_key, detail_value],
        )
        tasks, sent, delivered = cursor.fetchone()
    return MessageOutcome(tasks=tasks, sent=sent, delivered=delivered)
