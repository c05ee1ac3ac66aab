"""The club's API: members (read), ledger and wallet, the desk's writes (idempotent by reference),
permissions per role and store scoping."""

from decimal import Decimal

import pytest

from clubs.choices import Tier
from clubs.models import Membership, PointsEntry, WalletEntry
from clubs.services import points_adjust
from crm.models import AuditLog
from tests.clubs.api.conftest import club_start, owner

pytestmark = pytest.mark.django_db

URL = "/api/members/"


def url(member, what: str = "") -> str:
    return f"{URL}{member.pk}/{what + '/' if what else ''}"


def redeem(client, member, points, reference="V1", **extra):
    return client.post(url(member, "redemptions"), {"points": points, "reference": reference, **extra}, format="json")


def wallet(client, member, what, amount, reference):
    return client.post(url(member, what), {"amount": amount, "reference": reference}, format="json")


def member_row(member, **changes) -> dict:
    """member_a as the list shows it (before any change)."""
    return {
        "id": member.pk,
        "card_no": "MNJ01000001",
        "customer": member.customer_id,
        "customer_no": "A0001",
        "customer_name": "李娜",
        "store": member.store_id,
        "store_code": "NJ01",
        "joined_on": "2026-01-01",
        "tier": 2,
        "tier_label": "金卡",
        "tier_name": "金卡",
        "labour_discount": "0.70",
        "points_balance": 1200,
        "points_expiring": 1200,
        "wallet_balance": "0.00",
        "credit_card_bank": "",
        **changes,
    }


def test_a_member_is_answered_with_tier_benefits_discount_and_balances(api_client, advisor_a, member_a):
    api_client.force_authenticate(advisor_a)

    response = api_client.get(url(member_a))

    assert response.status_code == 200
    assert response.json() == member_row(
        member_a,
        benefits="工时费7折；生日当月工时5折；优先预约（VIP绿色通道）；VIP休息室；24小时救援热线",
        is_birthday_month=True,
        is_vip=True,
    )


def test_the_tier_label_follows_the_language(api_client, advisor_a, member_a):
    api_client.force_authenticate(advisor_a)

    response = api_client.get(url(member_a), HTTP_ACCEPT_LANGUAGE="en")

    assert (response.json()["tier_label"], response.json()["tier_name"]) == ("Gold", "金卡")


@pytest.fixture
def members_a(store_a, manager_a):
    """Three members of store A: 李娜 (金卡, 1,200 expiring), 王芳 (普通, 100 credited today, not
    expiring soon), 周杰 (银卡, 500 expiring); and one card of store A nobody but managers may see."""
    li = owner(store_a, "A0001", name="李娜", member_tier="金卡", points_balance=1200)
    wang = owner(store_a, "A0002", name="王芳")
    zhou = owner(store_a, "A0003", name="周杰", member_tier="银卡", points_balance=500)
    club_start(store_a)
    points_adjust(membership=Membership.objects.get(customer=wang), points=100, reason="活动补偿", user=manager_a)
    return {customer.customer_no: Membership.objects.get(customer=customer) for customer in (li, wang, zhou)}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["A0001", "A0002", "A0003"]),
        ({"tier": "2"}, ["A0001"]),
        ({"tier": "0"}, ["A0002"]),
        ({"balance_min": "500"}, ["A0001", "A0003"]),
        ({"balance_min": "100", "balance_max": "500"}, ["A0002", "A0003"]),
        ({"expiring_soon": "true"}, ["A0001", "A0003"]),
        ({"expiring_soon": "false"}, ["A0002"]),
        ({"search": "A0003"}, ["A0003"]),
        ({"search": "MNJ01000002"}, ["A0002"]),
        ({"ordering": "-points_balance"}, ["A0001", "A0003", "A0002"]),
    ],
)
def test_the_list_filters_and_searches(api_client, advisor_a, members_a, query, expected):
    api_client.force_authenticate(advisor_a)

    response = api_client.get(URL, query)

    assert response.status_code == 200
    assert [row["customer_no"] for row in response.json()["results"]] == expected


def test_the_list_shows_each_members_expiring_points_and_discount(api_client, advisor_a, members_a):
    api_client.force_authenticate(advisor_a)

    rows = api_client.get(URL).json()["results"]

    fields = ("card_no", "tier_name", "labour_discount", "points_balance", "points_expiring")
    assert [tuple(row[field] for field in fields) for row in rows] == [
        ("MNJ01000001", "金卡", "0.70", 1200, 1200),
        ("MNJ01000002", "普通", "0.95", 100, 0),
        ("MNJ01000003", "银卡", "0.95", 500, 500),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"tier": "9"}, {"tier": ["选择一个有效的选项。 9 不在可用的选项中。"]}),
        ({"balance_min": "-1"}, {"balance_min": ["确保该值大于或等于0。"]}),
        ({"balance_max": "1.5"}, {"balance_max": ["输入整数。"]}),
        ({"balance_max": "99999999999"}, {"balance_max": ["确保该值小于或等于2147483647。"]}),
        ({"store": "abc"}, {"store": ["选择一个有效的选项： 该选择不在可用的选项中。"]}),
    ],
)
def test_bad_filters_are_a_400_naming_the_parameter(api_client, advisor_a, members_a, query, expected):
    api_client.force_authenticate(advisor_a)

    response = api_client.get(URL, query)

    assert (response.status_code, response.json()) == (400, expected)


