"""The referrals API: recorded by a customer (points when won) or a member of staff, store-scoped,
prospects' numbers masked unless the role sees whole numbers."""

import pytest

from clubs.models import Referral
from crm.models import AuditLog
from tests.clubs.api.conftest import owner

pytestmark = pytest.mark.django_db

URL = "/api/referrals/"


@pytest.fixture
def referrer_a(store_a):
    return owner(store_a, "A0001", name="李娜")


def test_an_advisor_records_a_customers_referral(api_client, advisor_a, sales_a, referrer_a):
    api_client.force_authenticate(advisor_a)

    response = api_client.post(
        URL,
        {
            "referrer": referrer_a.pk,
            "prospect_name": "陈明",
            "prospect_mobile": "+86 139-0000-1234",
            "intended_model": "天籁",
            "consultant": sales_a.pk,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    referral = Referral.objects.get()
    assert response.json() == {
        "id": referral.pk,
        "store": referrer_a.store_id,
        "store_code": "NJ01",
        "referrer": referrer_a.pk,
        "referrer_customer_no": "A0001",
        "referrer_name": "李娜",
        "referrer_staff": None,
        "prospect_name": "陈明",
        "prospect_mobile": "139****1234",
        "intended_model": "天籁",
        "referred_on": "2026-12-10",
        "consultant": sales_a.pk,
        "stage": "new",
        "lost_reason": "",
        "won_vehicle": None,
        "won_customer": None,
        "won_on": None,
        "recorded_by": advisor_a.pk,
        "created_at": "2026-12-10T10:00:00+08:00",
    }
    assert referral.prospect_mobile == "13900001234"


def test_a_staff_referral_has_no_customer(api_client, sales_a, store_a):
    api_client.force_authenticate(sales_a)

    response = api_client.post(
        URL, {"referrer_staff": sales_a.pk, "prospect_name": "陈明", "prospect_mobile": "13900001234"}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["referrer"], body["referrer_customer_no"], body["referrer_staff"], body["store"]) == (
        None,
        None,
        sales_a.pk,
        store_a.pk,
    )


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # The service's refusals (clubs.services.referral_record words them): a 400 with its message.
        ({"prospect_name": "陈明", "prospect_mobile": "13900001234"}, "detail"),
        ({"referrer": "REF", "prospect_name": "陈明", "prospect_mobile": "1234"}, "detail"),
        ({"referrer": "REF", "prospect_mobile": "13900001234"}, {"prospect_name": ["该字段是必填项。"]}),
        ({"referrer": "OTHER", "prospect_name": "陈明", "prospect_mobile": "13900001234"}, "referrer"),
    ],
)
def test_bad_referrals_are_a_400_and_record_nothing(api_client, advisor_a, referrer_a, store_b, payload, expected):
    other_store_customer = owner(store_b, "B0001")
    payload = dict(payload)
    if payload.get("referrer") == "REF":
        payload["referrer"] = referrer_a.pk
    elif payload.get("referrer") == "OTHER":
        payload["referrer"] = other_store_customer.pk
    api_client.force_authenticate(advisor_a)

    response = api_client.post(URL, payload, format="json")

    assert response.status_code == 400
    if isinstance(expected, dict):
        assert response.json() == expected
    else:
        assert list(response.json()) == [expected]
    assert Referral.objects.count() == 0


def test_the_list_is_scoped_and_masked_by_role(api_client, advisor_a, manager_a, manager_b, sales_a, referrer_a):
    store = referrer_a.store
    Referral.objects.create(store=store, referrer=referrer_a, prospect_name="陈明", prospect_mobile="13900001234")
    Referral.objects.create(store=store, referrer_staff=sales_a, prospect_name="刘洋", prospect_mobile="13700005678")

    def mobiles(user):
        api_client.force_authenticate(user)
        return [row["prospect_mobile"] for row in api_client.get(URL).json()["results"]]

    assert mobiles(advisor_a) == ["137****5678", "139****1234"]
    assert AuditLog.objects.filter(object_type="clubs.referral").count() == 0
    assert mobiles(manager_a) == ["13700005678", "13900001234"]
    assert AuditLog.objects.filter(object_type="clubs.referral").count() == 1
    assert mobiles(manager_b) == []


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("agent_a", (200, 201)), ("sales_a", (200, 201)), ("advisor_a", (200, 201)), ("manager_a", (200, 201)),
     ("admin_user", (200, 201))],
)  # fmt: skip
def test_who_may_record_referrals(api_client, referrer_a, persona, expected, request):
    api_client.force_authenticate(request.getfixturevalue(persona))

    answers = (
        api_client.get(URL).status_code,
        api_client.post(
            URL, {"referrer": referrer_a.pk, "prospect_name": "陈明", "prospect_mobile": "13900001234"}, format="json"
        ).status_code,
    )

    assert answers == expected
    assert Referral.objects.count() == (1 if expected[1] == 201 else 0)


def test_the_referral_list_runs_a_fixed_number_of_queries(api_client, advisor_a, referrer_a, django_assert_num_queries):
    for number in range(8):
        Referral.objects.create(
            store=referrer_a.store, referrer=referrer_a, prospect_name="陈明", prospect_mobile=f"139000012{number:02d}"
        )
    api_client.force_authenticate(advisor_a)
    api_client.get(URL)

    # count, page, the referrers the caller may see
    with django_assert_num_queries(3):
        response = api_client.get(URL)

    assert response.json()["count"] == 8


def test_a_top_secret_referrers_name_is_not_shown_to_the_store(api_client, advisor_a, store_a):
    secret = owner(store_a, "A0009", name="秦岚", confidentiality="top_secret")
    Referral.objects.create(store=store_a, referrer=secret, prospect_name="陈明", prospect_mobile="13900001234")
    api_client.force_authenticate(advisor_a)

    row = api_client.get(URL).json()["results"][0]

    assert (row["referrer"], row["referrer_customer_no"], row["referrer_name"]) == (secret.pk, None, None)


def test_a_staff_referral_goes_to_the_store_named(api_client, manager_a, store_a, store_b):
    manager_a.stores.add(store_b)
    api_client.force_authenticate(manager_a)

    payload = {"referrer_staff": manager_a.pk, "prospect_name": "陈明", "prospect_mobile": "13900001234"}

    response = api_client.post(URL, {**payload, "store": store_b.pk}, format="json")

    assert (response.status_code, response.json()["store_code"]) == (201, "NJ02")
