"""The typed questionnaires' figures for the follow-up reports: the score questions answered on
calls, averaged per satisfaction factor (followups/questionnaires.py describes the answers)."""

from __future__ import annotations

import datetime

from django.db import connection

from crm.scoping import scope_to_user_stores
from customers.selectors import customer_visibility_condition
from followups.models import CallAttempt, FollowupTask
from followups.questionnaires import QuestionType


def questionnaire_factor_scores(*, user, start: datetime.date, end: datetime.date) -> list[dict]:
    """Score questions answered on the calls of a period (local dates, both included) that ``user``
    may see: one row per satisfaction factor (a score question without a factor: per question
    text), ``{"factor", "question", "count", "average"}``, factors first, then by question. One
    statement after the user's scope."""
    tasks = scope_to_user_stores(FollowupTask.objects.all(), user).filter(
        customer_visibility_condition(user, prefix="customer__")
    )
    attempts = CallAttempt.objects.filter(at__date__gte=start, at__date__lte=end, task__in=tasks).values("pk")
    attempts_sql, params = attempts.query.sql_with_params()
    table = CallAttempt._meta.db_table
    sql = f"""
        SELECT NULLIF(a.value->>'factor', '') AS factor,
               MIN(a.value->>'question') AS question,
               COUNT(*) AS answers,
               ROUND(AVG((a.value->>'value')::numeric), 2) AS average
        FROM {table} ca
        CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(ca.answers) = 'object' THEN ca.answers
                                           ELSE '{{}}'::jsonb END) a
        WHERE ca.id IN ({attempts_sql})
          AND jsonb_typeof(a.value) = 'object'
          AND a.value->>'type' = %s
          AND jsonb_typeof(a.value->'value') = 'number'
        GROUP BY COALESCE(NULLIF(a.value->>'factor', ''), '?' || (a.value->>'question')),
                 NULLIF(a.value->>'factor', '')
        ORDER BY (NULLIF(a.value->>'factor', '') IS NULL), 1, 2
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, QuestionType.SCORE.value])
        return [
            {"factor": factor or "", "question": question, "count": count, "average": average}
            for factor, question, count, average in cursor.fetchall()
        ]
