"""The follow-up reports' figures kept per day (docs/followups.md, "The reports' figures").

Two tables, rebuilt from the tasks and the call attempts, never edited by hand:

- ``FollowupDayCalls``: per local day, store (the task's), rule and agent, the calls made, reached,
  satisfied (score >= SATISFIED_SCORE), dissatisfied, the calls per outcome and per score 1-5;
- ``FollowupDayTasks``: per queue date, store and rule, the tasks due.

They count every customer, whatever the card's level: a report takes away, live, the tasks and
calls of the 绝密/机密 cards its reader may not see (few, read through the partial index of
restricted cards). So a card that changes level, or a name added to a card, needs no refresh.

``report_figures_refresh`` recounts days × stores from scratch (set-based, idempotent): the
generation recounts the day and store it generated, and the nightly
``followups.tasks.rebuild_report_figures`` the last REPORT_FIGURES_REBUILD_DAYS days
(``report_figures_rebuild``; ``manage.py rebuild_report_figures`` for any range, e.g. the first
backfill). A recorded call instead adds its own attempts to their rows in the call's transaction
(``report_figures_after_call``: one upsert, so its cost does not grow with the day's calls; exactly
once, since it commits or rolls back with the attempts). A recount takes a transaction-level
advisory lock per day and store, a call's addition the same lock shared: they follow each other,
and no call is counted twice or lost.
"""

import datetime
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, connections, router, transaction
from django.utils import timezone

from crm.calendar import local_midnight
from crm.models import Store, User
from customers.satisfaction import SATISFIED_SCORE
from customers.selectors import CUSTOMER_TABLE, RESTRICTED_LEVELS, customer_visibility_sql
from followups.choices import REACHED_OUTCOMES
from followups.models import CallAttempt, FollowupDayCalls, FollowupDayTasks, FollowupTask

# The nightly rebuild recounts this many days up to today (late calls, erased or merged cards).
REPORT_FIGURES_REBUILD_DAYS = 40

DAY_CALLS_TABLE = FollowupDayCalls._meta.db_table
DAY_TASKS_TABLE = FollowupDayTasks._meta.db_table
_ATTEMPT_TABLE = CallAttempt._meta.db_table
_TASK_TABLE = FollowupTask._meta.db_table
_SCORES = range(1, 6)
# The advisory locks of this module: (namespace << 40) | (day number << 20) | store id.
_LOCK_NAMESPACE = 0x4644
_EPOCH = datetime.date(2000, 1, 1)

# The calls of the attempt rows ``{source}`` yields (aliases a: the attempt, t: its task), one row
# per day, store, rule and agent. ``{source}`` ends with its WHERE clause.
_CALL_FIGURES_SQL = """
    SELECT c.day, c.store_id, c.code, c.agent_id, sum(c.n) AS made,
           COALESCE(sum(c.n) FILTER (WHERE c.outcome = ANY(%(reached_outcomes)s)), 0) AS reached,
           sum(c.satisfied) AS satisfied, sum(c.dissatisfied) AS dissatisfied,
           jsonb_object_agg(c.outcome, c.n) AS outcomes,
           {score_sums}
    FROM (
        SELECT (a.at AT TIME ZONE %(tz)s)::date AS day, t.store_id, t.code, a.agent_id, a.outcome,
               count(*) AS n,
               count(*) FILTER (WHERE a.satisfaction >= %(satisfied_score)s) AS satisfied,
               count(*) FILTER (WHERE a.is_dissatisfied) AS dissatisfied,
               {score_counts}
        FROM {source}
        GROUP BY 1, 2, 3, 4, 5
    ) c
    GROUP BY c.day, c.store_id, c.code, c.agent_id
""".replace("{score_sums}", ", ".join(f"sum(c.score_{score}) AS score_{score}" for score in _SCORES)).replace(
    "{score_counts}",
    ", ".join(f"count(*) FILTER (WHERE a.satisfaction = {score}) AS score_{score}" for score in _SCORES),
)
_SCORE_COLUMNS = ", ".join(f"score_{score}" for score in _SCORES)

_STORES_SQL = "(%(all_stores)s OR {column} = ANY(%(store_ids)s))"

_STORE_OF_TASK = _STORES_SQL.format(column="t.store_id")
_STORE_OF_ROW = _STORES_SQL.format(column="f.store_id")

# The bounds are given as values (``since``: the first day's local midnight, ``until``: the one after
# the last day) so that the planner sees how few calls a day holds and reads their tasks by key.
_KEY_ATTEMPTS = f"""{_ATTEMPT_TABLE} a
        JOIN {_TASK_TABLE} t ON t.id = a.task_id
        WHERE a.at >= %(since)s AND a.at < %(until)s AND (a.at AT TIME ZONE %(tz)s)::date = ANY(%(days)s)
          AND {_STORE_OF_TASK}"""