def test_the_list_runs_a_fixed_number_of_queries(api_client, advisor_a, store_a, django_assert_num_queries):
    for number in range(12):
        owner(store_a, f"A{number:04d}", points_balance=100 * number)
    club_start(store_a)
    api_client.force_authenticate(advisor_a)
    api_client.get(URL)

    # the same user object: permissions and stores are cached; count and page, however many members
    with django_assert_num_queries(2):
        response = api_client.get(URL)

    assert response.json()["count"] == 12


def test_the_ledger_is_paginated_newest_first(api_client, advisor_a, member_a, django_assert_num_queries):
    api_client.force_authenticate(advisor_a)
    assert redeem(api_client, member_a, 200, note="兑换机油").status_code == 201
    api_client.get(url(member_a, "ledger"))

    # the member, count and page
    with django_assert_num_queries(3):
        response = api_client.get(url(member_a, "ledger"), {"page_size": 1})

    body = response.json()
    assert (body["count"], body["next"] is not None) == (2, True)
    entry = PointsEntry.objects.get(kind="redemption")
    assert body["results"] == [
        {
            "id": entry.pk,
            "on": "2026-12-10",
            "kind": "redemption",
            "kind_label": "积分兑换",
            "points": -200,
            "expires_on": None,
            "repair_order": None,
            "reference": "V1",
            "note": "兑换机油",
            "created_by": advisor_a.pk,
            "created_at": "2026-12-10T10:00:00+08:00",
        }
    ]
    second = api_client.get(url(member_a, "ledger"), {"page_size": 1, "page": 2}).json()["results"]
    assert [(row["kind"], row["points"], row["expires_on"]) for row in second] == [("opening", 1200, "2027-01-01")]


def test_a_redemption_sent_twice_redeems_once(api_client, advisor_a, member_a):
    api_client.force_authenticate(advisor_a)

    first = redeem(api_client, member_a, 200, "V1")
    again = redeem(api_client, member_a, 200, " V1 ")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert PointsEntry.objects.filter(membership=member_a).count() == 2
    member_a.refresh_from_db()
    assert member_a.points_balance == 1000
    assert AuditLog.objects.filter(object_type="clubs.membership").count() == 1


def test_a_reference_reused_for_other_points_is_a_409(api_client, advisor_a, member_a):
    api_client.force_authenticate(advisor_a)
    redeem(api_client, member_a, 200, "V1")

    response = redeem(api_client, member_a, 300, "V1")

    assert (response.status_code, response.json()) == (409, {"detail": "凭证号 V1 已用于 200 积分。"})
    member_a.refresh_from_db()
    assert member_a.points_balance == 1000


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"points": 1201, "reference": "V2"}, {"detail": "可用积分仅 1200，不能扣减 1201。"}),
        ({"points": 0, "reference": "V2"}, {"points": ["请确保该值大于或者等于 1。"]}),
        ({"points": "十", "reference": "V2"}, {"points": ["请填写合法的整数值。"]}),
        ({"points": 1.5, "reference": "V2"}, {"points": ["请填写合法的整数值。"]}),
        ({"points": 10}, {"reference": ["该字段是必填项。"]}),
        ({"points": 10, "reference": "   "}, {"reference": ["该字段不能为空。"]}),
    ],
)
def test_a_refused_redemption_is_a_400_with_the_reason_and_changes_nothing(
    api_client, advisor_a, member_a, payload, expected
):
    api_client.force_authenticate(advisor_a)

    response = api_client.post(url(member_a, "redemptions"), payload, format="json")

    assert (response.status_code, response.json()) == (400, expected)
    member_a.refresh_from_db()
    assert member_a.points_balance == 1200
    assert PointsEntry.objects.filter(membership=member_a).count() == 1


