"""The club wherever staff meet a member (card, search results, call panel), the segments' tier
filter and points_expiry reading the club, and the DMS-differences report (issue 10, items 1, 2, 7)."""

import csv
import datetime
import io
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from clubs.models import Membership
from clubs.services import points_redeem
from customers.facts import customer_stats_refresh
from customers.models import Customer, CustomerStats, Segment
from customers.segments import segment_count_for_user
from followups.services import followups_generate_day
from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory
from tests.followups.factories import FollowupTaskFactory

pytestmark = pytest.mark.django_db
D = datetime.date
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # a Monday
TODAY = NOW.date()
S = D(2025, 12, 1)  # the opening lot expires on 2026-12-01: within 30 days of TODAY


@pytest.fixture
def at_today():
    with time_machine.travel(NOW, tick=False):
        yield


def start(store, day=S):
    call_command("club_start", "--store", store.code, "--date", day.isoformat(), stdout=io.StringIO())


def run(day, until=None):
    args = ["club_run", "--date", day.isoformat()] + (["--until", until.isoformat()] if until else [])
    call_command(*args, stdout=io.StringIO())


def order(vehicle, day, amount, repair_type="maintenance"):
    return RepairOrderFactory(
        vehicle=vehicle, settle_date=day, open_date=day, total_amount=Decimal(amount), repair_type=repair_type
    )


@pytest.fixture
def gold_member(store_a, at_today):
    """DMS 银卡 with 1,200 points on S; a ¥15,000 order on 2026-03-01 earns 600 (silver rate 2) and
    raises them to 金卡. On TODAY: 1,800 points, the opening 1,200 expiring on 2026-12-01."""
    customer = CustomerFactory(
        store=store_a, customer_no="A1", name="李雷", member_tier="银卡", member_card_no="VIP001", points_balance=1200
    )
    car = VehicleFactory(customer=customer, delivery_date=D(2024, 6, 1))
    customer_stats_refresh(today=S)  # the facts as the import left them: the DMS's 银卡
    start(store_a)
    order(car, D(2026, 3, 1), "15000")
    run(S, TODAY)
    return customer


# --- the card, the search results, the call panel -----------------------------------------------


def test_the_card_shows_the_clubs_tier_discount_points_and_expiring(client, advisor_a, gold_member):
    client.force_login(advisor_a)

    response = client.get(reverse("customers:detail", args=[gold_member.pk]))

    badge = response.context["badge"]
    assert (badge.tier_label, badge.is_vip, badge.labour_discount) == ("金卡", True, "工时7折")
    assert (badge.points_balance, badge.points_expiring_30d, badge.card_no) == (1800, 1200, "VIP001")
    assert (badge.from_club, badge.differs_from_dms, badge.wallet_balance) == (True, True, None)
    page = response.content.decode()
    assert '<span class="badge vip" data-badge="vip">VIP · 金卡</span>' in page
    assert '<span data-field="discount">工时7折</span>' in page
    assert '<span data-field="points">1800 积分</span>' in page
    assert '<span class="expiring" data-field="expiring">1200 积分将在30天内到期</span>' in page
    assert '<span class="muted" data-field="dms">（DMS：银卡，1200 积分）</span>' in page


def test_the_card_of_a_birthday_month_member_with_a_bank_card_and_stored_value(client, advisor_a, gold_member):
    Customer.objects.filter(pk=gold_member.pk).update(birthday=D(1980, 11, 5))
    Membership.objects.filter(customer=gold_member).update(credit_card_bank="招商银行", wallet_balance=Decimal("1500"))
    client.force_login(advisor_a)

    page = client.get(reverse("customers:detail", args=[gold_member.pk])).content.decode()

    assert '<span class="badge birthday" data-badge="birthday">生日当月工时5折</span>' in page
    assert '<span class="badge bank" data-badge="credit-card">招商银行信用卡会员</span>' in page
    assert '<span data-field="wallet">储值余额 ¥1500.00</span>' in page