_REFRESH_CALLS_SQL = f"""
    DELETE FROM {DAY_CALLS_TABLE} f WHERE f.day = ANY(%(days)s) AND {_STORE_OF_ROW};
    INSERT INTO {DAY_CALLS_TABLE}
        (day, store_id, code, agent_id, made, reached, satisfied, dissatisfied, outcomes, {_SCORE_COLUMNS})
    {_CALL_FIGURES_SQL.format(source=_KEY_ATTEMPTS)};
"""

_REFRESH_TASKS_SQL = f"""
    DELETE FROM {DAY_TASKS_TABLE} f
    WHERE f.day = ANY(%(days)s) AND {_STORE_OF_ROW};
    INSERT INTO {DAY_TASKS_TABLE} (day, store_id, code, due)
    SELECT t.queue_date, t.store_id, t.code, count(*)
    FROM {_TASK_TABLE} t
    WHERE t.queue_date = ANY(%(days)s) AND {_STORE_OF_TASK}
    GROUP BY t.queue_date, t.store_id, t.code;
"""


# The keys in order (two refreshes of overlapping keys never wait for each other in a circle).
_LOCK_SQL = "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%(keys)s::bigint[]) AS k;"

# A recorded call adds its attempts to their rows. Calls of a key add at the same time (shared
# lock; the upsert orders them); a recount of the key (exclusive lock) waits for them to commit, and
# they wait for it, so none is counted twice or lost.
_OUTCOME_SUMS = """(SELECT COALESCE(jsonb_object_agg(o.key, o.n), '{}'::jsonb) FROM (
        SELECT e.key, sum(e.value::bigint) AS n
        FROM (SELECT * FROM jsonb_each_text(f.outcomes) UNION ALL SELECT * FROM jsonb_each_text(EXCLUDED.outcomes)) e
        GROUP BY e.key) o)"""
# Each saved attempt's task read by its key (LATERAL, OFFSET 0 so that it is not flattened into a
# join): as a join, the planner merged the one attempt with the tasks' primary key read from its
# start (57,881 index entries, 13 ms on the million-owner bench, on every recorded call; 0.9 ms so).
_SAVED_ATTEMPTS = f"""{_ATTEMPT_TABLE} a
        CROSS JOIN LATERAL (SELECT task.store_id, task.code FROM {_TASK_TABLE} task WHERE task.id = a.task_id
                            OFFSET 0) t
        WHERE a.id = ANY(%(attempt_ids)s)"""
_ADDED_COUNTS = ", ".join(
    f"{column} = f.{column} + EXCLUDED.{column}"
    for column in ("made", "reached", "satisfied", "dissatisfied", *(f"score_{score}" for score in _SCORES))
)
_ADD_CALLS_SQL = f"""
    SELECT count(pg_advisory_xact_lock_shared(k)) FROM unnest(%(keys)s::bigint[]) AS k;
    INSERT INTO {DAY_CALLS_TABLE} AS f
        (day, store_id, code, agent_id, made, reached, satisfied, dissatisfied, outcomes, {_SCORE_COLUMNS})
    {_CALL_FIGURES_SQL.format(source=_SAVED_ATTEMPTS)}
    ON CONFLICT (day, store_id, code, agent_id) DO UPDATE SET
        {_ADDED_COUNTS},
        outcomes = {_OUTCOME_SUMS};
"""


def _lock_key(day: datetime.date, store_id: int) -> int:
    return (_LOCK_NAMESPACE << 40) | ((day - _EPOCH).days << 20) | (store_id & 0xFFFFF)


def _params(**values) -> dict:
    return {
        "tz": settings.TIME_ZONE,
        "reached_outcomes": [str(outcome) for outcome in REACHED_OUTCOMES],
        "satisfied_score": SATISFIED_SCORE,
        **values,
    }