def test_top_ups_and_spends_at_the_desk(api_client, advisor_a, member_a):
    api_client.force_authenticate(advisor_a)

    top_up = wallet(api_client, member_a, "top-ups", "2000", "PAY-1")
    replay = wallet(api_client, member_a, "top-ups", "2000.00", "PAY-1")
    spend = wallet(api_client, member_a, "spends", "499.50", "RO-7")
    overdraw = wallet(api_client, member_a, "spends", "1500.51", "RO-8")
    conflict = wallet(api_client, member_a, "top-ups", "3000", "PAY-1")
    too_small = wallet(api_client, member_a, "top-ups", "100", "PAY-2")

    assert (top_up.status_code, replay.status_code, spend.status_code) == (201, 200, 201)
    assert top_up.json() == {
        "id": top_up.json()["id"],
        "kind": "topup",
        "kind_label": "充值",
        "amount": "2000.00",
        "balance_after": "2000.00",
        "reference": "PAY-1",
        "repair_order": None,
        "note": "",
        "created_by": advisor_a.pk,
        "created_at": "2026-12-10T10:00:00+08:00",
    }
    assert replay.json() == top_up.json()
    assert (spend.json()["amount"], spend.json()["balance_after"]) == ("499.50", "1500.50")
    assert (overdraw.status_code, overdraw.json()) == (400, {"detail": "储值余额为 ¥1500.50，不能消费 ¥1500.51。"})
    assert (conflict.status_code, conflict.json()) == (409, {"detail": "凭证号 PAY-1 已用于 ¥2000.00。"})
    assert (too_small.status_code, too_small.json()) == (400, {"detail": "单笔储值须在 ¥1500.00 至 ¥10000.00 之间。"})
    member_a.refresh_from_db()
    # The ¥2,000 top-up (≥ ¥1,500) made the 金卡 member 钻石.
    assert (member_a.wallet_balance, member_a.tier) == (Decimal("1500.50"), Tier.DIAMOND)
    assert WalletEntry.objects.count() == 2
    entries = api_client.get(url(member_a, "wallet")).json()
    assert [(row["kind"], row["amount"], row["balance_after"]) for row in entries["results"]] == [
        ("spend", "499.50", "1500.50"),
        ("topup", "2000.00", "2000.00"),
    ]


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("agent_a", (200, 200, 403, 403, 403)),
        ("sales_a", (200, 200, 403, 403, 403)),
        ("advisor_a", (200, 200, 201, 201, 201)),
        ("manager_a", (200, 200, 201, 201, 201)),
        ("admin_user", (200, 200, 201, 201, 201)),
    ],
)
def test_who_may_read_and_who_may_work_the_desk(api_client, member_a, persona, expected, request):
    api_client.force_authenticate(request.getfixturevalue(persona))

    answers = (
        api_client.get(URL).status_code,
        api_client.get(url(member_a, "ledger")).status_code,
        redeem(api_client, member_a, 100, "V1").status_code,
        wallet(api_client, member_a, "top-ups", "1500", "PAY-1").status_code,
        wallet(api_client, member_a, "spends", "100", "RO-1").status_code,
    )

    assert answers == expected
    member_a.refresh_from_db()
    done = expected[2] == 201
    assert (member_a.points_balance, member_a.wallet_balance) == (
        (1100, Decimal("1400.00")) if done else (1200, Decimal("0.00"))
    )


def test_nobody_anonymous(api_client, member_a):
    assert (api_client.get(URL).status_code, redeem(api_client, member_a, 100).status_code) == (401, 401)


def test_another_stores_member_is_a_404_and_is_not_listed(api_client, manager_b, member_a, member_b):
    api_client.force_authenticate(manager_b)

    answers = [
        api_client.get(url(member_a)).status_code,
        api_client.get(url(member_a, "ledger")).status_code,
        api_client.get(url(member_a, "wallet")).status_code,
        redeem(api_client, member_a, 100).status_code,
        wallet(api_client, member_a, "top-ups", "1500", "PAY-1").status_code,
        wallet(api_client, member_a, "spends", "1", "RO-1").status_code,
    ]
    listed = [row["customer_no"] for row in api_client.get(URL).json()["results"]]

    assert (answers, listed) == ([404] * 6, ["B0001"])
    member_a.refresh_from_db()
    assert (member_a.points_balance, member_a.wallet_balance) == (1200, Decimal("0.00"))


def test_an_administrator_of_the_group_sees_both_stores(api_client, admin_user, member_a, member_b):
    api_client.force_authenticate(admin_user)

    listed = [row["customer_no"] for row in api_client.get(URL).json()["results"]]
    by_store = [row["customer_no"] for row in api_client.get(URL, {"store": member_b.store_id}).json()["results"]]

    assert (listed, by_store) == (["A0001", "B0001"], ["B0001"])


def test_a_top_secret_card_is_a_404_for_staff_not_named_on_it(api_client, advisor_a, store_a):
    secret = owner(store_a, "A0009", name="秦岚", confidentiality="top_secret", points_balance=800)
    club_start(store_a)
    member = Membership.objects.get(customer=secret)
    api_client.force_authenticate(advisor_a)

    answers = (
        api_client.get(url(member)).status_code,
        redeem(api_client, member, 100).status_code,
        api_client.get(URL).json()["count"],
    )

    assert answers == (404, 404, 0)
    member.refresh_from_db()
    assert member.points_balance == 800


def test_the_schema_documents_the_desks_answers(client, manager_a):
    client.force_login(manager_a)

    schema = client.get("/api/schema/", {"format": "json"}).json()

    for path in ("/api/members/{id}/redemptions/", "/api/members/{id}/top-ups/", "/api/members/{id}/spends/"):
        assert {"200", "201", "400", "403", "404", "409"} <= set(schema["paths"][path]["post"]["responses"]), path
    assert {parameter["name"] for parameter in schema["paths"]["/api/members/"]["get"]["parameters"]} == {
        "tier", "store", "balance_min", "balance_max", "expiring_soon", "search", "ordering", "page", "page_size",
    }  # fmt: skip
    assert {parameter["name"] for parameter in schema["paths"]["/api/members/{id}/ledger/"]["get"]["parameters"]} == {
        "id", "page", "page_size",
    }  # fmt: skip
