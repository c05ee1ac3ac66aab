"""Tomorrow's queue preview answers at once (issue 16): counts kept in the cache under a key of the
day, the stores, the rules' settings and the calendar; without fresh ones the page queues a count
and polls for it; one count per key; a failed count offers to try again (followups/queue_preview.py)."""

import datetime
import time
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse

from crm.choices import Role
from crm.models import CalendarDay
from crm.selectors import working_calendar
from customers.rule_builders import rule_builder_for, rule_builder_register, rule_parameters
from followups import tasks
from followups.models import FollowupRule
from followups.queue_preview import preview_key
from followups.selectors import queue_preview, rules_for_user
from tests.factories import UserFactory, VehicleFactory
from tests.followups.factories import rules_for

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
TUESDAY = datetime.date(2026, 11, 24)


@pytest.fixture(autouse=True)
def at_monday():
    with time_machine.travel(MONDAY_10AM, tick=False):
        yield


@pytest.fixture
def delivered_a(store_a):
    """Store A's rules and two cars delivered on Saturday: two thank-you calls on Tuesday (+3 days)."""
    rules = rules_for(store_a)
    for _index in range(2):
        VehicleFactory(customer__store=store_a, store=store_a, delivery_date=datetime.date(2026, 11, 21))
    return rules


def show(client, day=TUESDAY):
    return client.get(reverse("followups:preview"), {"date": day.isoformat()})


def poll(client, day=TUESDAY):
    return client.get(reverse("followups:preview_progress"), {"date": day.isoformat()})


def counts_of(response) -> dict[tuple[str, str], int]:
    return {(row["rule"].store.code, row["rule"].code): row["generated"] for row in response.context["preview"].rows}


def test_with_fresh_counts_the_page_shows_them_with_their_time_and_counts_nothing(
    client, manager_a, delivered_a, django_assert_num_queries
):
    client.force_login(manager_a)
    show(client)  # counts (inline: the tests' Celery is eager) and keeps the counts
    client.get(reverse("followups:preview"))  # the session's queries out of the way

    # session, the user (role, permissions, stores), TOTP device; the rules and the
    # calendar (the key), the tasks rolled over: none of generation's statements.
    with django_assert_num_queries(3 + 3):
        response = show(client)

    page = response.content.decode()
    assert response.context["preview"].state == "ready"
    assert counts_of(response)[("NJ01", "delivery_thanks")] == 2
    assert counts_of(response) == {
        (row["rule"].store.code, row["rule"].code): row["generated"]
        for row in queue_preview(user=manager_a, day=TUESDAY)
    }
    assert "截至 10:00" in page  # the time of the counts, local time
    assert f'action="{reverse("followups:preview_recount")}"' in page
    assert 'hx-trigger="every 1s"' not in page  # nothing to wait for


def test_without_counts_the_page_queues_one_count_and_polls_until_it_is_there(
    client, manager_a, delivered_a, preview_broker
):
    client.force_login(manager_a)

    response = show(client)

    assert response.status_code == 200
    assert response.context["preview"].state == "running"
    page = response.content.decode()
    assert 'data-preview-state="running"' in page
    assert f'hx-get="{reverse("followups:preview_progress")}?date=2026-11-24"' in page
    assert 'hx-trigger="every 1s"' in page
    assert "等待开始计数" in page
    assert 'data-table="preview"' not in page
    (queued,) = preview_broker.queued()
    assert queued == {
        "store_ids": [manager_a.stores.get().pk],
        "day": "2026-11-24",
        "key": preview_key(rules=list(rules_for_user(user=manager_a)), day=TUESDAY, calendar=_calendar()),
    }

    # Another tab, a poll, another manager of the same store: the same count awaited, none more.
    colleague = UserFactory(username="manager_a2", role=Role.MANAGER, stores=list(manager_a.stores.all()))
    other = Client()
    other.force_login(colleague)
    assert show(other).context["preview"].state == "running"
    assert show(client).context["preview"].state == "running"
    polled = poll(client)
    assert polled.context["preview"].state == "running"
    assert 'hx-trigger="every 1s"' in polled.content.decode()
    assert len(preview_broker.queued()) == 1

    preview_broker.run_all()  # the worker's turn
    polled = poll(client)

    assert polled.context["preview"].state == "ready"
    assert counts_of(polled)[("NJ01", "delivery_thanks")] == 2
    assert 'hx-trigger="every 1s"' not in polled.content.decode()  # the poll stops here
    assert 'data-table="preview"' in polled.content.decode()
    assert counts_of(show(other)) == counts_of(polled)
    assert preview_broker.queued() == []


