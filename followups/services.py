"""Writes of the follow-up engine: rules, generation, the call queue's claims and outcomes, SMS."""

import datetime
import logging
import re
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import BooleanField, Count, Exists, F, Max, OuterRef, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Greatest
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import prepared
from crm.calendar import WorkingCalendar
from crm.compiled_reads import compiled_read
from crm.exceptions import ApplicationError
from crm.models import Store
from crm.scoping import sees_all_stores, user_active_stores
from crm.selectors import staff_still_in_store_sql, working_calendar
from customers.choices import AppointmentSource, ReplyAction, SatisfactionSource, SatisfactionVerdict
from customers.models import Appointment, Customer, Vehicle
from customers.satisfaction import DISSATISFIED_SCORE, department_for_rule, satisfaction_result_record
from customers.selectors import CUSTOMER_TABLE, VEHICLE_TABLE, customer_get_for_user, customers_with_mobile
from customers.services.appointments import appointment_book
from customers.sms_replies import Reply, reply_resolve
from followups.campaigns import campaign_statuses_refresh, queued_campaign_message_allowed_sql
from followups.choices import (
    CallOutcome,
    Channel,
    DeliveryStatus,
    RuleCode,
    SmsStatus,
    TaskStatus,
)
from followups.defaults import DEFAULT_RULES, SMS_OPT_OUT_TEXT
from followups.gateways import GatewayError, get_gateway
from followups.generation import MOBILE_PATTERN, insert_statement
from followups.models import CallAttempt, FollowupRule, FollowupTask, GenerationRun, InboundSms, SmsMessage
from followups.placeholders import render_placeholders_sql
from followups.questionnaires import answers_are_dissatisfied, answers_statement_lines, answers_typed
from followups.replies import REPLY_WINDOW, normalise_reply
from followups.report_figures import report_figures_after_call, report_figures_after_generation
from followups.selectors import (
    CLAIM_LAPSE,
    QUEUE_ORDER,
    queue_claimable,
    queue_current_call_customer,
    queue_open_store_ids,
    sms_allowed_sql,
)

logger = logging.getLogger(__name__)

PUT_BACK_PAUSE = datetime.timedelta(minutes=15)  # a call put back is offered again after this
MAX_CALL_ATTEMPTS = 3
SMS_BATCH_SIZE = 20
SMS_MAX_SEND_ATTEMPTS = 5
SMS_LATE_DAYS = 3  # an SMS task missed by an outage is still sent this many days late, not later


# --- rules ------------------------------------------------------------------------------------


def followup_rules_ensure_defaults(*, stores: Iterable[Store] | None = None) -> int:
    """Give every store (or ``stores``) the default rules it lacks; returns how many were added."""
    stores = list(stores if stores is not None else Store.objects.all())
    existing = set(FollowupRule.objects.filter(store__in=stores).values_list("store_id", "code"))
    missing = [
        FollowupRule(store=store, code=code, **defaults)
        for store in stores
        for code, defaults in DEFAULT_RULES.items()
        if (store.pk, code) not in existing
    ]
    created = FollowupRule.objects.bulk_create(missing, ignore_conflicts=True)
    return len(created)


def followup_rule_update(*, rule: FollowupRule, user, data: dict) -> FollowupRule:
    """Change a rule's settings; the history keeps who changed what."""
    for name, value in data.items():
        setattr(rule, name, value)
    rule._history_user = user
    rule.full_clean()
    rule.save()
    return rule


# --- generation -------------------------------------------------------------------------------


