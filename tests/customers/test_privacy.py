"""Privacy of customer data: the confidentiality levels, phone search by digits (limited and
audited as a reveal), and every page that shows a full number writing an audit row."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from crm.choices import AuditAction, Role
from crm.models import AuditLog
from customers.facts import customer_stats_refresh
from customers.models import Customer, Segment
from customers.segments import segment_count_for_user, segment_customers_for_user
from customers.selectors import customer_queryset_for_user, customer_visibility_condition, customer_visible_to
from followups.models import FollowupTask
from followups.selectors import queue_for_user
from followups.services import task_claim_next
from tests.factories import CustomerFactory, UserFactory
from tests.followups.factories import ALL_DAY, FollowupTaskFactory
from tests.plans import plan_without_sequential_scans

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


# --- confidentiality levels ------------------------------------------------------------------


@pytest.fixture
def graded(store_a):
    """One card of each level in store A (numbers T, C, S, N)."""
    cards = {
        level: CustomerFactory(store=store_a, customer_no=code, confidentiality=level)
        for code, level in (("T", "top_secret"), ("C", "confidential"), ("S", "secret"), ("N", "normal"))
    }
    return cards


def visible_numbers(user) -> list[str]:
    return sorted(customer_queryset_for_user(user).values_list("customer_no", flat=True))


def segment_numbers(user) -> list[str]:
    customer_stats_refresh()
    segment = Segment(definition={})
    listed = sorted(segment_customers_for_user(user=user, segment=segment).values_list("customer_no", flat=True))
    assert segment_count_for_user(user=user, segment=segment) == len(listed)
    return listed


def test_each_level_is_seen_by_whom_the_spec_says(graded, advisor_a, manager_a, manager_b, admin_user, store_b):
    other_manager = UserFactory(username="manager_ab", role=Role.MANAGER, stores=[store_b])
    # 绝密: named staff only; 机密: named staff and store A's managers; 秘密 and 普通: store A.
    assert visible_numbers(advisor_a) == ["N", "S"]
    assert visible_numbers(manager_a) == ["C", "N", "S"]
    assert visible_numbers(manager_b) == []
    assert visible_numbers(other_manager) == []
    assert visible_numbers(admin_user) == ["N", "S"]  # every store, but not a manager of store A

    graded["top_secret"].authorized_staff.add(advisor_a)
    graded["confidential"].authorized_staff.add(advisor_a)

    assert visible_numbers(advisor_a) == ["C", "N", "S", "T"]
    assert visible_numbers(manager_a) == ["C", "N", "S"]


def test_a_manager_granted_the_group_sees_confidential_cards_of_his_own_stores_only(graded, store_a, store_b):
    regional = UserFactory(username="regional", role=Role.MANAGER, stores=[store_b], sees_all_stores=True)
    assert visible_numbers(regional) == ["N", "S"]
    regional.stores.add(store_a)
    regional = type(regional).objects.get(pk=regional.pk)  # a fresh user: the role and stores are cached
    assert visible_numbers(regional) == ["C", "N", "S"]


def test_segments_count_and_list_the_same_levels(graded, advisor_a, manager_a):
    assert segment_numbers(advisor_a) == ["N", "S"]
    assert segment_numbers(manager_a) == ["C", "N", "S"]
    graded["top_secret"].authorized_staff.add(manager_a)
    assert segment_numbers(manager_a) == ["C", "N", "S", "T"]


def test_the_rule_on_another_tables_rows_is_the_same_rule_as_an_anti_join(graded, store_a, advisor_a, manager_a):
    for card in graded.values():
        FollowupTaskFactory(store=store_a, customer=card)
    graded["top_secret"].authorized_staff.add(advisor_a)
    for user in (advisor_a, manager_a):
        tasks = FollowupTask.objects.filter(customer_visible_to(user))
        assert sorted(tasks.values_list("customer__customer_no", flat=True)) == visible_numbers(user)
    # NOT EXISTS, which PostgreSQL estimates from the few hidden cards; a NOT IN a subquery it takes
    # as halving the rows (a list of 100,000 members was shown as "about 50,617").
    plan = plan_without_sequential_scans(
        *FollowupTask.objects.filter(customer_visible_to(advisor_a)).query.sql_with_params()
    )
    assert "Anti Join" in plan


def test_the_restricted_levels_are_in_the_rules_text_for_the_plan_a_prepared_statement_keeps(advisor_a):
    """The levels of the partial index of restricted cards are written into the statement, not sent
    as its values: a prepared statement's plan for any values can then read that index."""
    for queryset in (
        FollowupTask.objects.filter(customer_visible_to(advisor_a)),
        Customer.objects.filter(customer_visibility_condition(advisor_a)),
    ):
        sql, params = queryset.query.sql_with_params()
        assert "\"confidentiality\" IN ('top_secret', 'confidential')" in sql
        assert not {"top_secret", "confidential"} & {str(param) for param in params}


