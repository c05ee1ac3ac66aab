"""Reads PostgreSQL plans once per connection (crm.prepared): prepared on first use, run with
each call's values, never breaking a transaction, prepared again on a new connection."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from crm import prepared
from crm.compiled_reads import compiled_read
from crm.models import Store
from tests.factories import StoreFactory

SQL = 'SELECT "code" FROM "crm_store" WHERE "id" = %s AND "name" LIKE %s'


def _prepared_here(sql: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = %s", [prepared.statement_name(sql)])
        return cursor.fetchone()[0] == 1


def _run(sql: str, params: list) -> list:
    with connection.cursor() as cursor:
        prepared.execute(cursor, sql, params)
        return cursor.fetchall()


@pytest.mark.django_db
def test_a_statement_is_prepared_once_and_run_with_each_calls_values():
    one, two = StoreFactory(code="S1", name="一店"), StoreFactory(code="S2", name="二店")
    sql = SQL + " -- test_a_statement_is_prepared_once"  # its own text: not prepared by another test

    assert not _prepared_here(sql)
    with CaptureQueriesContext(connection) as queries:
        first = _run(sql, [one.pk, "一%"])
        second = _run(sql, [two.pk, "二%"])
        neither = _run(sql, [two.pk, "一%"])

    assert (first, second, neither) == ([("S1",)], [("S2",)], [])
    # Counted once each, as the statement itself would be: the PREPARE is not one of them.
    name = prepared.statement_name(sql)
    assert [query["sql"] for query in queries] == [
        f"EXECUTE {name}({one.pk}, '一%')",
        f"EXECUTE {name}({two.pk}, '二%')",
        f"EXECUTE {name}({two.pk}, '一%')",
    ]
    assert _prepared_here(sql)
    assert prepared.statement_text(queries[0]["sql"]) == sql
    assert prepared.statement_text("SELECT 1") == "SELECT 1"


@pytest.mark.django_db
def test_a_literal_percent_sign_and_a_statement_without_values():
    StoreFactory(code="S1", name="50%店")
    assert _run('SELECT "code" FROM "crm_store" WHERE "name" LIKE \'%%\\%%%%\' AND "code" = %s', ["S1"]) == [("S1",)]
    assert _run('SELECT count(*) FROM "crm_store" WHERE "name" LIKE \'%%店\'', []) == [(1,)]


@pytest.mark.django_db
def test_a_statement_postgresql_cannot_prepare_runs_plainly_and_keeps_the_transaction():
    sql = "SELECT %s IS NULL -- test_a_statement_postgresql_cannot_prepare"  # the value's type is unknown
    with transaction.atomic():
        assert _run(sql, [None]) == [(True,)]
        assert Store.objects.count() == 0  # the transaction is still usable
    with CaptureQueriesContext(connection) as queries:
        assert _run(sql, ["x"]) == [(False,)]
    assert queries[0]["sql"] == "SELECT 'x' IS NULL -- test_a_statement_postgresql_cannot_prepare"
    assert sql in prepared._UNPREPARABLE


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_and_again_on_a_new_connection():
    store = StoreFactory(code="S1", name="一店")
    sql = SQL + " -- test_outside_a_transaction"
    assert _run(sql, [store.pk, "%"]) == [("S1",)]  # autocommit: prepared without a savepoint
    connection.close()
    assert not _prepared_here(sql)  # a new connection has none of the old one's
    assert _run(sql, [store.pk, "%"]) == [("S1",)]
    assert _prepared_here(sql)


@pytest.mark.django_db
def test_prepared_by_code_that_did_not_note_it():
    store = StoreFactory(code="S1", name="一店")
    sql = SQL + " -- test_prepared_by_code_that_did_not_note_it"
    _run(sql, [store.pk, "%"])
    prepared._PREPARED[connection.connection].discard(prepared.statement_name(sql))
    assert _run(sql, [store.pk, "%"]) == [("S1",)]


@pytest.mark.django_db
def test_a_prefix_runs_in_the_same_round_trip():
    store = StoreFactory(code="S1", name="一店")
    sql = SQL + " -- test_a_prefix"
    with transaction.atomic(), CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        prepared.execute(cursor, sql, [store.pk, "%"], prefix="SET LOCAL synchronous_commit TO OFF; ")
        assert cursor.fetchall() == [("S1",)]
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("off",)
    assert queries[0]["sql"].startswith("SET LOCAL synchronous_commit TO OFF; EXECUTE crm_")


@pytest.mark.django_db
def test_off_in_the_settings_the_statement_is_sent_as_it_is(settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    store = StoreFactory(code="S1", name="一店")
    sql = SQL + " -- test_off_in_the_settings"
    with CaptureQueriesContext(connection) as queries:
        assert _run(sql, [store.pk, "一%"]) == [("S1",)]
    assert queries[0]["sql"].startswith('SELECT "code" FROM "crm_store"')
    assert not _prepared_here(sql)


@pytest.mark.django_db
def test_a_statement_compiled_for_one_run_is_not_prepared():
    store = StoreFactory(code="S1", name="一店")
    sql = SQL + " -- test_a_statement_compiled_for_one_run"
    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        prepared.execute(cursor, sql, [store.pk, "一%"], reused=False)
        assert cursor.fetchall() == [("S1",)]
    assert queries[0]["sql"].startswith('SELECT "code" FROM "crm_store"')
    assert not _prepared_here(sql)


@pytest.mark.django_db
def test_a_compiled_read_is_a_prepared_statement():
    one, two = StoreFactory(code="S1"), StoreFactory(code="S2")

    def build(*, pk):
        return Store.objects.filter(pk=pk).values_list("code", flat=True)

    key = ("test prepared store code",)
    assert compiled_read(key, build, pk=one.pk) == ["S1"]
    with CaptureQueriesContext(connection) as queries:
        assert compiled_read(key, build, pk=two.pk) == ["S2"]
    [query] = queries.captured_queries
    assert query["sql"].startswith("EXECUTE crm_")
    assert prepared.statement_text(query["sql"]) == (
        'SELECT "crm_store"."code" AS "code" FROM "crm_store" WHERE "crm_store"."id" = %s ORDER BY 1 ASC'
    )


@pytest.mark.django_db
def test_in_text_writes_a_code_into_the_statement_not_its_values():
    StoreFactory(code="S1")
    StoreFactory(code="S2")
    stores = Store.objects.filter(code=prepared.InText("S1")).order_by().values_list("code", flat=True)

    sql, params = stores.query.sql_with_params()
    assert sql.endswith('"crm_store"."code" = (\'S1\')')
    assert params == ()
    assert list(stores) == ["S1"]


@pytest.mark.parametrize("value", ["o'pen", "open phone", "", "开"])
def test_in_text_refuses_what_would_need_quoting(value):
    with pytest.raises(ValueError, match="letters, digits and underscores"):
        prepared.InText(value)
