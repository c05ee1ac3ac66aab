"""Listeners after a DMS import: called once after a batch commits, never after a rolled-back or
failed one nor a preview; one failing listener is logged and neither undoes the import nor stops
the others."""

import logging

import pytest
from django.core.management.base import CommandError
from django.db import transaction

from customers.import_listeners import (
    ImportCommitted,
    import_listener_register,
    import_listener_unregister,
    import_listeners,
)
from customers.models import Customer, CustomerStats, ImportBatch
from tests.customers.dms_helpers import customer_row, run_import, write_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    events = []
    import_listener_register("tests.heard", events.append)
    yield events
    import_listener_unregister("tests.heard")


@pytest.fixture
def customers_file(tmp_path, store_a):
    return write_csv(tmp_path / "c.csv", [customer_row("C001"), customer_row("C002", 客户姓名="李娜")])


def test_the_segment_facts_refresh_is_the_first_listener():
    assert [name for name, _listener in import_listeners()][:1] == ["customers.segment_facts"]


def test_a_registered_listener_is_called_once_after_the_import_commits(
    customers_file, heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run_import("customers", customers_file)
        assert heard == []  # not before the commit

    batch = ImportBatch.objects.get()
    ids = tuple(sorted(Customer.objects.values_list("pk", flat=True)))
    assert heard == [ImportCommitted(kind="customers", batch_id=batch.pk, customer_ids=ids)]
    # The first listener ran too: the touched customers' segment facts exist.
    assert sorted(CustomerStats.objects.values_list("customer_id", flat=True)) == list(ids)


def _import_in_a_transaction_that_fails(path):
    with transaction.atomic():
        run_import("customers", path)
        raise RuntimeError("the caller's transaction fails after the import")


def test_no_listener_after_a_rolled_back_import(customers_file, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        _import_in_a_transaction_that_fails(customers_file)

    assert (heard, callbacks, Customer.objects.count()) == ([], [], 0)


def test_no_listener_after_a_failed_import_or_a_preview(
    tmp_path, customers_file, heard, django_capture_on_commit_callbacks
):
    unreadable = tmp_path / "bad.csv"
    unreadable.write_bytes("客户编号\nC001\n".encode("utf-16"))

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(CommandError):
            run_import("customers", unreadable)
        run_import("customers", customers_file, "--dry-run")

    assert (heard, Customer.objects.count()) == ([], 0)


def test_a_failing_listener_is_logged_and_stops_neither_the_import_nor_the_others(
    customers_file, django_capture_on_commit_callbacks, caplog
):
    events = []

    def broken(event):
        Customer.objects.update(name="改坏了")  # rolled back with the listener's own transaction
        raise ValueError("the club's points table is missing")

    import_listener_register("tests.broken", broken)
    import_listener_register("tests.after_broken", events.append)
    try:
        with (
            caplog.at_level(logging.ERROR, logger="customers.import_listeners"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            run_import("customers", customers_file)
    finally:
        import_listener_unregister("tests.broken")
        import_listener_unregister("tests.after_broken")

    assert sorted(Customer.objects.values_list("name", flat=True)) == ["张伟", "李娜"]
    assert [event.kind for event in events] == ["customers"]
    batch = ImportBatch.objects.get()
    assert [record.getMessage() for record in caplog.records] == [
        f"import listener tests.broken failed for customers batch {batch.pk}"
    ]
