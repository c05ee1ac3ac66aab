"""The typed questionnaires' figures for the follow-up reports: the score questions answered on
calls, averaged per satisfaction factor (followups/questionnaires.py describes the answers)."""

from __future__ import annotations

import datetime

from django.db import connections, router

from crm.calendar import local_midnight
from crm.scoping import scope_to_user_stores
from customers.selectors import customer_visible_to
from followups.models import CallAttempt
from followups.questionnaires import QuestionType


def questionnaire_factor_scores(*, user, start: datetime.date, end: datetime.date) -> list[dict]:
    """Score questions answered on the calls of a period (local dates, both included) that ``user``
    may see: one row per satisfaction factor (a score question without a factor: per question
    text), ``{"factor", "question", "count", "average"}``, factors first, then by question. One
    statement after the user's scope."""
    # A range on the indexed timestamp (local midnights) and the few cards the user may not see
    # (customer_visible_to), not ``at__date`` and a visibility test per task: no scan of every call.
    # The period's calls are the statement's rows themselves: as ``id IN (those calls)`` the
    # planner hashed them and scanned every call of the table (110 ms on 500,000 calls, 4 ms now).
    attempts = (
        scope_to_user_stores(
            CallAttempt.objects.filter(
                at__gte=local_midnight(start), at__lt=local_midnight(end + datetime.timedelta(days=1))
            ).filter(customer_visible_to(user)),
            user,
            store_field="task__store",
        )
        .order_by()
        .values("pk", "answers")
    )
    attempts_sql, params = attempts.query.sql_with_params()
    sql = f"""
        SELECT NULLIF(a.value->>'factor', '') AS factor,
               MIN(a.value->>'question') AS question,
               COUNT(*) AS answers,
               ROUND(AVG((a.value->>'value')::numeric), 2) AS average
        FROM ({attempts_sql}) ca
        CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(ca.answers) = 'object' THEN ca.answers
                                           ELSE '{{}}'::jsonb END) a
        WHERE jsonb_typeof(a.value) = 'object'
          AND a.value->>'type' = %s
          AND jsonb_typeof(a.value->'value') = 'number'
        GROUP BY COALESCE(NULLIF(a.value->>'factor', ''), '?' || (a.value->>'question')),
                 NULLIF(a.value->>'factor', '')
        ORDER BY (NULLIF(a.value->>'factor', '') IS NULL), 1, 2
    """
    # A report page reads from the replica when one is configured (crm/replicas.py): so does this SQL.
    with connections[router.db_for_read(CallAttempt)].cursor() as cursor:
        cursor.execute(sql, [*params, QuestionType.SCORE.value])
        return [
            {"factor": factor or "", "question": question, "count": count, "average": average}
            for factor, question, count, average in cursor.fetchall()
        ]