def _record_runs(*, runs: list[tuple[int, str, datetime.date, int]]) -> None:
    """Note that these (store, rule, date) were generated, adding to any earlier count: one statement."""
    if not runs:
        return
    values = ", ".join(["(%s, %s, %s, %s, now())"] * len(runs))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO followups_generationrun (store_id, code, date, created_count, finished_at)
            VALUES {values}
            ON CONFLICT (store_id, code, date)
            DO UPDATE SET created_count = followups_generationrun.created_count + EXCLUDED.created_count,
                          finished_at = now()
            """,
            [value for run in runs for value in run],
        )


def followups_generate_day(
    *,
    day: datetime.date,
    store_ids: Iterable[int] | None = None,
    codes: Iterable[str] | None = None,
    calendar: WorkingCalendar | None = None,
) -> Counter:
    """Generate the tasks queued on ``day`` (D) for every enabled rule; returns tasks made per rule.

    One INSERT … SELECT … ON CONFLICT DO NOTHING per store and rule, and one transaction per store:
    a store's day is generated whole or not at all, and running it twice makes nothing new.
    """
    calendar = calendar or working_calendar()
    stores = Store.objects.filter(is_active=True)
    if store_ids is not None:
        stores = stores.filter(pk__in=list(store_ids))
    stores = list(stores)
    followup_rules_ensure_defaults(stores=stores)
    rules = FollowupRule.objects.filter(store__in=stores).order_by("store_id", "code")
    if codes is not None:
        rules = rules.filter(code__in=list(codes))
    rules_by_store: dict[int, list[FollowupRule]] = {}
    for rule in rules:
        rules_by_store.setdefault(rule.store_id, []).append(rule)
    made: Counter = Counter()
    for store_id, store_rules in rules_by_store.items():
        runs = []
        with transaction.atomic(), connection.cursor() as cursor:
            # Short set-based statements: compiling them (JIT) costs more than it saves. A day lost
            # in a crash is generated again by the catch-up, so the commit need not wait for the disk.
            cursor.execute(
                "SET LOCAL jit = off; SET LOCAL synchronous_commit = off; SET LOCAL max_parallel_workers_per_gather = 0"
            )
            # Tasks of staff who left (deactivated, or no longer in the store) go to the store's queue
            # before the day's new tasks are made.
            tasks_release_from_departed(store_ids=[store_id])
            for rule in store_rules:
                created = 0
                statement = insert_statement(rule, day=day, calendar=calendar) if rule.is_enabled else None
                if statement is not None:
                    cursor.execute(*statement)
                    created = cursor.rowcount
                runs.append((store_id, rule.code, day, created))
                made[rule.code] += created
            _record_runs(runs=runs)
            report_figures_after_generation(day=day, store_id=store_id)
    return made


def followups_generate_range(
    *,
    start: datetime.date,
    end: datetime.date,
    store_ids: Iterable[int] | None = None,
    codes: Iterable[str] | None = None,
) -> dict[datetime.date, Counter]:
    """Generate every day of ``start..end`` (a backfill): the same code path as the nightly job."""
    if end < start:
        raise ApplicationError(_("The end date is before the start date."))
    calendar = working_calendar()
    store_ids = list(store_ids) if store_ids is not None else None
    codes = list(codes) if codes is not None else None
    results = {}
    day = start
    while day <= end:
        results[day] = followups_generate_day(day=day, store_ids=store_ids, codes=codes, calendar=calendar)
        day += datetime.timedelta(days=1)
    return results


def followups_catch_up_plan(*, today: datetime.date) -> list[dict]:
    """The generation jobs the nightly run fans out: per store (per rule for big stores), from the day
    after the last generated one (at most FOLLOWUP_CATCH_UP_DAYS back) to ``today``."""
    stores = list(Store.objects.filter(is_active=True))
    followup_rules_ensure_defaults(stores=stores)
    last_runs = {
        (row["store_id"], row["code"]): row["last"]
        for row in GenerationRun.objects.values("store_id", "code").annotate(last=Max("date"))
    }
    earliest = today - datetime.timedelta(days=settings.FOLLOWUP_CATCH_UP_DAYS - 1)
    big_stores = set(
        Vehicle.objects.values("store_id")
        .annotate(count=Count("id"))
        .filter(count__gt=settings.FOLLOWUP_SPLIT_VEHICLES)
        .values_list("store_id", flat=True)
    )
    plan = []
    for store in stores:
        starts = {}
        for code in RuleCode.values:
            last = last_runs.get((store.pk, code))
            starts[code] = max(earliest, last + datetime.timedelta(days=1)) if last else today
        due = {code: start for code, start in starts.items() if start <= today}
        if not due:
            continue
        if store.pk in big_stores:
            plan.extend(
                {"store_id": store.pk, "codes": [code], "start": start, "end": today} for code, start in due.items()
            )
        else:
            plan.append({"store_id": store.pk, "codes": None, "start": min(due.values()), "end": today})
    return plan


# --- the call queue ---------------------------------------------------------------------------

_CLAIM_LOCK_SPACE = 0x4655  # advisory-lock namespace of the call queue


# queue_claimable compiled to SQL, per agent and set of stores: building and compiling that ORM
# query cost more CPU than PostgreSQL spends running it, which 20 agents claiming at once on one
# machine felt. Only its times change between claims, and they are parameters: it is compiled with
# a sentinel time whose three values (now, the claims' lapse, today) are swapped for the real ones.
_CLAIMABLE_SQL: dict[tuple, tuple[str, list]] = {}
_SENTINEL_NOW = datetime.datetime(2000, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)


def _claimable_sql(*, user, now: datetime.datetime, store_ids: list[int]) -> tuple[str, list, bool]:
    """The claimable tasks' SQL and parameters at ``now``, and whether the SQL is the one compiled
    for every claim of this key (so worth preparing: ``crm.prepared``)."""
    times = {
        (datetime.datetime, _SENTINEL_NOW): now,
        (datetime.datetime, _SENTINEL_NOW - CLAIM_LAPSE): now - CLAIM_LAPSE,
        (datetime.date, timezone.localdate(_SENTINEL_NOW)): timezone.localdate(now),
    }
    key = (user.pk, user.is_superuser, tuple(store_ids))
    if key not in _CLAIMABLE_SQL:
        claimable = queue_claimable(user=user, now=_SENTINEL_NOW, open_store_ids=store_ids)
        sql, params = claimable.order_by().values_list("customer_id", "id").query.sql_with_params()
        if {(type(param), param) for param in params} & times.keys() != times.keys():
            # A time the query uses in another form: never reuse it with the sentinel's values.
            claimable = queue_claimable(user=user, now=now, open_store_ids=store_ids)
            return (*claimable.order_by().values_list("customer_id", "id").query.sql_with_params(), False)
        if len(_CLAIMABLE_SQL) > 1000:
            _CLAIMABLE_SQL.clear()
        _CLAIMABLE_SQL[key] = (sql, list(params))
    sql, params = _CLAIMABLE_SQL[key]
    return sql, [times.get((type(param), param), param) for param in params], True


def task_claim_next(
    *, user, now: datetime.datetime | None = None, stores: Iterable[Store] | None = None
) -> list[FollowupTask]:
    """Claim the next call for ``user``: every callable task of the first callable customer of the
    queue's list (``selectors.queue_claimable``, in the list's order ``selectors.QUEUE_ORDER``),
    atomically.

    Returns the agent's current call if the agent already holds one. Two agents never get the same
    task (``FOR UPDATE SKIP LOCKED``) nor the same customer (a transaction-scoped advisory lock on the
    customer). Empty when nothing is callable now. The claim narrows the queue to the user's
    active stores (every store for those who see them all: ``crm.scoping.user_active_stores``);
    ``stores``: those stores when the caller has them (the queue page's figures sent with the
    next call use them too, so they are read once).
    """
    now = now or timezone.now()
    current = queue_current_call_customer(user=user, now=now)
    if current is not None:
        return task_current_call(user=user, customer_id=current, now=now)
    stores = queue_open_store_ids(user_active_stores(user) if stores is None else stores, now)
    if not stores:
        return []
    # The pick walks the claimable tasks in QUEUE_ORDER, the UPDATE takes the customer's of them.
    table = FollowupTask._meta.db_table
    claimable_sql, claimable_params, reused = _claimable_sql(user=user, now=now, store_ids=stores)
    order = ", ".join(f'"{table}"."{FollowupTask._meta.get_field(name).column}"' for name in QUEUE_ORDER)
    pick_sql = (
        f'{claimable_sql} AND NOT ("{table}"."customer_id" = ANY(%s))'
        f' ORDER BY {order} LIMIT 1 FOR UPDATE OF "{table}" SKIP LOCKED'
    )
    # The customer's advisory lock is taken in the same statement: nothing is claimed if another
    # agent is claiming that customer at this very moment.
    claim_sql = (
        f"UPDATE {table} SET claimed_by_id = %s, claimed_at = %s"
        f" WHERE (SELECT pg_try_advisory_xact_lock(%s, %s)) AND id IN ("
        f"  SELECT mine.id FROM {table} mine WHERE mine.customer_id = %s"
        f"  AND mine.id IN (SELECT claimable.id FROM ({claimable_sql}) claimable WHERE claimable.customer_id = %s)"
        f"  FOR UPDATE OF mine SKIP LOCKED) RETURNING id"
    )
    skip: list[int] = []
    # A claim lost in a crash is harmless (the agent claims again): no need to wait for the disk.
    prefix = "SET LOCAL synchronous_commit TO OFF; "
    with transaction.atomic(), connection.cursor() as cursor:
        for _attempt in range(10):
            prepared.execute(cursor, pick_sql, [*claimable_params, skip], prefix=prefix, reused=reused)
            prefix = ""
            row = cursor.fetchone()
            if row is None:
                return []
            customer_id = row[0]
            prepared.execute(
                cursor,
                claim_sql,
                [user.pk, now, _CLAIM_LOCK_SPACE, customer_id % 2_000_000_000, customer_id, *claimable_params,
                 customer_id],
                reused=reused,
            )  # fmt: skip
            claimed_ids = [claimed[0] for claimed in cursor.fetchall()]
            if claimed_ids:
                break
            skip.append(customer_id)
        else:
            return []
    return compiled_read(("claimed",), _claimed_tasks, customer_id=customer_id, ids=claimed_ids)


def _claimed_tasks(*, customer_id: int, ids: list[int]) -> QuerySet[FollowupTask]:
    """The customer's tasks of ``ids`` with what the call panel shows of them (an array parameter, so
    the read is compiled once whatever the number of tasks: ``compiled_read``). The customer is
    asked as well for PostgreSQL's sake: with ``id = ANY`` alone its estimate of the rows kept the
    prepared statement planned again on every claim (0.7 ms, more than its run); with one customer's
    tasks it keeps one plan."""
    table = FollowupTask._meta.db_table
    return (
        FollowupTask.objects.filter(customer_id=customer_id)
        .filter(RawSQL(f'"{table}"."id" = ANY(%s)', [ids], output_field=BooleanField()))
        .select_related("rule", "vehicle", "customer__store", "store")
        .order_by("priority", "id")
    )


def task_claim_assigned(*, user, customer_id: int, now: datetime.datetime | None = None) -> list[FollowupTask]:
    """Open the call to a customer from "My tasks": claim the customer's open phone tasks of today
    (overdue included) assigned to ``user`` — or, for a manager of the store (``view_followup_reports``),
    assigned to anyone of the manager's stores — by one conditional UPDATE, so two people never hold
    the same task. The call page and its outcome then work on them as on a queue call; they stay
    assigned whatever the outcome. Empty when there is nothing of the customer's to call (taken by
    someone else in the last 30 minutes, done, or not the user's)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    lapse = now - CLAIM_LAPSE
    tasks = FollowupTask.objects.filter(
        customer_id=customer_id,
        status=TaskStatus.OPEN,
        channel=Channel.PHONE,
        work_date__lte=today,
        assignee__isnull=False,
    ).filter(Q(claimed_by__isnull=True) | Q(claimed_by=user) | Q(claimed_at__lt=lapse))
    if user.has_perm("followups.view_followup_reports"):
        stores = Store.objects.all() if sees_all_stores(user) else Store.objects.filter(staff=user)
        tasks = tasks.filter(Q(assignee=user) | Q(store__in=stores))
    else:
        tasks = tasks.filter(assignee=user)
    with transaction.atomic():
        ids = list(tasks.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True))
        claimed = FollowupTask.objects.filter(pk__in=ids).update(claimed_by=user, claimed_at=now)
    if not claimed:
        return []
    return task_current_call(user=user, customer_id=customer_id, now=now)


