"""The registry of contact sources ("won back by"): the domain apps' sources are registered, each
source's placeholders are renamed so that two never collide, and no source means no contacts."""

import datetime
import zoneinfo

import pytest

from customers import contacts
from customers.contacts import ContactSql, contact_source_register, contact_sources, contacts_sql

START = datetime.datetime(2026, 3, 1, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
END = datetime.datetime(2026, 4, 1, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def empty_registry(monkeypatch):
    monkeypatch.setattr(contacts, "_sources", {})


def test_the_apps_register_their_contacts():
    assert list(contact_sources()) == [
        "customers.appointments_booked",
        "followups.calls_reached",
        "followups.sms_delivered",
        "clubs.events_attended",
    ]
    assert contacts.rule_labels()["lost_customer"] == "流失客户招揽"


def test_each_sources_placeholders_are_renamed(empty_registry):
    def source(store_ids, start, end):
        return ContactSql("SELECT 1 AS customer_id WHERE %(start)s < %(end)s", {"start": start, "end": end})

    contact_source_register("one", source)
    contact_source_register("two", source)

    sql, params = contacts_sql(store_ids=None, start=START, end=END)

    assert "%(c0_start)s < %(c0_end)s" in sql
    assert "%(c1_start)s < %(c1_end)s" in sql
    assert sql.count("UNION ALL") == 1
    assert params == {"c0_start": START, "c0_end": END, "c1_start": START, "c1_end": END}


def test_no_source_means_no_contacts(empty_registry):
    assert contacts_sql(store_ids=None, start=START, end=END) is None
    assert contacts.campaign_labels([1, 2]) == {}
