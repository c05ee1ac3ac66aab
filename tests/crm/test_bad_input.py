"""Input PostgreSQL cannot store or compare never reaches it: NUL characters anywhere, date-times
outside what a timestamptz holds, numbers past a column's range. Each is a 400 or a form message,
never a 500, and nothing is written."""

import json

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from crm.choices import Role
from customers.models import Customer, Segment
from followups.models import InboundSms, SmsMessage
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

NUL_MESSAGE = "The request contains a NUL character (0x00), which no field accepts."


@pytest.fixture
def english(settings):
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def webhook_token(settings):
    settings.SMS_INBOUND_TOKEN = "s3cret"
    return {"X-Sms-Token": "s3cret"}


@pytest.fixture
def manager_token(store_a):
    user = UserFactory(username="api_manager", role=Role.MANAGER, stores=[store_a])
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


# -- NUL characters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("mobile", {"mobile": "139\x0000005555", "text": "TD"}),
        ("text", {"mobile": "13900005555", "text": "T\x00D"}),
        ("key", {"mobile": "13900005555", "text": "TD", "n\x00te": "x"}),
    ],
)
@pytest.mark.parametrize("body", ["json", "form"])
def test_a_nul_to_the_inbound_webhook_is_a_400(client, store_a, webhook_token, english, name, payload, body):
    CustomerFactory(store=store_a, mobile="13900005555")
    url = reverse("followups:sms_inbound")

    if body == "json":
        response = client.post(url, json.dumps(payload), content_type="application/json", headers=webhook_token)
    else:
        response = client.post(url, payload, headers=webhook_token)

    assert (response.status_code, response.json()) == (400, {"detail": NUL_MESSAGE})
    assert InboundSms.objects.count() == 0
    assert Customer.objects.get().sms_opt_out is False


@pytest.mark.parametrize("body", ["json", "form"])
def test_a_nul_to_the_delivery_webhook_is_a_400(client, webhook_token, english, body):
    url = reverse("followups:sms_delivery")
    payload = {"key": "k\x00", "delivered": "true"}

    if body == "json":
        response = client.post(url, json.dumps(payload), content_type="application/json", headers=webhook_token)
    else:
        response = client.post(url, payload, headers=webhook_token)

    assert (response.status_code, response.json()) == (400, {"detail": NUL_MESSAGE})
    assert SmsMessage.objects.count() == 0


def test_a_nul_nested_in_json_is_found(client, webhook_token, english):
    response = client.post(
        reverse("followups:sms_inbound"),
        json.dumps({"mobile": "13900005555", "text": "TD", "extra": [{"deep": ["\x00"]}]}),
        content_type="application/json",
        headers=webhook_token,
    )

    assert response.status_code == 400