def tasks_release_from_departed(*, store_ids: Iterable[int] | None = None) -> int:
    """Give the store's queue the open tasks whose person has left: deactivated, or no longer a
    member of the task's store. The task keeps who it was assigned to in ``detail``
    (``released_from``); returns how many were released. Set-based, safe to run twice."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE followups_followuptask t
            SET assignee_id = NULL, claimed_by_id = NULL, claimed_at = NULL,
                detail = t.detail || jsonb_build_object('released_from', t.assignee_id)
            WHERE t.status = 'open' AND t.assignee_id IS NOT NULL
              AND (%(all)s OR t.store_id = ANY(%(stores)s))
              AND NOT {staff_still_in_store_sql(user="t.assignee_id", store="t.store_id")}
            """,
            {"all": store_ids is None, "stores": list(store_ids or [])},
        )
        return cursor.rowcount


def task_current_call(*, user, customer_id: int, now: datetime.datetime | None = None) -> list[FollowupTask]:
    """The agent's claimed open tasks of one customer; viewing them keeps the claim alive."""
    now = now or timezone.now()
    tasks = FollowupTask.objects.filter(
        claimed_by=user, customer_id=customer_id, status=TaskStatus.OPEN, claimed_at__gte=now - CLAIM_LAPSE
    )
    tasks.update(claimed_at=now)
    return list(tasks.select_related("rule", "vehicle", "customer__store", "store").order_by("priority", "id"))