def test_confidential_card_page_is_a_404_for_the_advisor(client, graded, advisor_a, manager_a):
    url = reverse("customers:detail", args=[graded["confidential"].pk])
    client.force_login(advisor_a)
    assert client.get(url).status_code == 404
    client.force_login(manager_a)
    assert client.get(url).status_code == 200


def test_the_call_queue_and_the_claim_skip_cards_the_agent_may_not_see(store_a, agent_a):
    for name, value in ALL_DAY.items():
        setattr(store_a, name, value)
    store_a.save()
    hidden = FollowupTaskFactory(
        store=store_a,
        customer=CustomerFactory(store=store_a, customer_no="C", confidentiality="confidential"),
        priority=1,
        rule_date=datetime.date(2026, 11, 23),
    )
    shown = FollowupTaskFactory(
        store=store_a,
        customer=CustomerFactory(store=store_a, customer_no="S", confidentiality="secret"),
        priority=5,
        rule_date=datetime.date(2026, 11, 23),
    )
    queue = queue_for_user(user=agent_a, today=datetime.date(2026, 11, 23))
    assert [row["customer_id"] for row in queue] == [shown.customer_id]
    assert [task.pk for task in task_claim_next(user=agent_a, now=MONDAY_10AM)] == [shown.pk]

    hidden.customer.authorized_staff.add(agent_a)
    agent = type(agent_a).objects.get(pk=agent_a.pk)
    queue = queue_for_user(user=agent, today=datetime.date(2026, 11, 23))
    assert [row["customer_id"] for row in queue] == [hidden.customer_id, shown.customer_id]


def test_complaints_of_a_confidential_card_follow_the_card(graded, agent_a, manager_a):
    from complaints.selectors import complaint_queryset_for_user
    from tests.complaints.factories import ComplaintFactory

    complaints = {level: ComplaintFactory(customer=card) for level, card in graded.items()}

    def seen(user):
        return sorted(complaint_queryset_for_user(user).values_list("customer__customer_no", flat=True))

    assert seen(agent_a) == ["N", "S"]
    assert seen(manager_a) == ["C", "N", "S"]
    assert len(complaints) == 4


# --- phone search by digits ------------------------------------------------------------------


@pytest.fixture
def numbers_of_store_a(store_a, store_b):
    zhang = CustomerFactory(store=store_a, customer_no="CA0001", name="张伟", mobile="13812345678")
    wang = CustomerFactory(store=store_a, customer_no="CA0002", name="王芳", mobile="13912345678")
    CustomerFactory(store=store_b, customer_no="CB0001", name="张伟", mobile="13812340000")
    return zhang, wang


def search(client, query):
    response = client.get(reverse("customers:list"), {"q": query})
    assert response.status_code == 200
    shown = [customer.customer_no for customer in response.context["page"].object_list]
    notices = [str(message) for message in response.context["messages"]]
    return shown, notices


def phone_rows(action=AuditAction.PHONE_SEARCH):
    return list(AuditLog.objects.filter(action=action).order_by("id").values_list("actor__username", "detail"))


def test_an_advisor_cannot_rebuild_numbers_from_parts(client, advisor_a, numbers_of_store_a):
    client.force_login(advisor_a)

    for part in ("1381", "12345678", "1234567", "3812345", "5678"):
        shown, notices = search(client, part)
        assert shown == []
        assert notices == ["输入完整号码，或姓名加手机尾号后四位（如：张伟 1234）才能按电话查找。"]
    assert phone_rows() == []  # nothing was searched by phone, nothing was revealed
    refused = phone_rows(AuditAction.PHONE_SEARCH_REFUSED)
    assert [(user, detail["digits"], detail["reason"]) for user, detail in refused] == [
        ("advisor_a", digits, "part_of_a_number") for digits in ("1381", "12345678", "1234567", "3812345", "5678")
    ]


