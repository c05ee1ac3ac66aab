"""The follow-up reports counted from scratch, as they were before the per-day figures
(followups/report_figures.py): every call attempt and task of the period, visibility checked per row,
and the funnel's first reaching call searched among all calls ever. Kept as the reference the
tests compare the reports with; the pages do not use it."""

import datetime

from django.conf import settings
from django.db import connections, router
from django.db.models import Count, Q

from crm.models import User
from crm.scoping import visible_store_ids
from customers.satisfaction import SATISFIED_SCORE
from customers.selectors import CUSTOMER_TABLE, REPAIR_ORDER_TABLE, customer_visibility_sql
from customers.selectors.appointments import APPOINTMENT_TABLE, appointment_booked_from_task_sql
from followups.choices import REACHED_OUTCOMES, CallOutcome, Channel, RuleCode
from followups.models import CallAttempt, FollowupTask
from followups.selectors import FUNNEL_REPAIR_ORDER_DAYS, REACHING_OUTCOMES, _visible_tasks, funnel_figures


def completion_report_recount(*, user, start: datetime.date, end: datetime.date) -> dict:
    """Per rule and per agent: tasks due, calls made, reached, satisfied (score ≥ 4), dissatisfied."""
    attempts = CallAttempt.objects.filter(at__date__gte=start, at__date__lte=end, task__in=_visible_tasks(user))
    figures = {
        "made": Count("id"),
        "reached": Count("id", filter=Q(outcome__in=REACHED_OUTCOMES)),
        "satisfied": Count("id", filter=Q(satisfaction__gte=SATISFIED_SCORE)),
        "dissatisfied": Count("id", filter=Q(is_dissatisfied=True)),
    }
    due = {
        row["code"]: row["count"]
        for row in _visible_tasks(user)
        .filter(queue_date__gte=start, queue_date__lte=end)
        .values("code")
        .annotate(count=Count("id"))
    }
    labels = dict(RuleCode.choices)
    by_rule = [
        {**row, "label": labels.get(row["task__code"], row["task__code"]), "due": due.get(row["task__code"], 0)}
        for row in attempts.values("task__code").annotate(**figures).order_by("task__code")
    ]
    for code, count in due.items():
        if not any(row["task__code"] == code for row in by_rule):
            by_rule.append(
                {"task__code": code, "label": labels.get(code, code), "due": count, "made": 0, "reached": 0,
                 "satisfied": 0, "dissatisfied": 0}
            )  # fmt: skip
    by_agent = list(
        attempts.values("agent_id", "agent__username", "agent__last_name", "agent__first_name")
        .annotate(**figures)
        .order_by("agent__username")
    )
    return {"by_rule": sorted(by_rule, key=lambda row: row["task__code"]), "by_agent": by_agent}


def call_funnel_report_recount(*, user, start: datetime.date, end: datetime.date) -> dict:
    """The calls' funnel of a period, per rule and per agent: phone tasks reached (their first
    reaching call in the period, by whoever made it), booked (an appointment made from the task's
    call), kept (that appointment kept), and the repair orders of the task's vehicle opened within
    FUNNEL_REPAIR_ORDER_DAYS days after the reaching call, with their revenue (sum of the orders'
    totals; an order counts once per rule and once per agent). The rates are booked/reached,
    kept/booked and orders/reached. One query."""
    store_ids = visible_store_ids(user)
    visible_sql, params = customer_visibility_sql(user, alias="cu")
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
        WITH first_reach AS (
            SELECT DISTINCT ON (a.task_id) a.task_id, a.agent_id, (a.at AT TIME ZONE %(tz)s)::date AS call_day,
                   t.code, t.vehicle_id
            FROM {CallAttempt._meta.db_table} a
            JOIN {FollowupTask._meta.db_table} t ON t.id = a.task_id
            JOIN {CUSTOMER_TABLE} cu ON cu.id = t.customer_id
            WHERE a.outcome = ANY(%(outcomes)s) AND t.channel = %(phone)s {store_sql} AND {visible_sql}
            ORDER BY a.task_id, a.at, a.id
        ), reached AS (
            SELECT r.*,
                   EXISTS (SELECT 1 FROM {APPOINTMENT_TABLE} ap WHERE {booked_sql}) AS booked,
                   EXISTS (SELECT 1 FROM {APPOINTMENT_TABLE} ap WHERE {booked_sql} AND ap.kept_at IS NOT NULL) AS kept
            FROM first_reach r WHERE r.call_day BETWEEN %(start)s AND %(end)s
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


def call_summary_recount(*, user, start: datetime.date, end: datetime.date) -> dict:
    """The call-summary report (回访总结报告) of a period: outcomes, satisfaction, dissatisfied customers."""
    attempts = CallAttempt.objects.filter(at__date__gte=start, at__date__lte=end, task__in=_visible_tasks(user))
    outcome_labels = dict(CallOutcome.choices)
    outcomes = [
        {"outcome": row["outcome"], "label": outcome_labels.get(row["outcome"], row["outcome"]), "count": row["count"]}
        for row in attempts.values("outcome").annotate(count=Count("id")).order_by("outcome")
    ]
    satisfaction = {row["satisfaction"]: row["count"] for row in
                    attempts.exclude(satisfaction=None).values("satisfaction").annotate(count=Count("id"))}  # fmt: skip
    daily = list(
        attempts.values("at__date")
        .annotate(made=Count("id"), reached=Count("id", filter=Q(outcome__in=REACHED_OUTCOMES)))
        .order_by("at__date")
    )
    dissatisfied = list(
        attempts.filter(is_dissatisfied=True).select_related("customer", "task", "agent").order_by("-at")[:100]
    )
    total = attempts.count()
    reached = sum(row["count"] for row in outcomes if row["outcome"] in REACHED_OUTCOMES)
    scores = [score for score, count in satisfaction.items() for _ in range(count)]
    return {
        "total": total,
        "reached": reached,
        "reach_rate": round(100 * reached / total, 1) if total else 0,
        "average_satisfaction": round(sum(scores) / len(scores), 2) if scores else None,
        "outcomes": outcomes,
        "satisfaction": [satisfaction.get(score, 0) for score in range(1, 6)],
        "daily": daily,
        "dissatisfied": dissatisfied,
    }
