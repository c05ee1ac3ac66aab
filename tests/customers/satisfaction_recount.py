"""The monthly satisfaction figures counted from scratch, and "Satisfaction over time" as it was
computed before them (every result of the period aggregated live, the advisor and the consultant of
record looked up per result). Kept as the references the tests compare with; the page uses neither."""

import datetime
from collections import defaultdict

from django.conf import settings
from django.db import connection
from django.utils import timezone

from crm.calendar import add_months, local_midnight
from customers.models import SatisfactionMonth, SatisfactionResult

Key = tuple[datetime.date, int, str, str]
Counts = tuple[int, ...]  # results, scored, score_sum, dissatisfied, score_1 .. score_5


def rule_key(result: SatisfactionResult) -> str:
    if result.source == "delivery_interview" or not result.rule_code:
        return f"source:{result.source}"
    return result.rule_code


def recount() -> dict[Key, Counts]:
    """Every result in Python, by its month, store of record and group of each dimension."""
    figures: dict[Key, list[int]] = defaultdict(lambda: [0] * 9)
    for result in SatisfactionResult.objects.all():
        month = timezone.localdate(result.at).replace(day=1)
        groups = (("rule", rule_key(result)), ("advisor", result.service_advisor),
                  ("consultant", result.sales_consultant))  # fmt: skip
        for dimension, key in groups:
            row = figures[(month, result.store_id, dimension, key)]
            row[0] += 1
            row[1] += result.score is not None
            row[2] += result.score or 0
            row[3] += result.verdict == "dissatisfied"
            if result.score is not None:
                row[3 + result.score] += 1
    return {key: tuple(row) for key, row in figures.items()}


def kept() -> dict[Key, Counts]:
    return {
        (row.month, row.store_id, row.dimension, row.key): (
            row.results, row.scored, row.score_sum, row.dissatisfied,
            row.score_1, row.score_2, row.score_3, row.score_4, row.score_5,
        )
        for row in SatisfactionMonth.objects.all()
    }  # fmt: skip


def assert_kept_equals_recount() -> None:
    assert SatisfactionResult.objects.filter(store=None).count() == 0, "every result is credited"
    assert kept() == recount()


# --- the page before the monthly figures (its SQL as it was) ---------------------------------------

_LOCAL_DAY = "(sr.at AT TIME ZONE %(tz)s)::date"
_KEYS = {
    "rule": """CASE WHEN sr.source = 'delivery_interview' THEN 'source:' || sr.source
                    WHEN sr.rule_code <> '' THEN sr.rule_code ELSE 'source:' || sr.source END""",
    "store": "c.store_id::text",
    "advisor": "COALESCE(advisor.name, '')",
    "consultant": "COALESCE(consultant.name, '')",
}
_JOINS = {
    "advisor": f"""LEFT JOIN LATERAL (
        SELECT ro.service_advisor AS name
        FROM customers_repairorder ro JOIN customers_vehicle rv ON rv.id = ro.vehicle_id
        WHERE rv.customer_id = sr.customer_id AND ro.settle_date <= {_LOCAL_DAY}
        ORDER BY ro.settle_date DESC, ro.id DESC LIMIT 1) advisor ON true""",
    "consultant": f"""LEFT JOIN LATERAL (
        SELECT cv.sales_consultant AS name
        FROM customers_vehicle cv
        WHERE cv.customer_id = sr.customer_id AND cv.delivery_date <= {_LOCAL_DAY}
        ORDER BY cv.delivery_date DESC, cv.id DESC LIMIT 1) consultant ON true""",
}


def live_trend(*, store_ids: list[int], first: datetime.date, last: datetime.date, grouping: str):
    """The old live computation: ({(key, month): (results, scored, score_sum, dissatisfied)},
    {score or None: count})."""
    params = {
        "tz": settings.TIME_ZONE,
        "store_ids": list(store_ids),
        "start": local_midnight(first),
        "end": local_midnight(add_months(last, 1)),
    }
    where = f"""FROM customers_satisfactionresult sr JOIN customers_customer c ON c.id = sr.customer_id
        {_JOINS.get(grouping, "")}
        WHERE c.store_id = ANY(%(store_ids)s) AND sr.at >= %(start)s AND sr.at < %(end)s"""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT {_KEYS[grouping]} AS key, date_trunc('month', sr.at AT TIME ZONE %(tz)s)::date AS month,
                       count(*), count(sr.score), COALESCE(sum(sr.score), 0),
                       count(*) FILTER (WHERE sr.verdict = 'dissatisfied')
                {where} GROUP BY 1, 2""",
            params,
        )
        rows = {(key, month): tuple(counts) for key, month, *counts in cursor.fetchall()}
        cursor.execute(f"SELECT sr.score, count(*) {where} GROUP BY 1", params)
        scores = dict(cursor.fetchall())
    return rows, scores