def report_figures_refresh(
    *, days: Iterable[datetime.date], store_ids: Iterable[int] | None = None, calls: bool = True, tasks: bool = True
) -> None:
    """Recount the figures of ``days`` × ``store_ids`` (None: every store) from the call attempts
    (``calls``) and the tasks (``tasks``): the keys' rows are deleted and counted again, set-based,
    in the caller's transaction (the keys' locks are held until it ends). Safe to run twice."""
    days = sorted(set(days))
    if not days or not (calls or tasks):
        return
    all_stores = store_ids is None
    store_ids = sorted(set(store_ids)) if store_ids is not None else list(Store.objects.values_list("pk", flat=True))
    params = _params(
        days=days,
        since=local_midnight(days[0]),
        until=local_midnight(days[-1] + datetime.timedelta(days=1)),
        all_stores=all_stores,
        store_ids=store_ids,
    )
    params["keys"] = sorted(_lock_key(day, store_id) for day in days for store_id in store_ids)
    statements = [_LOCK_SQL, _REFRESH_CALLS_SQL if calls else "", _REFRESH_TASKS_SQL if tasks else ""]
    # One round trip; inside the caller's transaction without a savepoint of its own.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute("".join(statements), params)


def report_figures_after_call(*, attempts: list[CallAttempt]) -> None:
    """After a call is recorded (in its transaction): add its attempts (saved, with their tasks) to
    the figures of their day, store, rule and agent. One statement, whatever the day's calls; the
    nightly recount puts right anything this missed."""
    if not attempts:
        return
    keys = {(timezone.localdate(attempt.at), attempt.task.store_id) for attempt in attempts}
    params = {
        **_params(attempt_ids=[attempt.pk for attempt in attempts]),
        "keys": sorted(_lock_key(day, store_id) for day, store_id in keys),
    }
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(_ADD_CALLS_SQL, params)


def report_figures_after_generation(*, day: datetime.date, store_id: int) -> None:
    """After a store's tasks of ``day`` are generated: the day's tasks due of that store."""
    report_figures_refresh(days=[day], store_ids=[store_id], calls=False)


def report_figures_nightly(*, today: datetime.date, days: int | None = None) -> int:
    """The nightly job: recount the last ``days`` days (REPORT_FIGURES_REBUILD_DAYS) through
    ``today`` from scratch. Returns the number of days."""
    start = today - datetime.timedelta(days=(days or REPORT_FIGURES_REBUILD_DAYS) - 1)
    return report_figures_rebuild(start=start, end=today)


def report_figures_rebuild(*, start: datetime.date, end: datetime.date) -> int:
    """Recount every figure of ``start..end`` for every store, one transaction per day (the nightly
    job and the backfill). Returns the number of days."""
    day, count = start, 0
    while day <= end:
        report_figures_refresh(days=[day])
        day += datetime.timedelta(days=1)
        count += 1
    return count


# --- the reports' read ------------------------------------------------------------------------

_RESTRICTED_SQL = ", ".join(f"'{level}'" for level in RESTRICTED_LEVELS)

# One statement: the period's stored figures of the reader's stores, less the live figures of the
# restricted cards the reader may not see (``hidden``), per rule, per agent, per day and per
# outcome, and the tasks due per rule. Columns: kind, key, agent_id, username, last_name,
# first_name, day, position (the agents' order by username), made (due; an outcome's count),
# reached, satisfied, dissatisfied, score_1..5.
_HIDDEN_ATTEMPTS = f"""hidden
        JOIN {_TASK_TABLE} t ON t.customer_id = hidden.id
        JOIN {_ATTEMPT_TABLE} a ON a.task_id = t.id
        WHERE a.at >= %(start)s::timestamp AT TIME ZONE %(tz)s
          AND a.at < (%(end)s::date + 1)::timestamp AT TIME ZONE %(tz)s
          AND {_STORE_OF_TASK}"""
_HIDDEN_CALLS = _CALL_FIGURES_SQL.format(source=_HIDDEN_ATTEMPTS)

HIDDEN_CUSTOMERS_SQL = f"""SELECT cu.id FROM {CUSTOMER_TABLE} cu
        WHERE cu.confidentiality IN ({_RESTRICTED_SQL}) AND NOT {{visible_sql}}"""


def hidden_customers_sql(user) -> tuple[str, dict]:
    """The SELECT of the IDs of the 绝密/机密 cards ``user`` may not see (few: the partial index of
    restricted cards), with its named parameters: what a report takes away from the figures."""
    visible_sql, params = customer_visibility_sql(user, alias="cu")
    return HIDDEN_CUSTOMERS_SQL.format(visible_sql=visible_sql), params