def call_customer_for_user(*, user, customer_id: int) -> Customer:
    """The customer of a call ``user`` may work: a card of the user's stores, or the customer of a
    call the user holds. The queue hands out the tasks of the agent's stores, and a task's store
    may not be its owner's card's (a car serviced at one store of the group, its owner's card at
    another): the agent who was given the call opens, dials and records it. Http404 for anyone
    else's customer."""
    try:
        return customer_get_for_user(user=user, pk=customer_id)
    except Http404:
        held = task_current_call(user=user, customer_id=customer_id)
        if not held:
            raise
        return held[0].customer


def task_release(*, user, customer_id: int, now: datetime.datetime | None = None) -> int:
    """Give the customer's claimed tasks back: a queue task is not offered again (to anyone) for
    PUT_BACK_PAUSE, so "put back" then "next" brings the next customer, not the same one at once
    (a later call-back time already set is kept); an assigned task goes back to its person's list."""
    now = now or timezone.now()
    claimed = FollowupTask.objects.filter(claimed_by=user, customer_id=customer_id, status=TaskStatus.OPEN)
    paused = claimed.filter(assignee__isnull=True).update(
        claimed_by=None, claimed_at=None, callback_at=Greatest(F("callback_at"), Value(now + PUT_BACK_PAUSE))
    )
    return paused + claimed.update(claimed_by=None, claimed_at=None)


def is_dissatisfied_result(*, is_dissatisfied: bool, satisfaction: int | None) -> bool:
    """A dissatisfied result (docs/followups.md): marked 不满意, or a score of 2 or less out of 5."""
    return bool(is_dissatisfied or (satisfaction is not None and satisfaction <= DISSATISFIED_SCORE))


@transaction.atomic
def call_record_outcome(
    *,
    user,
    customer_id: int,
    outcome: str,
    answers: dict | None = None,
    satisfaction: int | None = None,
    is_dissatisfied: bool = False,
    notes: str = "",
    callback_at: datetime.datetime | None = None,
    now: datetime.datetime | None = None,
    calendar: WorkingCalendar | None = None,
    _booking: bool = False,
) -> list[FollowupTask]:
    """Record one call to a customer for all the agent's claimed tasks of that customer.

    reached/refused/booked close the tasks (booked only through ``call_outcome_record`` with its
    booking); wrong number closes them unreached; no answer and busy roll them
    to the next working day, at most 3 attempts; call back moves them to the requested time.

    ``answers`` (``{task id: {question index: text}}``) are stored typed on each task's attempt
    (``followups.questionnaires``); each returned task carries ``call_is_dissatisfied``, whether its
    result was dissatisfied (the overall score or tick, or one of its score questions at 2 or less).
    """
    now = now or timezone.now()
    if outcome not in CallOutcome.values:
        raise ApplicationError(_("Choose an outcome."))
    if outcome == CallOutcome.BOOKED and not _booking:
        raise ApplicationError(_("A booked visit is recorded with its booking: choose the day and the slot."))
    if satisfaction is not None and not 1 <= satisfaction <= 5:
        raise ApplicationError(_("Satisfaction is between 1 and 5."))
    if outcome == CallOutcome.CALL_BACK and (callback_at is None or callback_at <= now):
        raise ApplicationError(_("Give a call-back time in the future."))
    tasks = compiled_read(("call tasks locked",), _call_tasks_locked, user_id=user.pk, customer_id=customer_id)
    if not tasks:
        raise ApplicationError(_("This call is no longer assigned to you: take the next one from the queue."))
    dissatisfied = is_dissatisfied_result(is_dissatisfied=is_dissatisfied, satisfaction=satisfaction)
    call_key = uuid.uuid4()
    answers = _call_answers_typed(tasks=tasks, answers=answers)
    today = timezone.localdate(now)
    next_working_day = None
    attempts = []
    for task in tasks:
        task.outcome = outcome
        task.claimed_by = None
        task.claimed_at = None
        if outcome in (CallOutcome.REACHED, CallOutcome.REFUSED, CallOutcome.BOOKED):
            task.status = TaskStatus.DONE
            task.completed_at = now
            task.satisfaction = satisfaction
            task.attempts += 1
        elif outcome == CallOutcome.WRONG_NUMBER:
            task.status = TaskStatus.UNREACHED
            task.completed_at = now
            task.attempts += 1
        elif outcome == CallOutcome.CALL_BACK:
            task.callback_at = callback_at
            task.work_date = timezone.localdate(callback_at)
        else:  # no answer, busy
            task.attempts += 1
            if task.attempts >= MAX_CALL_ATTEMPTS:
                task.status = TaskStatus.UNREACHED
                task.completed_at = now
            else:
                if next_working_day is None:
                    calendar = calendar or working_calendar()
                    next_working_day = calendar.next_working_day(today + datetime.timedelta(days=1))
                task.work_date = next_working_day
                task.callback_at = None
        attempts.append(
            CallAttempt(
                task=task,
                customer_id=customer_id,
                agent=user,
                call_key=call_key,
                at=now,
                outcome=outcome,
                answers=answers.get(str(task.pk), {}),
                satisfaction=satisfaction,
                # A score of 2 or less on one of the task's score questions is dissatisfied too.
                is_dissatisfied=dissatisfied or answers_are_dissatisfied(answers.get(str(task.pk), {})),
                notes=notes,
                callback_at=callback_at if outcome == CallOutcome.CALL_BACK else None,
            )
        )
    for task, attempt in zip(tasks, attempts, strict=True):
        # Its one constraint (satisfaction 1–5) is checked above with its message, and by the
        # database: not again by a query per attempt.
        attempt.full_clean(exclude=["task", "customer", "agent"], validate_constraints=False)
        task.call_is_dissatisfied = attempt.is_dissatisfied
    _call_tasks_update(tasks, attempts_added=0 if outcome == CallOutcome.CALL_BACK else 1)
    CallAttempt.objects.bulk_create(attempts)
    _call_results_record(user=user, attempts=attempts, tasks=tasks, notes=notes, at=now)
    report_figures_after_call(attempts=attempts)
    return tasks