def test_a_customer_of_a_store_without_a_club_keeps_the_dms_strings(client, advisor_a, store_a):
    customer = CustomerFactory(store=store_a, member_tier="金卡", member_card_no="M001", points_balance=1200)
    client.force_login(advisor_a)

    response = client.get(reverse("customers:detail", args=[customer.pk]))

    badge = response.context["badge"]
    assert (badge.tier_label, badge.is_vip, badge.points_balance, badge.from_club) == ("金卡", True, 1200, False)
    assert (badge.labour_discount, badge.points_expiring_30d, badge.url) == ("", None, "")
    page = response.content.decode()
    assert '<span class="badge vip" data-badge="vip">VIP · 金卡</span>' in page
    assert '<span data-field="points">1200 积分</span>' in page
    assert 'data-field="expiring"' not in page


def test_after_s_a_dms_gold_on_a_regular_member_shows_no_vip(client, advisor_a, store_a, at_today):
    customer = CustomerFactory(store=store_a, member_card_no="VIP002", points_balance=0)
    start(store_a)
    run(S, TODAY)
    Customer.objects.filter(pk=customer.pk).update(member_tier="金卡", points_balance=5000)  # a later DMS export
    client.force_login(advisor_a)

    page = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()

    assert 'data-badge="vip"' not in page
    assert '<span data-field="tier">普通</span>' in page
    assert '<span data-field="discount">工时9.5折</span>' in page
    assert '<span data-field="points">0 积分</span>' in page
    assert '<span class="muted" data-field="dms">（DMS：金卡，5000 积分）</span>' in page


def test_the_search_results_show_the_clubs_tier_and_vip(client, advisor_a, store_a, gold_member):
    CustomerFactory(store=store_a, customer_no="A2", name="李四", member_tier="钻石", points_balance=None)
    client.force_login(advisor_a)

    response = client.get(reverse("customers:list"), {"q": "李"})

    rows = {customer.customer_no: customer.member_badge for customer in response.context["page"].object_list}
    assert (rows["A1"].tier_label, rows["A1"].is_vip, rows["A1"].points_expiring_30d) == ("金卡", True, 1200)
    assert (rows["A2"].tier_label, rows["A2"].is_vip, rows["A2"].from_club) == ("钻石", True, False)
    page = response.content.decode()
    assert (
        '<td data-field="membership">金卡 · 工时7折 · 1800 积分 '
        '<small class="expiring" data-field="expiring">1200 积分将在30天内到期</small></td>'
    ) in page
    assert '<td data-field="membership">钻石</td>' in page


def test_the_search_results_read_every_badge_in_one_query(client, advisor_a, store_a, at_today,
                                                          django_assert_num_queries):  # fmt: skip
    def members(count):
        Membership.objects.all().delete()
        Customer.objects.all().delete()
        for number in range(count):
            customer = CustomerFactory(store=store_a, customer_no=f"B{number}", member_card_no=f"V{number}")
            VehicleFactory(customer=customer, delivery_date=D(2024, 1, 1))

    members(1)
    start(store_a)
    client.force_login(advisor_a)
    client.get(reverse("customers:list"))
    with django_assert_num_queries(5):  # customers/test_views.py's 5: the page's badges one query
        response = client.get(reverse("customers:list"))
    assert [c.member_badge.tier_label for c in response.context["page"].object_list] == ["普通"]

    for number in range(1, 5):
        customer = CustomerFactory(store=store_a, customer_no=f"B{number}", member_card_no=f"V{number}")
        VehicleFactory(customer=customer, delivery_date=D(2026, 1, 1))
    run(S, TODAY)
    with django_assert_num_queries(5):
        response = client.get(reverse("customers:list"))
    assert [c.member_badge.from_club for c in response.context["page"].object_list] == [True] * 5