_PERIOD_SQL = f"""
    WITH hidden AS MATERIALIZED ({{hidden_sql}}), calls AS (
        SELECT 1 AS sign, f.day, f.code, f.agent_id, f.made, f.reached, f.satisfied, f.dissatisfied, f.outcomes,
               {_SCORE_COLUMNS}
        FROM {DAY_CALLS_TABLE} f
        WHERE f.day BETWEEN %(start)s AND %(end)s AND {_STORE_OF_ROW}
        UNION ALL
        SELECT -1, h.day, h.code, h.agent_id, h.made, h.reached, h.satisfied, h.dissatisfied, h.outcomes,
               {_SCORE_COLUMNS}
        FROM ({_HIDDEN_CALLS}) h
    ), due AS (
        SELECT f.code, f.due FROM {DAY_TASKS_TABLE} f
        WHERE f.day BETWEEN %(start)s AND %(end)s AND {_STORE_OF_ROW}
        UNION ALL
        SELECT t.code, -count(*) FROM hidden JOIN {_TASK_TABLE} t ON t.customer_id = hidden.id
        WHERE t.queue_date BETWEEN %(start)s AND %(end)s AND {_STORE_OF_TASK}
        GROUP BY t.code
    )
    SELECT 'rule', c.code, NULL::bigint, NULL, NULL, NULL, NULL::date, NULL::bigint, {{sums}}
    FROM calls c GROUP BY c.code
    UNION ALL
    SELECT 'due', d.code, NULL, NULL, NULL, NULL, NULL, NULL, sum(d.due), 0, 0, 0, 0, 0, 0, 0, 0
    FROM due d GROUP BY d.code
    UNION ALL
    SELECT 'agent', NULL, u.id, u.username, u.last_name, u.first_name, NULL,
           row_number() OVER (ORDER BY u.username), {{sums}}
    FROM calls c LEFT JOIN {User._meta.db_table} u ON u.id = c.agent_id
    GROUP BY u.id, u.username, u.last_name, u.first_name
    UNION ALL
    SELECT 'day', NULL, NULL, NULL, NULL, NULL, c.day, NULL, {{sums}}
    FROM calls c GROUP BY c.day
    UNION ALL
    SELECT 'outcome', o.key, NULL, NULL, NULL, NULL, NULL, NULL, sum(c.sign * o.value::bigint), 0, 0, 0, 0, 0, 0, 0, 0
    FROM calls c CROSS JOIN LATERAL jsonb_each_text(c.outcomes) AS o
    GROUP BY o.key
""".replace(
    "{sums}",
    ", ".join(
        f"sum(c.sign * c.{column})"
        for column in ("made", "reached", "satisfied", "dissatisfied", *(f"score_{score}" for score in _SCORES))
    ),
)


def period_figures(*, user, store_ids: list[int] | None, start: datetime.date, end: datetime.date) -> dict:
    """The period's figures of the stores ``store_ids`` (None: every store) as ``user`` may see
    them, from the per-day tables: {"rule": {code: figures}, "due": {code: n}, "agent": [figures
    with the agent's names, by username], "day": {day: figures}, "outcome": {outcome: n}}; a figures dict has
    made, reached, satisfied, dissatisfied and scores (counts of 1..5). Groups with nothing (no
    call; no task due) are left out. One query, on the replica when the page reads from one."""
    hidden_sql, hidden_params = hidden_customers_sql(user)
    params = _params(
        **hidden_params, start=start, end=end, all_stores=store_ids is None, store_ids=list(store_ids or [])
    )
    with connections[router.db_for_read(FollowupDayCalls)].cursor() as cursor:
        cursor.execute(_PERIOD_SQL.format(hidden_sql=hidden_sql), params)
        rows = cursor.fetchall()
    result: dict = {"rule": {}, "due": {}, "agent": [], "day": {}, "outcome": {}}
    for kind, key, agent_id, username, last_name, first_name, day, position, made, *counts in rows:
        reached, satisfied, dissatisfied, *scores = counts
        if not made:
            continue
        if kind == "due":
            result["due"][key] = int(made)
            continue
        if kind == "outcome":
            result["outcome"][key] = int(made)
            continue
        figures = {
            "made": int(made),
            "reached": int(reached),
            "satisfied": int(satisfied),
            "dissatisfied": int(dissatisfied),
            "scores": [int(count) for count in scores],
        }
        if kind == "rule":
            result["rule"][key] = figures
        elif kind == "day":
            result["day"][day] = figures
        else:
            result["agent"].append(
                {"agent_id": agent_id, "agent__username": username, "agent__last_name": last_name,
                 "agent__first_name": first_name, "position": position, **figures}
            )  # fmt: skip
    result["agent"].sort(key=lambda row: row["position"])
    return result


def report_figures_earliest_day() -> datetime.date | None:
    """The first day with a task due or a call (where a full backfill starts); two index reads."""
    first_task = FollowupTask.objects.order_by("queue_date").values_list("queue_date", flat=True).first()
    first_call = CallAttempt.objects.order_by("at").values_list("at", flat=True).first()
    days = [day for day in (first_task, first_call and timezone.localdate(first_call)) if day]
    return min(days) if days else None
