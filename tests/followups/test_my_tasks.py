"""My tasks (/followups/mine/): the list of a person's assigned calls, opening one on the queue's
call page, the managers' view of them, the landing figure and the rule setting of who works a rule."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from followups.models import CallAttempt, FollowupRule, FollowupTask
from tests.factories import CustomerFactory, VehicleFactory
from tests.followups.factories import FollowupTaskFactory, rules_for

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
D = datetime.date


@pytest.fixture(autouse=True)
def at_monday():
    with time_machine.travel(MONDAY_10AM, tick=False):
        yield


def assigned(store, person, **fields):
    fields.setdefault("rule_date", D(2026, 11, 23))
    fields.setdefault("code", "delivery_day1_call")
    return FollowupTaskFactory(store=store, assignee=person, **fields)


def rows(response) -> list[str]:
    return [row["customer_id"] for row in response.context["page"].object_list]


def test_my_tasks_lists_todays_calls_one_row_per_customer_and_pins_its_queries(
    client, store_a, sales_a, advisor_a, django_assert_num_queries
):
    customer = CustomerFactory(store=store_a, name="李雷")
    assigned(store_a, sales_a, customer=customer)
    assigned(store_a, sales_a, customer=customer, code="delivery_thanks")
    overdue = assigned(store_a, sales_a, rule_date=D(2026, 11, 20))
    assigned(store_a, sales_a, rule_date=D(2026, 11, 24))  # tomorrow's
    assigned(store_a, sales_a, status="done")
    assigned(store_a, advisor_a)  # someone else's
    FollowupTaskFactory(store=store_a)  # the queue's
    client.force_login(sales_a)
    client.get(reverse("followups:mine"))  # warm the session

    with django_assert_num_queries(5):
        response = client.get(reverse("followups:mine"))

    assert response.status_code == 200
    assert rows(response) == [overdue.customer_id, customer.pk]
    row = response.context["page"].object_list[1]
    assert (row["task_count"], row["rules"], row["callable"]) == (
        2, ["交车次日回访", "购车感谢回访"], True)  # fmt: skip
    assert "Day-after-delivery call" not in response.content.decode()
    assert response.content.decode().count('data-action="open-call"') == 2
    for _index in range(5):
        assigned(store_a, sales_a)
    with django_assert_num_queries(5):  # as many queries for more rows
        assert len(rows(client.get(reverse("followups:mine")))) == 7


def test_my_tasks_search_and_pages(client, store_a, sales_a):
    wanted = CustomerFactory(store=store_a, customer_no="C1234567")
    assigned(store_a, sales_a, customer=wanted)
    for _index in range(30):
        assigned(store_a, sales_a)
    client.force_login(sales_a)

    found = client.get(reverse("followups:mine"), {"q": "C1234567"})
    first = client.get(reverse("followups:mine"))
    second = client.get(reverse("followups:mine"), {"page": 2})

    assert rows(found) == [wanted.pk]
    assert (len(rows(first)), len(rows(second))) == (25, 6)


def test_a_sales_consultant_opens_the_call_and_records_reached(client, store_a, sales_a):
    car = VehicleFactory(customer__store=store_a, store=store_a, delivery_date=D(2026, 11, 22), plate_no="苏A12345")
    task = assigned(store_a, sales_a, customer=car.customer, vehicle=car, unit_id=car.pk)
    client.force_login(sales_a)

    opened = client.post(reverse("followups:mine_open", args=[task.customer_id]))
    page = client.get(opened.url)
    saved = client.post(
        reverse("followups:call_outcome", args=[task.customer_id]),
        {"outcome": "reached", "satisfaction": "5", "notes": "用车顺利", f"answer-{task.pk}-0": "正常"},
    )

    assert opened.url == reverse("followups:call", args=[task.customer_id])
    assert page.status_code == 200
    body = page.content.decode()
    assert "苏A12345" in body
    assert "我的任务" in body
    assert "销售顾问" in body
    assert saved.url == reverse("followups:mine")
    task.refresh_from_db()
    assert (task.status, task.outcome, task.satisfaction, task.assignee_id, task.claimed_by_id) == (
        "done", "reached", 5, sales_a.pk, None)  # fmt: skip
    attempt = CallAttempt.objects.get()
    assert (attempt.agent_id, attempt.answers, attempt.notes) == (
        sales_a.pk,
        {"0": {"question": "车辆使用是否正常？有无需要解答的功能操作？", "type": "text", "value": "正常"}},
        "用车顺利",
    )


def test_putting_an_assigned_call_back_keeps_it_in_my_list(client, store_a, sales_a):
    task = assigned(store_a, sales_a)
    client.force_login(sales_a)
    client.post(reverse("followups:mine_open", args=[task.customer_id]))

    response = client.post(reverse("followups:call_release", args=[task.customer_id]))

    assert response.url == reverse("followups:mine")
    task.refresh_from_db()
    assert (task.claimed_by_id, task.assignee_id, task.status) == (None, sales_a.pk, "open")


def test_someone_elses_task_is_not_opened_and_nothing_changes(client, store_a, sales_a, advisor_a):
    task = assigned(store_a, sales_a)
    client.force_login(advisor_a)

    response = client.post(reverse("followups:mine_open", args=[task.customer_id]), follow=True)
    call_page = client.get(reverse("followups:call", args=[task.customer_id]))

    assert response.redirect_chain[-1][0] == reverse("followups:mine")
    assert "不是您现在可以拨打的" in response.content.decode()
    assert call_page.url == reverse("followups:mine")
    task.refresh_from_db()
    assert (task.claimed_by_id, task.status, task.attempts) == (None, "open", 0)


def test_a_call_agent_has_no_my_tasks_and_the_queue_lists_no_assigned_task(client, store_a, agent_a, sales_a):
    assigned(store_a, sales_a)
    queued = FollowupTaskFactory(store=store_a)
    client.force_login(agent_a)

    assert client.get(reverse("followups:mine")).status_code == 403
    queue = client.get(reverse("followups:queue"))
    assert [row["customer_id"] for row in queue.context["page"].object_list] == [queued.customer_id]
    assert queue.context["summary"]["open"] == 1


def test_a_manager_sees_the_stores_assigned_calls_and_manager_b_nothing(client, store_a, sales_a, manager_a,
                                                                       manager_b):  # fmt: skip
    task = assigned(store_a, sales_a)
    assigned(store_a, sales_a, rule_date=D(2026, 11, 20))
    assigned(store_a, sales_a, rule_date=D(2026, 11, 25))

    client.force_login(manager_a)
    mine_a = client.get(reverse("followups:mine"))
    report_a = client.get(reverse("followups:reports"))
    client.force_login(manager_b)
    mine_b = client.get(reverse("followups:mine"))
    report_b = client.get(reverse("followups:reports"))
    opened_b = client.post(reverse("followups:mine_open", args=[task.customer_id]))

    assert len(rows(mine_a)) == 2
    assert "王明" in mine_a.content.decode()
    assert [(row["assignee__username"], row["due"], row["overdue"], row["later"])
            for row in report_a.context["assigned"]] == [("sales_a", 2, 1, 1)]  # fmt: skip
    assert 'data-assignee="sales_a"' in report_a.content.decode()
    assert rows(mine_b) == []
    assert report_b.context["assigned"] == []
    assert opened_b.status_code == 404
    task.refresh_from_db()
    assert task.claimed_by_id is None


def test_the_landing_page_counts_my_calls_of_today(client, store_a, sales_a):
    customer = CustomerFactory(store=store_a)
    assigned(store_a, sales_a, customer=customer)
    assigned(store_a, sales_a, customer=customer, code="delivery_thanks")
    assigned(store_a, sales_a)
    assigned(store_a, sales_a, rule_date=D(2026, 11, 24))
    client.force_login(sales_a)

    response = client.get("/")

    assert {figure.key: figure.value for figure in response.context["figure_list"]}["my_tasks"] == 2
    body = response.content.decode()
    assert 'data-figure="my-tasks">2<' in body
    assert reverse("followups:mine") in body


def test_a_manager_sets_who_works_a_rule_and_an_sms_rule_is_refused(client, store_a, manager_a):
    rules = rules_for(store_a)
    client.force_login(manager_a)
    base = {"is_enabled": "on", "offset_months": "0", "interval_days": "180", "distance_km": "5000",
            "priority": "4", "script": "", "questionnaire": "", "sms_template": ""}  # fmt: skip

    saved = client.post(
        reverse("followups:rule_edit", args=[rules["maintenance_due"].pk]),
        {**base, "channel": "phone", "offset_days": "-7", "worked_by": "service_advisor"},
    )
    refused = client.post(
        reverse("followups:rule_edit", args=[rules["birthday"].pk]),
        {**base, "channel": "sms", "offset_days": "-6", "worked_by": "sales_consultant"},
    )

    assert saved.status_code == 302
    maintenance = FollowupRule.objects.get(pk=rules["maintenance_due"].pk)
    assert maintenance.worked_by == "service_advisor"
    assert maintenance.history.first().history_user_id == manager_a.pk
    assert refused.status_code == 200
    assert refused.context["form"].errors["worked_by"] == ["只有电话规则可以由个人跟进：短信由系统发送。"]
    assert FollowupRule.objects.get(pk=rules["birthday"].pk).worked_by == "queue"
    assert FollowupTask.objects.count() == 0