def test_an_advisor_finds_by_the_whole_number_or_a_name_with_the_last_four(client, advisor_a, numbers_of_store_a):
    zhang, _wang = numbers_of_store_a
    client.force_login(advisor_a)

    assert search(client, "138 1234 5678") == (["CA0001"], [])
    assert search(client, "张伟 5678") == (["CA0001"], [])
    assert search(client, "zw5678") == (["CA0001"], [])
    assert search(client, "张伟 0000") == ([], [])  # store B's card stays out of sight
    rows = phone_rows()
    assert [
        (user, detail["kind"], detail["digits"], detail.get("name"), detail["matches"]) for user, detail in rows
    ] == [
        ("advisor_a", "mobile", "13812345678", None, 1),
        ("advisor_a", "name_last_four", "5678", "张伟", 1),
        ("advisor_a", "name_last_four", "5678", "zw", 1),
        ("advisor_a", "name_last_four", "0000", "张伟", 0),
    ]
    assert AuditLog.objects.filter(action=AuditAction.PHONE_SEARCH).earliest("id").object_ids == [str(zhang.pk)]


def test_a_manager_searches_seven_digits_or_more_and_each_search_is_one_audit_row(
    client, manager_a, numbers_of_store_a
):
    client.force_login(manager_a)

    assert search(client, "123456")[0] == []
    assert search(client, "1234567") == (["CA0001", "CA0002"], [])
    assert [(user, detail["digits"], detail["matches"]) for user, detail in phone_rows()] == [
        ("manager_a", "1234567", 2)
    ]


def test_the_daily_limit_refuses_with_a_message_no_results_and_an_audit_row(
    client, advisor_a, numbers_of_store_a, settings
):
    settings.PHONE_SEARCH_DAILY_LIMIT = 2
    client.force_login(advisor_a)
    assert search(client, "13812345678")[0] == ["CA0001"]
    assert search(client, "13912345678")[0] == ["CA0002"]

    shown, notices = search(client, "13812345678")
    lookup = client.post(reverse("customers:phone_lookup"), {"phone": "13812345678"}, follow=True)

    assert shown == []
    assert notices == ["您今天按电话号码查找已达 2 次，即每日上限：请按姓名、车牌或客户编号查找，或请经理协助。"]
    assert [str(message) for message in lookup.context["messages"]] == notices
    assert lookup.redirect_chain == [(reverse("customers:list"), 302)]
    assert len(phone_rows()) == 2
    refused = phone_rows(AuditAction.PHONE_SEARCH_REFUSED)
    assert [(user, detail["digits"], detail["reason"], detail["limit"]) for user, detail in refused] == [
        ("advisor_a", "13812345678", "daily_limit", 2),
        ("advisor_a", "13812345678", "daily_limit", 2),
    ]


def test_the_incoming_call_lookup_is_audited_and_counted(client, advisor_a, numbers_of_store_a):
    zhang, _wang = numbers_of_store_a
    client.force_login(advisor_a)

    response = client.post(reverse("customers:phone_lookup"), {"phone": "+86 138-1234-5678"})
    partial = client.post(reverse("customers:phone_lookup"), {"phone": "12345678"}, follow=True)

    assert response["Location"] == reverse("customers:detail", args=[zhang.pk])
    assert [(user, detail["digits"], detail["matches"]) for user, detail in phone_rows()] == [
        ("advisor_a", "13812345678", 1)
    ]
    assert [str(message) for message in partial.context["messages"]] == ["请输入来电的完整号码。"]


def test_staff_without_phone_search_keep_no_phone_search(client, agent_a, numbers_of_store_a):
    client.force_login(agent_a)

    assert search(client, "13812345678") == ([], [])
    assert search(client, "张伟 5678") == ([], [])
    assert phone_rows() == []
    assert phone_rows(AuditAction.PHONE_SEARCH_REFUSED) == []


