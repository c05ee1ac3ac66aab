"""SMS campaigns in the API: a manager's draft (placeholders checked), another manager's approval
(four eyes), reads scoped to the caller's stores."""

import datetime
import zoneinfo

import pytest
import time_machine

from customers.facts import customer_stats_refresh
from customers.models import CustomerConsent, Segment
from followups.models import Campaign, CampaignRecipient, SmsMessage
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/campaigns/"
NOW = datetime.datetime(2026, 12, 10, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def segment(store_a):
    for index in range(10):
        customer = CustomerFactory(store=store_a, mobile=f"1390000{index:04d}", district="江宁区")
        CustomerConsent.objects.create(customer=customer, purpose="marketing", is_granted=True, at=NOW, source="desk")
    customer_stats_refresh(today=NOW.date())
    return Segment.objects.create(name="江宁车主", store=store_a, definition={"districts": ["江宁区"]})


def draft(api_client, user, store, segment, **overrides):
    api_client.force_authenticate(user)
    payload = {
        "store": store.pk, "name": "冬季保养", "kind": "promotion", "segment": segment.pk,
        "template": "尊敬的{name}：冬季保养八折。", "send_at": "2026-12-11T10:00:00+08:00", **overrides,
    }  # fmt: skip
    return api_client.post(URL, payload, format="json")


def test_a_draft_then_another_managers_approval_queues_the_messages(api_client, manager_a, store_a, segment):
    response = draft(api_client, manager_a, store_a, segment)
    assert response.status_code == 201, response.json()
    campaign = Campaign.objects.get()
    assert response.json() == {
        "id": campaign.pk, "store": store_a.pk, "store_code": "NJ01", "name": "冬季保养", "kind": "promotion",
        "segment": segment.pk, "districts": [], "template": "尊敬的{name}：冬季保养八折。",
        "send_at": "2026-12-11T10:00:00+08:00", "holdout_percent": 10, "status": "draft",
        "created_by": manager_a.pk, "approved_by": None, "approved_at": None,
        "created_at": "2026-12-10T10:00:00+08:00",
    }  # fmt: skip

    own = api_client.post(f"{URL}{campaign.pk}/approve/")
    second = UserFactory(username="manager_a2", role="manager", stores=[store_a])
    api_client.force_authenticate(second)
    approved = api_client.post(f"{URL}{campaign.pk}/approve/")

    assert own.status_code == 400  # four eyes
    assert (approved.status_code, approved.json()) == (200, {"recipients": 10, "messages": 9})
    assert (CampaignRecipient.objects.filter(is_holdout=True).count(), SmsMessage.objects.count()) == (1, 9)
    assert api_client.get(f"{URL}{campaign.pk}/").json()["status"] == "approved"
    assert api_client.post(f"{URL}{campaign.pk}/approve/").status_code == 400  # approved once


@pytest.mark.parametrize("template", ["{unknown}您好", "尊敬的{Name}", "{姓名}您好"])
def test_a_template_with_an_unknown_placeholder_is_refused(api_client, manager_a, store_a, segment, template):
    response = draft(api_client, manager_a, store_a, segment, template=template)

    assert response.status_code == 400
    assert Campaign.objects.count() == 0


def test_reads_are_scoped_and_advisors_have_none(api_client, manager_a, manager_b, advisor_a, store_a, segment):
    campaign_id = draft(api_client, manager_a, store_a, segment).json()["id"]
    api_client.force_authenticate(manager_b)
    assert api_client.get(f"{URL}{campaign_id}/").status_code == 404
    assert api_client.get(URL).json()["count"] == 0
    api_client.force_authenticate(advisor_a)
    assert api_client.get(URL).status_code == 403