def test_the_poll_says_how_many_rules_are_counted(client, manager_a, delivered_a, preview_broker):
    client.force_login(manager_a)
    show(client)
    (queued,) = preview_broker.queued()
    seen: list[str] = []

    def poll_before_each_count(execute, sql, params, many, context):
        # The page as a manager polls it while the worker is about to run each rule's count.
        if "GROUP BY e.store_id" in sql and not getattr(poll_before_each_count, "polling", False):
            poll_before_each_count.polling = True
            seen.append(poll(client).content.decode())
            poll_before_each_count.polling = False
        return execute(sql, params, many, context)

    with connection.execute_wrapper(poll_before_each_count):
        tasks.count_queue_preview(**queued)

    assert len(seen) >= 10  # one count per rule code with candidates on the day
    for done, page in enumerate(seen):
        assert f"正在计数：已完成 {done} / {len(seen)} 条规则。" in page
        assert f'<progress class="progress" max="{len(seen)}" value="{done}">' in page
        assert 'hx-trigger="every 1s"' in page
    assert poll(client).context["preview"].state == "ready"


def test_a_failed_count_says_so_and_counting_again_works(client, manager_a, delivered_a, caplog):
    client.force_login(manager_a)
    original = rule_builder_for("delivery_thanks")

    def broken(rule, dates):
        raise RuntimeError("the builder broke")

    rule_builder_register("delivery_thanks", broken, parameters=rule_parameters("delivery_thanks"))
    try:
        response = show(client)
    finally:
        rule_builder_register("delivery_thanks", original, parameters=rule_parameters("delivery_thanks"))

    page = response.content.decode()
    assert response.status_code == 200
    assert response.context["preview"].state == "failed"
    assert "这次未能完成计数" in page
    assert "RuntimeError" not in page
    assert "Traceback" not in page
    assert f'action="{reverse("followups:preview_recount")}"' in page
    assert "the builder broke" in caplog.text  # the traceback goes to the log
    assert show(client).context["preview"].state == "failed"  # no count again by itself

    again = client.post(reverse("followups:preview_recount"), {"date": "2026-11-24"})

    assert again.status_code == 302
    assert again["Location"] == f"{reverse('followups:preview')}?date=2026-11-24"
    assert counts_of(show(client))[("NJ01", "delivery_thanks")] == 2


def test_count_again_forgets_the_kept_counts(client, manager_a, delivered_a):
    client.force_login(manager_a)
    assert counts_of(show(client))[("NJ01", "delivery_thanks")] == 2
    store = manager_a.stores.get()
    VehicleFactory(customer__store=store, store=store, delivery_date=datetime.date(2026, 11, 21))
    assert counts_of(show(client))[("NJ01", "delivery_thanks")] == 2  # fresh: kept, data changes not seen

    client.post(reverse("followups:preview_recount"), {"date": "2026-11-24"})

    assert counts_of(show(client))[("NJ01", "delivery_thanks")] == 3


def test_editing_a_rule_counts_afresh_and_its_script_does_not(client, manager_a, delivered_a, store_a):
    client.force_login(manager_a)
    rule = delivered_a["delivery_thanks"]

    def key() -> str:
        return preview_key(rules=list(rules_for_user(user=manager_a)), day=TUESDAY, calendar=_calendar())

    first = key()
    assert counts_of(show(client))[("NJ01", "delivery_thanks")] == 2
    FollowupRule.objects.filter(pk=rule.pk).update(script="您好，{name}")
    assert key() == first  # nothing generation reads: the kept counts stay good
    client.post(
        reverse("followups:rule_edit", args=[rule.pk]),
        {"is_enabled": "on", "channel": rule.channel, "offset_days": "4", "offset_months": "0", "interval_days": "180",
         "distance_km": "5000", "priority": str(rule.priority), "script": "您好", "sms_template": rule.sms_template},
    )  # fmt: skip
    assert FollowupRule.objects.get(pk=rule.pk).offset_days == 4

    assert key() != first
    assert counts_of(show(client))[("NJ01", "delivery_thanks")] == 0  # counted afresh at once

    FollowupRule.objects.filter(pk=rule.pk).update(offset_days=3)
    assert key() == first
    assert counts_of(show(client))[("NJ01", "delivery_thanks")] == 2
    FollowupRule.objects.filter(pk=rule.pk).update(is_enabled=False)
    assert key() != first
    CalendarDay.objects.create(date=datetime.date(2026, 11, 28), kind="working_day", name="调休")
    FollowupRule.objects.filter(pk=rule.pk).update(is_enabled=True)
    assert key() != first  # the calendar's overrides are in the key too