def test_the_api_search_never_matches_phone_digits(api_client, manager_a, numbers_of_store_a):
    api_client.force_authenticate(manager_a)

    response = api_client.get("/api/customers/", {"search": "12345678"})

    assert response.status_code == 200
    assert response.json()["results"] == []


# --- every page that shows a whole number writes one audit row ----------------------------------


def reveals():
    return list(
        AuditLog.objects.filter(action=AuditAction.VIEW_UNMASKED_PHONE)
        .order_by("id")
        .values_list("actor__username", "object_ids", "detail__path")
    )


@pytest.fixture
def callable_store_a(store_a):
    for name, value in ALL_DAY.items():
        setattr(store_a, name, value)
    store_a.save()
    return store_a


def test_the_managers_call_page_is_audited_and_the_agents_is_not(client, callable_store_a, manager_a, agent_a):
    customer = CustomerFactory(store=callable_store_a, mobile="13812345678", name="李雷")
    FollowupTaskFactory(store=callable_store_a, customer=customer, rule_date=datetime.date(2026, 11, 23))
    url = reverse("followups:call", args=[customer.pk])

    with time_machine.travel(MONDAY_10AM, tick=False):
        client.force_login(manager_a)
        claimed = client.post(reverse("followups:queue_next"))
        page = client.get(url)

    assert claimed["Location"] == url
    assert "13812345678" in page.content.decode()
    assert reveals() == [("manager_a", [str(customer.pk)], url)]


def test_the_agents_masked_call_page_writes_no_reveal(client, callable_store_a, agent_a):
    customer = CustomerFactory(store=callable_store_a, mobile="13812345678")
    FollowupTaskFactory(store=callable_store_a, customer=customer, rule_date=datetime.date(2026, 11, 23))

    with time_machine.travel(MONDAY_10AM, tick=False):
        client.force_login(agent_a)
        client.post(reverse("followups:queue_next"))
        page = client.get(reverse("followups:call", args=[customer.pk]))

    assert "138****5678" in page.content.decode()
    assert reveals() == []


def test_the_sms_list_page_is_one_audit_row_of_its_customers(client, store_a, manager_a):
    day = datetime.date(2026, 11, 22)
    first, second = (
        CustomerFactory(store=store_a, customer_no=number, mobile=mobile)
        for number, mobile in (("C1", "13900001111"), ("C2", "13900002222"))
    )
    for customer in (first, second):
        FollowupTaskFactory(store=store_a, customer=customer, channel="sms", code="birthday", rule_date=day)
    client.force_login(manager_a)

    page = client.get(reverse("followups:sms"), {"date": "2026-11-22"})

    assert "13900001111" in page.content.decode()
    assert reveals() == [("manager_a", [str(first.pk), str(second.pk)], reverse("followups:sms"))]


def test_the_note_forms_error_page_is_audited(client, store_a, manager_a):
    customer = CustomerFactory(store=store_a, mobile="13812345678")
    client.force_login(manager_a)
    url = reverse("customers:note_add", args=[customer.pk])

    response = client.post(url, {"kind": "note", "text": ""})

    assert response.status_code == 400
    assert "13812345678" in response.content.decode()
    assert reveals() == [("manager_a", [str(customer.pk)], url)]


@pytest.mark.parametrize("text", ["张伟 5678", "zw5678"])
def test_a_name_with_the_last_four_is_found_through_an_index_not_by_reading_every_card(text, store_a):
    """A common surname's prefix alone matches tens of thousands of a group's cards: the search
    finds the last four digits by their index (customer_mobile_last4_idx), then checks the name.
    The table holds 3,000 张伟 with as many numbers, analysed, so the plan follows what the planner
    knows of the data, not what earlier tests left in the statistics."""
    from django.db import connection

    from customers.models import Customer
    from customers.pinyin import name_search_keys
    from customers.selectors import customer_search_sql, phone_query_parse

    pinyin, initials = name_search_keys("张伟")
    Customer.objects.bulk_create(
        Customer(customer_no=f"P{index:06d}", store=store_a, name="张伟", name_pinyin=pinyin, name_initials=initials,
                 mobile=f"139{index:08d}")
        for index in range(3000)
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")

    plan = plan_without_sequential_scans(*customer_search_sql(text, phone=phone_query_parse(text)))
    assert "Seq Scan on customers_customer" not in plan
    assert "customer_mobile_last4_idx" in plan
