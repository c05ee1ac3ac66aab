"""What the bench scripts share: a bench database made afresh, and fill-in columns for set-based loads.

Imported by the scripts (their folder is on ``sys.path`` when run as ``python bench/….py``), after
Django is set up: ``filler_columns`` reads the live schema, so other apps' columns never break a load.
"""

import os
from urllib.parse import urlparse

import psycopg2
from django.db import connection

NEUTRAL = {"boolean": "false", "integer": "0", "bigint": "0", "smallint": "0", "date": "current_date",
           "timestamp with time zone": "now()", "jsonb": "'{}'::jsonb", "numeric": "0"}  # fmt: skip


def recreate_database() -> None:
    """Drop and create the database ``DATABASE_URL`` names (connected to ``postgres``)."""
    url = urlparse(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    admin = psycopg2.connect(
        host=url.hostname, port=url.port or 5432, user=url.username or "postgres", dbname="postgres"
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def filler_columns(table: str, given: dict[str, str]) -> tuple[str, str]:
    """Column list and SELECT expressions: ``given`` plus a neutral value for every other NOT NULL
    column without a default (other apps may add columns to the tables)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY ordinal_position",
            [table],
        )
        columns = cursor.fetchall()
    names, expressions = [], []
    for name, data_type, nullable, default in columns:
        if name in given:
            names.append(name)
            expressions.append(given[name])
        elif nullable == "NO" and default is None and name != "id":
            names.append(name)
            expressions.append(NEUTRAL.get(data_type, "''"))
    return ", ".join(names), ", ".join(expressions)