@pytest.mark.parametrize("url_name", ["followups:sms", "followups:queue", "complaints:list", "customers:list"])
def test_a_nul_in_a_list_pages_search_shows_the_page_without_it_and_says_why(client, manager_a, english, url_name):
    client.force_login(manager_a)

    response = client.get(reverse(url_name), {"q": "张\x00", "page": "1"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert response.wsgi_request.GET.dict() == {"page": "1"}
    assert [str(message) for message in response.context["messages"]] == ["Null characters are not allowed."]


def test_a_nul_in_a_browser_form_post_is_a_400_page(client, manager_a, store_a, english):
    customer_a = CustomerFactory(store=store_a)
    client.force_login(manager_a)

    response = client.post(
        reverse("customers:note_add", args=[customer_a.pk]),
        {"kind": "note", "text": "a\x00b"},
        headers={"Accept": "text/html"},
    )

    assert (response.status_code, response.content.decode()) == (400, NUL_MESSAGE)


def test_a_nul_in_an_api_filter_is_a_json_400(client, manager_token, english):
    response = client.get(reverse("customer-list"), {"district": "x\x00"}, headers=manager_token)

    assert (response.status_code, response.json()) == (400, {"detail": NUL_MESSAGE})


def test_an_uploaded_file_may_hold_nul_bytes(client, admin_user):
    """The importer judges a file's bytes itself (a clear message in the form), not the request guard."""
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:customers_customer_import"),
        {"resource": "0", "format": "0", "import_file": _upload("c.csv", b"\x00\x01binary")},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["import_file"]


def _upload(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


# -- date-times in API filters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-01-01T00:00:00+16:00", "The time zone offset must be between -15:59 and +15:59."),
        ("9100-03-04T07:12:12.62+21:05", "The time zone offset must be between -15:59 and +15:59."),
        ("9999-12-31T23:00:00-10:00", "The date and time must fall between the years 1 and 9999 in UTC."),
        ("0001-01-01T00:00:00+08:00", "The date and time must fall between the years 1 and 9999 in UTC."),
    ],
)
def test_a_date_time_filter_postgresql_cannot_hold_is_a_400(client, manager_token, english, value, message):
    for url, parameter in (
        (reverse("customer-list"), "updated_at__gte"),
        (reverse("complaint-list"), "received_at__lt"),
    ):
        response = client.get(url, {parameter: value}, headers=manager_token)

        assert (response.status_code, response.json()) == (400, {parameter: [message]}), url


def test_a_date_time_filter_at_the_edge_of_the_range_works(client, manager_token, store_a):
    CustomerFactory(store=store_a)

    response = client.get(
        reverse("customer-list"), {"updated_at__gte": "2000-01-01T00:00:00+15:59"}, headers=manager_token
    )

    assert response.status_code == 200
    assert response.json()["count"] == 1


# -- segment numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_spend_12m", "1e999999"),
        ("min_spend_12m", "1000000000000"),
        ("min_spend_12m", "NaN"),
        ("min_spend_12m", "Infinity"),
        ("min_spend_12m", "-Infinity"),
        ("min_spend_12m", "0.001"),
        ("min_visits_12m", "99999999999999999999"),
    ],
)
def test_segment_numbers_out_of_range_are_form_messages(client, manager_a, store_a, field, value):
    client.force_login(manager_a)

    saved = client.post(reverse("customers:segment_create"), {"name": "x", "store": store_a.pk, field: value})
    counted = client.post(reverse("customers:segment_count"), {field: value})

    assert saved.status_code == 200
    assert list(saved.context["form"].errors) == [field]
    assert Segment.objects.count() == 0
    assert counted.status_code == 200
    assert (counted.context["count"], counted.context["bad_filters"]) == (None, [field])


@pytest.mark.parametrize("spend", ["1E+999999", "NaN", "Infinity", "not a number"])
def test_a_segment_saved_with_an_impossible_spend_lists_nobody(client, manager_a, store_a, spend):
    CustomerFactory(store=store_a)
    segment = Segment.objects.create(name="旧", store=store_a, definition={"min_spend_12m": spend})
    client.force_login(manager_a)

    response = client.get(reverse("customers:segment_detail", args=[segment.pk]))

    assert response.status_code == 200
    assert response.context["page"].paginator.count == 0


def test_a_segment_saved_with_too_many_visits_lists_nobody(client, manager_a, store_a):
    segment = Segment.objects.create(name="旧", store=store_a, definition={"min_visits_12m": 10**30})
    client.force_login(manager_a)

    response = client.get(reverse("customers:segment_detail", args=[segment.pk]))

    assert response.status_code == 200
    assert response.context["page"].paginator.count == 0


def test_a_segment_spend_at_the_column_limit_is_accepted(client, manager_a, store_a):
    client.force_login(manager_a)

    response = client.post(
        reverse("customers:segment_create"), {"name": "x", "store": store_a.pk, "min_spend_12m": "999999999999.99"}
    )

    assert response.status_code == 302
    assert Segment.objects.get().definition == {"min_spend_12m": "999999999999.99"}
