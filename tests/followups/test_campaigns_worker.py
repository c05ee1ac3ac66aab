"""A 10,000-message campaign sent through a real Celery worker and Redis, the worker killed (SIGKILL)
mid-send (while it waits on an SMS provider that has stopped answering) and restarted: every
recipient outside the holdout gets the message once (the provider is sent no key twice), the
holdout none."""

import time

import pytest
from django.utils import timezone

from config.celery import app
from customers.facts import customer_stats_refresh
from customers.models import Customer, CustomerConsent, Segment
from followups import tasks
from followups.campaigns import campaign_approve, campaign_create
from followups.models import CampaignRecipient, SmsMessage
from tests.conftest import kill, start_celery_worker, stop_celery_worker, wait_until
from tests.factories import StoreFactory, UserFactory
from tests.sms_gateway import SmsProvider

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
CUSTOMERS = 11_112
SENT = 10_000  # ceil(11,112 × 10 %) = 1,112 kept back


def test_a_campaign_survives_a_killed_worker():
    today = timezone.localdate()
    store = StoreFactory(code="NJ01", sms_signature="江宁日产")
    author = UserFactory(username="author", role="manager", stores=[store])
    approver = UserFactory(username="approver", role="manager", stores=[store])
    customers = Customer.objects.bulk_create(
        Customer(customer_no=f"W{index:06d}", store=store, name="张伟", mobile=f"139{index:08d}", district="江宁区")
        for index in range(CUSTOMERS)
    )
    CustomerConsent.objects.bulk_create(
        CustomerConsent(customer=customer, purpose="marketing", is_granted=True, at=timezone.now(), source="desk")
        for customer in customers
    )
    customer_stats_refresh(today=today)
    segment = Segment.objects.create(name="江宁车主", store=store, definition={"districts": ["江宁区"]})
    campaign = campaign_create(
        user=author, store=store, name="冬季保养", kind="promotion", segment=segment,
        template="尊敬的{name}：冬季保养八折。", send_at=timezone.now(), holdout_percent=10,
    )  # fmt: skip
    assert campaign_approve(user=approver, campaign=campaign) == (CUSTOMERS, SENT)
    app.conf.task_always_eager = False
    with SmsProvider(hold_after=500) as provider:  # the 501st message waits for an answer
        env = {**provider.env, "SMS_SEND_WINDOW": "00:00-24:00", "SMS_SEND_LEASE_SECONDS": "2"}  # at any hour
        worker = start_celery_worker(extra_env=env)
        try:
            tasks.send_store_sms.delay(store_id=store.pk, day=today.isoformat())
            assert provider.holding.wait(timeout=120)
            kill(worker)  # in the middle of the batch: waiting for the provider's answer
            provider.resume()
            assert len(provider.accepted) == 500
            worker = start_celery_worker(extra_env=env)
            for _tick in range(4):  # the resume sweep's ticks
                tasks.resume_sms.delay()
                time.sleep(1)
            assert wait_until(lambda: SmsMessage.objects.filter(status="sent").count() == SENT, timeout=300)
        finally:
            stop_celery_worker(worker)
            app.conf.task_always_eager = True

    expected = {f"campaign-{campaign.pk}-{customer_id}" for customer_id in CampaignRecipient.objects.filter(
        campaign=campaign, is_holdout=False).values_list("customer_id", flat=True)}  # fmt: skip
    assert len(provider.accepted) == SENT
    assert provider.duplicates == []
    assert set(provider.accepted) == expected
    assert SmsMessage.objects.count() == SENT
    campaign.refresh_from_db()
    assert campaign.status == "sent"