def test_the_call_panel_shows_the_clubs_tier_discount_and_expiring_points(client, agent_a, store_a, gold_member):
    FollowupTaskFactory(store=store_a, customer=gold_member, code="post_repair_callback", rule_date=TODAY)
    client.force_login(agent_a)

    response = client.post(reverse("followups:queue_next"), headers={"HX-Request": "true"})

    html = response.content.decode()
    assert f'data-call-customer="{gold_member.pk}"' in html
    assert '<span class="badge vip" data-badge="vip">VIP · 金卡</span>' in html
    assert '<span data-field="discount">工时7折</span>' in html
    assert '<span data-field="points">1800 积分</span>' in html
    assert '<span class="expiring" data-field="expiring">1200 积分将在30天内到期</span>' in html


# --- the segments' tier filter --------------------------------------------------------------------


def tier_count(user, *tiers):
    return segment_count_for_user(user=user, segment=Segment(definition={"member_tiers": list(tiers)}), today=TODAY)


def test_the_segment_tier_filter_reads_the_club_after_a_rise(manager_a, store_a, store_b, at_today):
    customer = CustomerFactory(store=store_a, customer_no="A1", member_tier="银卡", points_balance=0)
    car = VehicleFactory(customer=customer, delivery_date=D(2024, 6, 1))
    dms_gold = CustomerFactory(store=store_a, customer_no="A2", member_tier="金卡")  # no car, no card: no member
    customer_stats_refresh(today=S)
    start(store_a)
    assert (tier_count(manager_a, "银卡"), tier_count(manager_a, "金卡")) == (1, 1)

    order(car, D(2026, 3, 1), "15000")
    run(S, TODAY)

    assert CustomerStats.objects.get(customer=customer).member_tier == "金卡"
    assert CustomerStats.objects.get(customer=dms_gold).member_tier == "金卡"  # the DMS's, not a member
    assert (tier_count(manager_a, "银卡"), tier_count(manager_a, "金卡")) == (0, 2)
    # A later DMS export still saying 银卡 changes nothing, even through a full refresh of the facts.
    assert customer_stats_refresh(today=TODAY) >= 0
    assert (tier_count(manager_a, "银卡"), tier_count(manager_a, "金卡")) == (0, 2)


def test_a_desk_tier_change_reaches_the_segments_by_the_nightly_refresh(manager_a, store_a, at_today):
    from clubs.services import tier_set

    customer = CustomerFactory(store=store_a, member_card_no="VIP1", member_tier="")
    customer_stats_refresh(today=S)
    start(store_a)
    run(S, D(2026, 11, 1))
    assert CustomerStats.objects.get(customer=customer).member_tier == "普通"  # the club's opening tier

    tier_set(membership=Membership.objects.get(customer=customer), tier=3, reason="店总批准", user=manager_a)
    customer_stats_refresh(today=TODAY)  # the nightly refresh of the facts (customers.tasks)

    assert CustomerStats.objects.get(customer=customer).member_tier == "钻石"
    assert tier_count(manager_a, "钻石") == 1


# --- points_expiry ---------------------------------------------------------------------------------


def export_tasks(day):
    out = io.StringIO()
    call_command("export_tasks", "--date", day.isoformat(), "--format", "csv", stdout=out)
    return [row for row in csv.DictReader(io.StringIO(out.getvalue())) if row["rule"] == "points_expiry"]


