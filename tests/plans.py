"""Query plans in tests: what PostgreSQL would do on a big table, asked of a tiny one."""

from django.db import connection


def plan_without_sequential_scans(sql: str, params=None) -> str:
    """``EXPLAIN`` of ``sql`` with sequential scans discouraged: on a test database of a few rows the
    planner would read every table whole; discouraged, it still must when no index can answer."""
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan")