def _call_tasks_locked(*, user_id: int, customer_id: int) -> QuerySet[FollowupTask]:
    """The agent's claimed open phone tasks of the customer, locked, with their card and rule (the
    satisfaction results read both): compiled once (``compiled_read``)."""
    return (
        FollowupTask.objects.select_for_update(of=("self",))
        .select_related("customer", "rule")
        .filter(claimed_by_id=user_id, customer_id=customer_id, status=TaskStatus.OPEN, channel=Channel.PHONE)
        .order_by("id")
    )


_CALL_TASK_FIELDS = ("outcome", "claimed_by_id", "claimed_at", "status", "completed_at", "satisfaction", "callback_at",
                     "work_date")  # fmt: skip


def _call_tasks_update(tasks: list[FollowupTask], *, attempts_added: int) -> None:
    """Write the call's tasks as ``call_record_outcome`` changed them (locked, so their attempts are
    the ones read): one UPDATE per set of new values, i.e. one for the whole call unless a no answer
    ends some of its tasks and rolls others over. (``bulk_update``'s CASE per column and task cost
    the call more CPU than the write.)"""
    groups: dict[tuple, list[int]] = {}
    for task in tasks:
        groups.setdefault(tuple(getattr(task, name) for name in _CALL_TASK_FIELDS), []).append(task.pk)
    with connection.cursor() as cursor:
        for values, ids in groups.items():
            cursor.execute(_CALL_TASKS_UPDATE_SQL, [*values, attempts_added, ids])


# _call_tasks_update's statement, written once (the ORM's update was built and compiled on every call).
_CALL_TASKS_UPDATE_SQL = "UPDATE {table} SET {columns}, attempts = attempts + %s WHERE id = ANY(%s)".format(
    table=FollowupTask._meta.db_table,
    columns=", ".join(f"{FollowupTask._meta.get_field(name).column} = %s" for name in _CALL_TASK_FIELDS),
)


def _call_answers_typed(*, tasks: list[FollowupTask], answers: dict | None) -> dict[str, dict]:
    """The posted answers (``{task id: {index: text}}``) typed by each task's questionnaire
    (``followups.questionnaires.answers_typed``); a value a question does not allow (a score of 7, an
    option not listed) refuses the call with the question named."""
    typed = {}
    for task in tasks:
        raw = (answers or {}).get(str(task.pk))
        if not isinstance(raw, dict) or not raw:
            continue  # the rule is only read for a task with answers
        try:
            typed[str(task.pk)] = answers_typed(task.rule.questionnaire, raw)
        except ValidationError as error:
            raise ApplicationError(error.messages[0]) from None
    return typed


def call_statement(*, questionnaire: list, answers: dict, notes: str) -> str:
    """A call's answers (question: answer, in the questionnaire's order; a score reads "2分（满分5分）",
    yes/no "是"/"否") and notes, as one text: the statement of its satisfaction result and of the
    complaint it opens."""
    lines = answers_statement_lines(questionnaire, answers if isinstance(answers, dict) else {})
    if notes.strip():
        lines.append(notes.strip())
    return "\n".join(lines)


def _call_results_record(*, user, attempts: list[CallAttempt], tasks: list[FollowupTask], notes, at) -> None:
    """Each call attempt with a score, the 不满意 tick or a score question answered 2 or less is a
    satisfaction result of its rule's department (customers.satisfaction): a dissatisfied one opens a
    complaint once this commits."""
    for attempt, task in zip(attempts, tasks, strict=True):
        if attempt.satisfaction is None and not attempt.is_dissatisfied:
            continue
        task_answers = attempt.answers
        satisfaction_result_record(
            customer=task.customer,
            department=department_for_rule(task.code),
            source=SatisfactionSource.CALL,
            reference=f"callattempt:{attempt.pk}",
            at=at,
            score=attempt.satisfaction,
            verdict=SatisfactionVerdict.DISSATISFIED if attempt.is_dissatisfied else None,
            rule_code=task.code,
            statement=call_statement(questionnaire=task.rule.questionnaire, answers=task_answers, notes=notes),
            user=user,
        )


@dataclass(frozen=True)
class CallOutcomeRecorded:
    """What ``call_outcome_record`` did: the tasks the call closed or rolled over, whether the result
    was dissatisfied (the page then offers to open a complaint), and the agent's next call (empty
    when nothing is callable now, and after a call of assigned tasks, which goes back to My tasks)."""

    tasks: list[FollowupTask]
    is_dissatisfied: bool
    next_tasks: list[FollowupTask]
    is_assigned: bool = False
    # The call's first dissatisfied result (``callattempt:<id>``): the complaint it opened, or the
    # complaint form prefilled with its answers and notes.
    result_reference: str = ""
    # The visit booked on the call (outcome ``booked``).
    appointment: Appointment | None = None