def test_a_manager_never_sees_the_counts_of_stores_outside_their_scope(
    client, manager_a, manager_b, delivered_a, store_b
):
    rules_for(store_b)
    for _index in range(5):
        VehicleFactory(customer__store=store_b, store=store_b, delivery_date=datetime.date(2026, 11, 21))
    client.force_login(manager_a)
    assert counts_of(show(client))[("NJ01", "delivery_thanks")] == 2

    client.force_login(manager_b)
    response = show(client)

    assert {store for store, _code in counts_of(response)} == {"NJ02"}
    assert counts_of(response)[("NJ02", "delivery_thanks")] == 5
    assert "江宁店" not in response.content.decode()
    keys = {
        user.username: preview_key(rules=list(rules_for_user(user=user)), day=TUESDAY, calendar=_calendar())
        for user in (manager_a, manager_b)
    }
    assert keys["manager_a"] != keys["manager_b"]
    group = UserFactory(username="group_manager", role=Role.MANAGER, stores=[manager_a.stores.get(), store_b])
    group_key = preview_key(rules=list(rules_for_user(user=group)), day=TUESDAY, calendar=_calendar())
    assert group_key not in keys.values()


def test_the_count_run_twice_keeps_the_same_counts(client, manager_a, delivered_a, preview_broker):
    client.force_login(manager_a)
    show(client)
    (queued,) = preview_broker.queued()

    tasks.count_queue_preview(**queued)
    first = counts_of(poll(client))
    tasks.count_queue_preview(**queued)

    assert counts_of(poll(client)) == first
    assert first[("NJ01", "delivery_thanks")] == 2


def test_a_count_whose_worker_died_is_queued_again(client, manager_a, delivered_a, preview_broker, settings):
    settings.FOLLOWUP_PREVIEW_RUNNING_SECONDS = 1
    client.force_login(manager_a)
    show(client)
    preview_broker.clear()  # the worker took it and died: nothing renews the marker

    assert poll(client).context["preview"].state == "running"
    time.sleep(1.2)
    assert poll(client).context["preview"].state == "running"

    assert len(preview_broker.queued()) == 1  # queued again once the marker lapsed
    preview_broker.run_all()
    assert counts_of(poll(client))[("NJ01", "delivery_thanks")] == 2


def test_the_date_is_checked_as_before(client, manager_a, delivered_a):
    client.force_login(manager_a)

    response = client.get(reverse("followups:preview"), {"date": "tomorrow"})

    assert response.status_code == 200
    assert response.context["error"] == "“tomorrow”不是有效日期（YYYY-MM-DD）；现显示 2026-11-24。"
    assert response.context["error"] in response.content.decode()
    assert counts_of(response)[("NJ01", "delivery_thanks")] == 2  # tomorrow's


def _calendar():
    return working_calendar()


def test_with_the_cache_down_the_page_says_the_counts_could_not_be_made(client, manager_a, delivered_a, settings):
    from tests.crm.test_cache import closed_port

    client.force_login(manager_a)
    settings.CACHES = {
        "default": {"BACKEND": "crm.cache.FailOpenRedisCache", "LOCATION": f"redis://127.0.0.1:{closed_port()}/0"}
    }

    response = show(client)

    assert response.status_code == 200
    assert response.context["preview"].state == "failed"  # nothing can be kept, nor awaited: no endless poll
    assert "这次未能完成计数" in response.content.decode()
    assert 'hx-trigger="every 1s"' not in response.content.decode()