def test_points_expiry_reads_the_ledger_where_the_club_started_and_the_dms_elsewhere(store_a, store_b):
    visit, day = D(2026, 1, 15), D(2026, 11, 15)  # L and L + 10 months
    # Store A's club starts on 2026-01-01: A1 opens with 800 points and earns 2 on L (¥100 at 普通).
    earning = CustomerFactory(store=store_a, customer_no="A1", member_card_no="VA1", points_balance=800)
    order(VehicleFactory(customer=earning, delivery_date=D(2025, 6, 1)), visit, "100")
    # A2 opens with nothing and comes for a warranty claim (索赔 earns nothing); a later DMS says 500.
    empty = CustomerFactory(store=store_a, customer_no="A2", member_card_no="VA2", points_balance=None)
    order(VehicleFactory(customer=empty, delivery_date=D(2025, 6, 1)), visit, "3000", repair_type="warranty_claim")
    # A3 opened with 300 and redeemed them all before D.
    spent = CustomerFactory(store=store_a, customer_no="A3", member_card_no="VA3", points_balance=300)
    order(VehicleFactory(customer=spent, delivery_date=D(2025, 6, 1)), visit, "40")
    # B1's store has no club: the DMS's balance on the card counts, as before.
    dms = CustomerFactory(store=store_b, customer_no="B1", member_card_no="VB1", points_balance=300)
    order(VehicleFactory(customer=dms, delivery_date=D(2025, 6, 1)), visit, "100")
    start(store_a, D(2026, 1, 1))
    run(D(2026, 1, 1), day)
    Customer.objects.filter(pk=empty.pk).update(points_balance=500)
    with time_machine.travel(datetime.datetime(2026, 11, 10, 10, 0, tzinfo=SHANGHAI), tick=False):
        points_redeem(membership=Membership.objects.get(customer=spent), points=300, reference="R-1", user=None)

    made = followups_generate_day(day=day, codes=["points_expiry"])

    assert made["points_expiry"] == 2
    assert export_tasks(day) == [
        {"rule": "points_expiry", "customer_no": "A1", "vin": "", "channel": "sms", "due_date": "2026-11-15"},
        {"rule": "points_expiry", "customer_no": "B1", "vin": "", "channel": "sms", "due_date": "2026-11-15"},
    ]
    from followups.models import FollowupTask

    details = dict(FollowupTask.objects.values_list("customer__customer_no", "detail"))
    assert details == {"A1": {"points": 802}, "B1": {"points": 300}}


# --- the DMS-differences report ------------------------------------------------------------------


@pytest.fixture
def differences(store_a, store_b, at_today):
    agreeing = CustomerFactory(store=store_a, customer_no="A0", member_card_no="C0", member_tier="银卡",
                               points_balance=100)  # fmt: skip
    tier_only = CustomerFactory(store=store_a, customer_no="A1", name="王芳", member_card_no="C1", member_tier="")
    points_only = CustomerFactory(store=store_a, customer_no="A2", member_card_no="C2", points_balance=50)
    unknown = CustomerFactory(store=store_a, customer_no="A3", member_card_no="C3", member_tier="白金")
    no_points_stated = CustomerFactory(store=store_a, customer_no="A4", member_card_no="C4", points_balance=70)
    other_store = CustomerFactory(store=store_b, customer_no="B1", member_card_no="D1", points_balance=10)
    start(store_a)
    start(store_b)
    run(S, TODAY)
    # A later DMS export: A1 says 金卡, A2 a balance of 999, A4 states no balance; B1 differs too.
    Customer.objects.filter(pk=tier_only.pk).update(member_tier="金卡")
    Customer.objects.filter(pk=points_only.pk).update(points_balance=999)
    Customer.objects.filter(pk=no_points_stated.pk).update(points_balance=None)
    Customer.objects.filter(pk=other_store.pk).update(points_balance=11)
    return agreeing, tier_only, points_only, unknown


def test_the_report_lists_the_members_whose_dms_disagrees(client, manager_a, differences,
                                                         django_assert_num_queries):  # fmt: skip
    client.force_login(manager_a)
    client.get(reverse("clubs:differences"))

    # session, the user (role, permissions, stores), TOTP device, count, page
    with django_assert_num_queries(5):
        response = client.get(reverse("clubs:differences"))

    assert response.status_code == 200
    rows = [
        (row["member"].card_no, row["member"].tier_differs, row["member"].points_differ)
        for row in response.context["rows"]
    ]
    assert rows == [("C1", True, False), ("C2", False, True), ("C3", True, False)]
    page = response.content.decode()
    assert 'data-count="3"' in page
    assert "3 名会员与DMS不一致" in page
    assert 'data-differs="tier">金卡</td>' in page
    assert 'data-differs="points">999 积分</td>' in page
    assert 'data-differs="tier">白金</td>' in page