@dataclass(frozen=True)
class CallBooking:
    """The visit booked on a call (outcome ``booked``): one of the customer's vehicles, a day and a
    slot of the store's grid, the purpose, an advisor (optional) and notes."""

    vehicle: Vehicle
    date: datetime.date
    slot: datetime.time
    purpose: str
    advisor: object = None
    notes: str = ""


def _booking_task(tasks: list[FollowupTask], vehicle: Vehicle) -> FollowupTask:
    """The task a booking comes from: the one about the booked vehicle, else the call's first."""
    return next((task for task in tasks if task.vehicle_id == vehicle.pk), tasks[0])


@transaction.atomic
def _call_book_and_record(*, user, customer_id: int, booking: CallBooking, **outcome) -> tuple[list, Appointment]:
    tasks = list(
        FollowupTask.objects.select_related("customer__store")
        .filter(claimed_by=user, customer_id=customer_id, status=TaskStatus.OPEN, channel=Channel.PHONE)
        .order_by("id")
    )
    if not tasks:
        raise ApplicationError(_("This call is no longer assigned to you: take the next one from the queue."))
    appointment = appointment_book(
        user=user,
        customer=tasks[0].customer,
        vehicle=booking.vehicle,
        date=booking.date,
        slot=booking.slot,
        purpose=booking.purpose,
        advisor=booking.advisor,
        source=AppointmentSource.CALL,
        source_reference=f"followuptask:{_booking_task(tasks, booking.vehicle).pk}",
        notes=booking.notes,
    )
    recorded = call_record_outcome(
        user=user, customer_id=customer_id, outcome=CallOutcome.BOOKED, _booking=True, **outcome
    )
    return recorded, appointment


def call_outcome_record(
    *,
    user,
    customer_id: int,
    outcome: str,
    answers: dict | None = None,
    satisfaction: int | None = None,
    is_dissatisfied: bool = False,
    notes: str = "",
    callback_at: datetime.datetime | None = None,
    now: datetime.datetime | None = None,
    booking: CallBooking | None = None,
    stores: Iterable[Store] | None = None,
) -> CallOutcomeRecorded:
    """The call page's "save": record the call's outcome for the agent's claimed tasks of the
    customer (``call_record_outcome``, one transaction), then claim the agent's next call. Raises
    ``ApplicationError`` (nothing recorded, nothing claimed) for a bad outcome or a call no longer
    the agent's.

    Outcome ``booked`` books ``booking`` (``appointment_book``, source ``call``, reference
    ``followuptask:<id>``) and records the call as reached in the same transaction: a full slot or a
    day off refuses both, with the message naming the next free slots. ``stores``: the user's active
    stores for the next claim (``task_claim_next``), when the caller has them."""
    appointment = None
    if outcome == CallOutcome.BOOKED:
        if booking is None:
            raise ApplicationError(_("A booked visit is recorded with its booking: choose the day and the slot."))
        tasks, appointment = _call_book_and_record(
            user=user, customer_id=customer_id, booking=booking, answers=answers, satisfaction=satisfaction,
            is_dissatisfied=is_dissatisfied, notes=notes, now=now,
        )  # fmt: skip
    else:
        tasks = call_record_outcome(
            user=user, customer_id=customer_id, outcome=outcome, answers=answers, satisfaction=satisfaction,
            is_dissatisfied=is_dissatisfied, notes=notes, callback_at=callback_at, now=now,
        )  # fmt: skip
    # A call from "My tasks" goes back to that list: the queue's next call is for queue work only.
    is_assigned = any(task.assignee_id for task in tasks)
    # The first task of the call with a dissatisfied result (the overall score or tick: every task;
    # a low score question: its own task) names the result the page links to.
    dissatisfied_task = next(
        (task for task in tasks if getattr(task, "call_is_dissatisfied", False)),
        tasks[0] if is_dissatisfied_result(is_dissatisfied=is_dissatisfied, satisfaction=satisfaction) else None,
    )
    dissatisfied = dissatisfied_task is not None
    first_attempt = (
        CallAttempt.objects.filter(task=dissatisfied_task).order_by("-at", "-id").first() if dissatisfied else None
    )
    return CallOutcomeRecorded(
        tasks=tasks,
        is_dissatisfied=dissatisfied,
        next_tasks=[] if is_assigned else task_claim_next(user=user, now=now, stores=stores),
        is_assigned=is_assigned,
        result_reference=f"callattempt:{first_attempt.pk}" if first_attempt else "",
        appointment=appointment,
    )


# --- SMS --------------------------------------------------------------------------------------


def sms_window_open(now: datetime.datetime) -> bool:
    """Whether ``now`` (local time) is inside SMS_SEND_WINDOW (09:00–20:00 by default)."""
    start_text, _sep, end_text = settings.SMS_SEND_WINDOW.partition("-")
    local = timezone.localtime(now)
    minutes = local.hour * 60 + local.minute

    def parse(text: str) -> int:
        hours, _colon, mins = text.strip().partition(":")
        return int(hours) * 60 + int(mins or 0)

    return parse(start_text) <= minutes < parse(end_text)


def sms_window_next_start(now: datetime.datetime) -> datetime.datetime | None:
    """When a message made at ``now`` may be handed over: None inside the sending window, else the
    window's next opening (today's before it opens, tomorrow's after it closed)."""
    if sms_window_open(now):
        return None
    start_text = settings.SMS_SEND_WINDOW.partition("-")[0].strip()
    hours, _colon, minutes = start_text.partition(":")
    local = timezone.localtime(now)
    opening = local.replace(hour=int(hours), minute=int(minutes or 0), second=0, microsecond=0)
    return opening if opening > local else opening + datetime.timedelta(days=1)


