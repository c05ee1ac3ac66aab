"""crm.bulk: a write that at least doubles a table builds the table's indexes and checks its foreign
keys once afterwards, inside the caller's transaction; nothing else about the table changes."""

import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction

from crm import bulk
from customers.models import Vehicle
from tests.factories import CustomerFactory, VehicleFactory

pytestmark = pytest.mark.django_db


def definitions(table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname", [table])
        indexes = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid), condeferrable, condeferred FROM pg_constraint "
            "WHERE conrelid = %s::regclass ORDER BY conname",
            [table],
        )
        return indexes, cursor.fetchall()


def insert_vehicle_copies(cursor, customer_id, store_id, count):
    cursor.execute(
        """
        INSERT INTO customers_vehicle (vin, customer_id, store_id, plate_no, brand, series, model, color,
                                       sales_consultant, insurer, status, status_source, created_at, updated_at)
        SELECT 'VIN' || n, %s, %s, '', '', '', '', '', '', '', 'active', '', now(), now()
        FROM generate_series(1, %s) n
        """,
        [customer_id, store_id, count],
    )


@pytest.fixture
def small_bulk(settings):
    settings.BULK_LOAD_MINIMUM_ROWS = 2


def test_a_bulk_load_keeps_every_index_and_constraint_as_it_was(small_bulk):
    customer = CustomerFactory()
    before = definitions("customers_vehicle")
    assert len(before[0]) > 5
    assert any(name.endswith("_fk_customers_customer_id") for name, *_ in before[1])

    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        bulk.bulk_load(cursor, "customers_vehicle", new_rows=3) as taken,
    ):
        assert taken
        assert len(definitions("customers_vehicle")[0]) == 2  # the primary key and the VIN's unique index
        insert_vehicle_copies(cursor, customer.pk, customer.store_id, 3)

    assert definitions("customers_vehicle") == before
    assert Vehicle.objects.count() == 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'customers_vehicle'")
        assert cursor.fetchone()[0] == 3  # the planner knows the new size


def test_small_writes_and_tables_already_larger_are_written_row_by_row(small_bulk):
    customer = CustomerFactory()
    VehicleFactory.create_batch(3, customer=customer, store=customer.store)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_vehicle")  # the size the rule reads, whatever earlier runs left
        for new_rows in (1, 2):  # below the minimum; fewer than the table holds
            with bulk.bulk_load(cursor, "customers_vehicle", new_rows=new_rows) as taken:
                assert not taken


def test_bulk_loads_can_be_turned_off(settings):
    settings.BULK_LOAD_MINIMUM_ROWS = 0
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        bulk.bulk_load(cursor, "customers_vehicle", new_rows=10**6) as taken,
    ):
        assert not taken


def test_a_foreign_key_the_load_broke_fails_the_whole_transaction(small_bulk):
    customer = CustomerFactory()
    before = definitions("customers_vehicle")

    with (
        pytest.raises(IntegrityError),
        transaction.atomic(),
        connection.cursor() as cursor,
        bulk.bulk_load(cursor, "customers_vehicle", new_rows=3),
    ):
        insert_vehicle_copies(cursor, customer.pk + 1000, customer.store_id, 3)

    assert definitions("customers_vehicle") == before
    assert Vehicle.objects.count() == 0


def test_a_failure_inside_rolls_back_the_rows_and_the_dropped_indexes(small_bulk):
    customer = CustomerFactory()
    before = definitions("customers_vehicle")

    def load_then_fail():
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            bulk.bulk_load(cursor, "customers_vehicle", new_rows=3),
        ):
            insert_vehicle_copies(cursor, customer.pk, customer.store_id, 3)
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        load_then_fail()

    assert definitions("customers_vehicle") == before
    assert Vehicle.objects.count() == 0


def test_a_role_that_does_not_own_the_table_writes_it_row_by_row(small_bulk):
    customer = CustomerFactory()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE ROLE crm_rows_only NOLOGIN")  # rolled back with the test
        cursor.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO crm_rows_only")
        cursor.execute("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO crm_rows_only")
        cursor.execute("SET LOCAL ROLE crm_rows_only")
        with bulk.bulk_load(cursor, "customers_vehicle", new_rows=3) as taken:
            insert_vehicle_copies(cursor, customer.pk, customer.store_id, 3)
        cursor.execute("RESET ROLE")

    assert not taken
    assert Vehicle.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_table_someone_is_reading_is_written_row_by_row_after_the_lock_timeout(small_bulk, monkeypatch):
    monkeypatch.setattr(bulk, "LOCK_TIMEOUT", "200ms")
    customer = CustomerFactory()
    reading, done = threading.Event(), threading.Event()

    def reader():
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute("SELECT count(*) FROM customers_vehicle")
                reading.set()
                done.wait(10)
                cursor.execute("ROLLBACK")
        finally:
            other.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert reading.wait(10)
        with transaction.atomic(), connection.cursor() as cursor:
            with bulk.bulk_load(cursor, "customers_vehicle", new_rows=3) as taken:
                insert_vehicle_copies(cursor, customer.pk, customer.store_id, 3)
            cursor.execute("SHOW lock_timeout")
            assert cursor.fetchone()[0] == "0"
    finally:
        done.set()
        thread.join()

    assert not taken
    assert Vehicle.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_bulk_load_needs_a_transaction():
    with (
        connection.cursor() as cursor,
        pytest.raises(RuntimeError, match="transaction"),
        bulk.bulk_load(cursor, "customers_vehicle", new_rows=10**6),
    ):
        pass


def test_copy_rows_writes_the_values_as_given_in_order():
    """COPY's text format: NULL for None, tabs, newlines, carriage returns and backslashes kept."""
    from customers.models import ImportBatch, ImportIssue

    batch = ImportBatch.objects.create(kind="customers", file_name="f.csv")
    values = ["plain", "tab\there", "line\nbreak", "carriage\rreturn", "back\\slash \\N", "", "张伟"]
    with connection.cursor() as cursor:
        bulk.copy_rows(
            cursor,
            ImportIssue._meta.db_table,
            ["batch_id", "row_number", "column", "value", "reason", "reason_params", "severity"],
            [
                (batch.pk, number, "", value, "r", '{"max": 3}' if number == 2 else None, "warning")
                for number, value in enumerate(values, start=1)
            ],
        )
        bulk.copy_rows(cursor, ImportIssue._meta.db_table, ["batch_id"], [])  # nothing to write: no COPY
    issues = list(ImportIssue.objects.filter(batch=batch).order_by("id"))
    assert [(issue.row_number, issue.value) for issue in issues] == list(enumerate(values, start=1))
    assert [issue.reason_params for issue in issues] == [None, {"max": 3}, None, None, None, None, None]