def test_the_report_searches_and_pages(client, manager_a, differences, monkeypatch):
    client.force_login(manager_a)

    by_name = client.get(reverse("clubs:differences"), {"q": "王芳"})
    by_card = client.get(reverse("clubs:differences"), {"q": "c2"})
    monkeypatch.setattr("clubs.difference_views.PAGE_SIZE", 2)
    second_page = client.get(reverse("clubs:differences"), {"page": "2"})
    past_the_end = client.get(reverse("clubs:differences"), {"page": "99"})

    assert [row["member"].card_no for row in by_name.context["rows"]] == ["C1"]
    assert [row["member"].card_no for row in by_card.context["rows"]] == ["C2"]
    assert [row["member"].card_no for row in second_page.context["rows"]] == ["C3"]
    assert [row["member"].card_no for row in past_the_end.context["rows"]] == ["C3"]


def test_a_nul_character_in_the_search_is_a_message_not_an_error(client, manager_a, differences):
    client.force_login(manager_a)

    response = client.get(reverse("clubs:differences"), {"q": "王\x00"})

    assert response.status_code == 400
    assert [str(message) for message in response.context["messages"]] != []
    assert len(response.context["rows"]) == 3


def test_the_report_is_for_managers_of_their_own_stores(client, manager_b, advisor_a, agent_a, differences):
    client.force_login(manager_b)
    assert [row["member"].card_no for row in client.get(reverse("clubs:differences")).context["rows"]] == ["D1"]

    for user in (advisor_a, agent_a):
        client.force_login(user)
        assert client.get(reverse("clubs:differences")).status_code == 403
    client.logout()
    assert client.get(reverse("clubs:differences")).status_code == 302


def test_a_segments_list_shows_the_tier_it_filtered_on(client, manager_a, store_a, gold_member):
    segment = Segment.objects.create(name="金卡", store=store_a, definition={"member_tiers": ["金卡"]})
    client.force_login(manager_a)

    response = client.get(reverse("customers:segment_detail", args=[segment.pk]))

    assert [customer.customer_no for customer in response.context["page"].object_list] == ["A1"]
    assert '<td data-field="membership">金卡</td>' in response.content.decode()


def test_a_segments_export_writes_the_clubs_tier(manager_a, store_a, gold_member):
    from customers.exports import segment_export_rows

    segment = Segment(name="金卡", store=store_a, definition={"member_tiers": ["金卡"]})

    rows = list(segment_export_rows(segment=segment, user=manager_a))

    assert [(row[0], row[5]) for row in rows] == [("A1", "金卡")]


def test_one_members_badge_compiled_once_a_day_equals_the_badge_read_in_a_list(store_a, gold_member):
    """The card and the call panel read one badge through a statement compiled once a day
    (clubs/badges.py); the search results read a page of them in one statement: the same badges."""
    from clubs.badges import membership_badges

    other = CustomerFactory(store=store_a, customer_no="A2", member_card_no="VIP003")
    VehicleFactory(customer=other, delivery_date=D(2026, 1, 1))
    run(S, TODAY)

    with time_machine.travel(NOW, tick=False):
        alone = {customer.pk: membership_badges(customers=[customer])[customer.pk] for customer in (gold_member, other)}
        together = membership_badges(customers=[gold_member, other])

    assert alone == together
    assert (alone[gold_member.pk].tier_label, alone[gold_member.pk].points_expiring_30d) == ("金卡", 1200)
    assert (alone[other.pk].tier_label, alone[other.pk].points_balance) == ("普通", 0)