_SMS_PREPARE_TEMPLATE = r"""
    INSERT INTO followups_smsmessage
        (task_id, idempotency_key, store_id, customer_id, code, mobile, body, send_date, status, send_attempts,
         gateway_message_id, delivery_status, error, created_at)
    SELECT t.id, 'task-' || t.id, t.store_id, t.customer_id, t.code, cu.mobile,
           '【' || COALESCE(NULLIF(s.sms_signature, ''), s.name) || '】' || {rendered}
           || %(opt_out)s,
           %(day)s, 'queued', 0, '', 'unknown', '', now()
    FROM followups_followuptask t
    JOIN followups_followuprule r ON r.id = t.rule_id
    JOIN {store_table} s ON s.id = t.store_id
    JOIN {customer_table} cu ON cu.id = t.customer_id
    LEFT JOIN {vehicle_table} v ON v.id = t.vehicle_id
    WHERE t.store_id = %(store_id)s AND t.channel = 'sms' AND t.status = 'open'
      AND t.queue_date BETWEEN %(earliest)s AND %(day)s
      AND COALESCE(NULLIF(t.detail->>'sms_template', ''), r.sms_template) <> ''
      AND {allowed} AND cu.mobile ~ %(mobile_pattern)s
    ON CONFLICT (idempotency_key) DO NOTHING
"""


_SMS_PREPARE_SQL = _SMS_PREPARE_TEMPLATE.format(
    allowed=sms_allowed_sql("t.code"),
    # A task may carry its own text (an event's invitation): it takes the rule's template's place.
    rendered=render_placeholders_sql(
        "COALESCE(NULLIF(t.detail->>'sms_template', ''), r.sms_template)",
        task="t",
        store="s",
        customer="cu",
        vehicle="v",
    ),
    customer_table=CUSTOMER_TABLE,
    store_table=Store._meta.db_table,
    vehicle_table=VEHICLE_TABLE,
)

_SMS_CLAIM_SQL = """
    UPDATE followups_smsmessage SET status = 'sending', lease_until = %(lease_until)s,
           send_attempts = send_attempts + 1
    WHERE id IN (
        SELECT id FROM followups_smsmessage
        WHERE store_id = %(store_id)s AND send_date <= %(day)s
          AND (status = 'queued' OR (status = 'sending' AND lease_until < %(now)s))
          AND (not_before IS NULL OR not_before <= %(now)s)
        ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
    RETURNING id, idempotency_key, mobile, body, task_id, send_attempts
"""


def sms_messages_prepare(*, store_id: int, day: datetime.date) -> int:
    """Render one message per open SMS task of the store queued on ``day`` (or a few days late after
    an outage). Set-based; the idempotency key makes a second run a no-op."""
    with connection.cursor() as cursor:
        # Whoever opted out or withdrew the consent the rule needs since generation gets nothing:
        # neither the open tasks nor the messages rendered but not yet sent.
        cursor.execute(
            f"""
            UPDATE followups_followuptask t SET status = 'closed', completed_at = now()
            FROM {CUSTOMER_TABLE} cu
            WHERE cu.id = t.customer_id AND t.store_id = %(store_id)s AND t.channel = 'sms' AND t.status = 'open'
              AND t.queue_date <= %(day)s AND NOT {sms_allowed_sql("t.code")}
            """,
            {"store_id": store_id, "day": day},
        )
        cursor.execute(
            f"""
            UPDATE followups_smsmessage m SET status = 'cancelled', lease_until = NULL
            FROM {CUSTOMER_TABLE} cu
            WHERE cu.id = m.customer_id AND m.store_id = %(store_id)s AND m.status = 'queued'
              AND NOT (CASE WHEN m.campaign_id IS NULL THEN {sms_allowed_sql("m.code")}
                       ELSE {queued_campaign_message_allowed_sql(message="m", alias="cu")} END)
            """,
            {"store_id": store_id},
        )
        cursor.execute(
            _SMS_PREPARE_SQL,
            {
                "store_id": store_id,
                "day": day,
                "earliest": day - datetime.timedelta(days=SMS_LATE_DAYS),
                "opt_out": SMS_OPT_OUT_TEXT,
                "mobile_pattern": MOBILE_PATTERN,
            },
        )
        return cursor.rowcount


def sms_send_batch(*, store_id: int, day: datetime.date | None = None, now=None, gateway=None) -> Counter:
    """Send the store's due messages, in the sending window only; safe to run twice or concurrently.

    Each message is claimed by a conditional UPDATE (queued → sending with a lease), sent with its
    idempotency key, then marked sent; the batch renews its claimed messages' lease as it goes. A
    worker that dies mid-batch leaves its messages ``sending``; once the (short) lease lapses the
    minutely resume sweep starts the store's batch again, which resends them with the same key and
    the gateway recognises them, so nothing is lost and nothing is sent twice.
    """
    fixed_now = now
    now = now or timezone.now()
    day = day or timezone.localdate(now)
    result: Counter = Counter()
    if not sms_window_open(now):
        result["outside_window"] = 1
        return result
    result["prepared"] = sms_messages_prepare(store_id=store_id, day=day)
    gateway = gateway or get_gateway()
    lease = datetime.timedelta(seconds=settings.SMS_SEND_LEASE_SECONDS)
    # The claimed messages' lease is renewed this often while the batch runs, so a short lease
    # (a dead worker's batch resumes soon after) never lapses under a live one.
    renew_every = settings.SMS_SEND_LEASE_SECONDS / 3
    while True:
        current = fixed_now or timezone.now()
        if not sms_window_open(current):
            break
        with connection.cursor() as cursor:
            cursor.execute(
                _SMS_CLAIM_SQL,
                {"store_id": store_id, "day": day, "now": current, "lease_until": current + lease,
                 "limit": SMS_BATCH_SIZE},
            )  # fmt: skip
            claimed = cursor.fetchall()
        if not claimed:
            break
        renewed_at = time.monotonic()
        for position, (message_id, key, mobile, body, task_id, attempts) in enumerate(claimed):
            if time.monotonic() - renewed_at >= renew_every:
                _sms_lease_renew(
                    message_ids=[row[0] for row in claimed[position:]],
                    lease_until=(fixed_now or timezone.now()) + lease,
                )
                renewed_at = time.monotonic()
            try:
                sent = gateway.send(key=key, mobile=mobile, text=body)
            except GatewayError as error:
                status = SmsStatus.FAILED if attempts >= SMS_MAX_SEND_ATTEMPTS else SmsStatus.QUEUED
                SmsMessage.objects.filter(pk=message_id, status=SmsStatus.SENDING).update(
                    status=status, lease_until=None, error=str(error)[:300]
                )
                result["failed"] += 1
                continue
            with transaction.atomic():
                updated = SmsMessage.objects.filter(pk=message_id, status=SmsStatus.SENDING).update(
                    status=SmsStatus.SENT, lease_until=None, sent_at=timezone.now(), gateway_message_id=sent.message_id
                )
                if task_id:
                    FollowupTask.objects.filter(pk=task_id, status=TaskStatus.OPEN).update(
                        status=TaskStatus.DONE, completed_at=timezone.now()
                    )
            result["duplicate" if sent.duplicate else "sent"] += updated
    if result["sent"] or result["duplicate"] or result["failed"]:
        campaign_statuses_refresh(store_id=store_id)
    return result


def _sms_lease_renew(*, message_ids: list[int], lease_until: datetime.datetime) -> int:
    """Extend the lease of this batch's messages still being sent (not those it has finished)."""
    return SmsMessage.objects.filter(pk__in=message_ids, status=SmsStatus.SENDING).update(lease_until=lease_until)


def sms_stores_to_resume(*, now: datetime.datetime) -> list[int]:
    """Stores whose batch died: a message ``sending`` under a lapsed lease (a live batch renews its
    leases), or due messages still ``queued`` in an active store where no message is ``sending``
    under a live lease (the worker died between two claims, or a campaign came due since the last
    dispatch). Their batch is to be started again; should a live batch be caught between two claims,
    the second one is safe (claims skip each other's rows, keys make a resend a no-op)."""
    live = SmsMessage.objects.filter(store_id=OuterRef("store_id"), status=SmsStatus.SENDING, lease_until__gte=now)
    lapsed = Q(status=SmsStatus.SENDING, lease_until__lt=now)
    waiting = (
        Q(status=SmsStatus.QUEUED, store__is_active=True, send_date__lte=timezone.localdate(now))
        & (Q(not_before__isnull=True) | Q(not_before__lte=now))
        & ~Exists(live)
    )
    return list(SmsMessage.objects.filter(lapsed | waiting).order_by().values_list("store_id", flat=True).distinct())


def sms_delivery_report(*, key: str, delivered: bool) -> int:
    """The gateway's delivery report for one message."""
    status = DeliveryStatus.DELIVERED if delivered else DeliveryStatus.UNDELIVERED
    return SmsMessage.objects.filter(idempotency_key=key).update(delivery_status=status)


@transaction.atomic
def sms_inbound_receive(*, mobile: str, text: str, received_at: datetime.datetime | None = None) -> InboundSms:
    """Store and apply a reply: matched to the customer by mobile and to the latest message sent to
    that mobile, then given to the registered reply handlers in order (``customers.sms_replies``): the
    first that claims it decides what it means (T/TD/退订 opts out; 1–5 after a repair SMS is
    satisfaction; Y after an event invitation is an RSVP…)."""
    received_at = received_at or timezone.now()
    mobile = re.sub(r"\D", "", unicodedata.normalize("NFKC", mobile or ""), flags=re.ASCII)[-11:]
    if not mobile:
        raise ApplicationError(_("The mobile number has no digits."))
    last_message = (
        SmsMessage.objects.filter(mobile=mobile, status=SmsStatus.SENT, sent_at__gte=received_at - REPLY_WINDOW)
        .select_related("customer", "task")
        .order_by("-sent_at", "-id")
        .first()
    )
    customer = last_message.customer if last_message else customers_with_mobile(mobile=mobile).first()
    reply = Reply(mobile=mobile, text=text or "", word=normalise_reply(text), received_at=received_at,
                  last_message=last_message, customer=customer)  # fmt: skip
    claim = reply_resolve(reply)
    inbound = InboundSms(
        mobile=mobile, text=(text or "")[:500], received_at=received_at, in_reply_to=last_message, customer=customer,
        action=claim.action, satisfaction=claim.satisfaction,
    )  # fmt: skip
    inbound.full_clean()
    inbound.save()
    if claim.action == ReplyAction.SATISFACTION and customer is not None and claim.satisfaction is not None:
        rule_code = last_message.code if last_message else ""
        satisfaction_result_record(
            customer=customer,
            department=department_for_rule(rule_code),
            source=SatisfactionSource.SMS_REPLY,
            reference=f"inboundsms:{inbound.pk}",
            at=received_at,
            score=claim.satisfaction,
            rule_code=rule_code,
            statement=_("SMS reply: %(text)s") % {"text": inbound.text},
        )
    return inbound
