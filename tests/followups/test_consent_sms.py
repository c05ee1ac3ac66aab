"""Consent by purpose honoured by every SMS (PIPL): a greeting (marketing) goes out unless the customer
withdrew marketing consent, a service reminder unless the customer withdrew consent to reminders; the
owners the DMS brought in carry no record and get both, as the follow-up rules promise. Checked where
tasks are generated and again where messages are sent."""

import datetime
import json
import zoneinfo

import pytest
from django.urls import reverse

from customers.services import customer_consent_record
from followups.choices import MARKETING_RULES, RuleCode, rule_consent_purpose
from followups.gateways import FileGateway
from followups.models import FollowupTask, SmsMessage
from followups.services import followups_generate_day, sms_messages_prepare, sms_send_batch
from tests.customers.consent_helpers import grant_marketing
from tests.factories import CustomerFactory, VehicleFactory
from tests.followups.factories import rules_for

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
D = datetime.date
DAY = D(2026, 11, 22)
AT_TEN = datetime.datetime(2026, 11, 22, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def gateway(tmp_path, settings):
    settings.SMS_FILE_GATEWAY_DIR = str(tmp_path)
    return FileGateway(tmp_path)


def sent_mobiles(gateway) -> list[str]:
    if not gateway.path.exists():
        return []
    return sorted(json.loads(line)["mobile"] for line in gateway.path.read_text(encoding="utf-8").splitlines())


def insurance_sms_customer(store, mobile):
    """A customer whose insurance-renewal SMS (a service reminder) is due on DAY."""
    rules_for(store, insurance_renewal={"channel": "sms"})
    car = VehicleFactory(customer__store=store, customer__mobile=mobile, store=store, insurance_expiry=D(2027, 1, 6))
    return car.customer


def test_the_marketing_rules_chosen():
    assert sorted(MARKETING_RULES) == ["birthday", "event_notice", "holiday_greeting", "lost_customer"]
    assert {code: rule_consent_purpose(code) for code in RuleCode.values} == {
        "delivery_thanks": "service", "first_service_invite": "service", "post_repair_callback": "service",
        "insurance_renewal": "service", "warranty_expiry": "service", "maintenance_due": "service",
        "birthday": "marketing", "holiday_greeting": "marketing", "lost_customer": "marketing",
        "points_expiry": "service", "dissatisfied_followup": "service", "event_notice": "marketing",
        "inspection_due": "service", "delivery_day1_call": "service", "appointment_reminder": "service",
        "no_show_followup": "service",
    }  # fmt: skip


def test_a_marketing_sms_is_generated_unless_marketing_consent_was_withdrawn(store_a, manager_a):
    never_asked = CustomerFactory(store=store_a, birthday=D(1990, 11, 28), mobile="13900000001")
    granted = CustomerFactory(store=store_a, birthday=D(1990, 11, 28), mobile="13900000002")
    withdrawn = CustomerFactory(store=store_a, birthday=D(1990, 11, 28), mobile="13900000003")
    grant_marketing(granted)
    customer_consent_record(customer=withdrawn, user=manager_a, purpose="marketing", is_granted=True, source="desk")
    customer_consent_record(customer=withdrawn, user=manager_a, purpose="marketing", is_granted=False, source="phone")

    made = followups_generate_day(day=DAY, store_ids=[store_a.pk], codes=["birthday"])

    assert made["birthday"] == 2
    assert sorted(FollowupTask.objects.values_list("customer_id", flat=True)) == [never_asked.pk, granted.pk]


def test_a_holiday_greeting_skips_owners_who_withdrew_marketing_consent(store_a, manager_a):
    silent, withdrew = CustomerFactory(store=store_a), CustomerFactory(store=store_a)
    customer_consent_record(customer=withdrew, user=manager_a, purpose="marketing", is_granted=False, source="phone")

    made = followups_generate_day(day=D(2027, 9, 25), store_ids=[store_a.pk], codes=["holiday_greeting"])

    assert made["holiday_greeting"] == 1
    assert list(FollowupTask.objects.values_list("customer_id", flat=True)) == [silent.pk]


def test_a_service_sms_is_generated_without_a_record_but_not_after_a_withdrawal(store_a, manager_a):
    kept = insurance_sms_customer(store_a, "13900000011")
    withdrew = insurance_sms_customer(store_a, "13900000012")
    customer_consent_record(customer=withdrew, user=manager_a, purpose="service", is_granted=False, source="phone")
    # Marketing consent does not stand in for service consent, nor the other way round.
    grant_marketing(withdrew)

    made = followups_generate_day(day=DAY, store_ids=[store_a.pk], codes=["insurance_renewal"])

    assert made["insurance_renewal"] == 1
    assert list(FollowupTask.objects.values_list("customer_id", flat=True)) == [kept.pk]


def test_a_service_sms_is_not_sent_once_the_service_consent_was_withdrawn_after_generation(store_a, manager_a, gateway):
    kept = insurance_sms_customer(store_a, "13900000021")
    withdrew = insurance_sms_customer(store_a, "13900000022")
    followups_generate_day(day=DAY, store_ids=[store_a.pk], codes=["insurance_renewal"])
    assert FollowupTask.objects.count() == 2

    customer_consent_record(customer=withdrew, user=manager_a, purpose="service", is_granted=False, source="web")
    result = sms_send_batch(store_id=store_a.pk, day=DAY, now=AT_TEN, gateway=gateway)

    assert (result["prepared"], result["sent"]) == (1, 1)
    assert sent_mobiles(gateway) == ["13900000021"]
    assert list(SmsMessage.objects.values_list("customer_id", flat=True)) == [kept.pk]
    assert FollowupTask.objects.get(customer=withdrew).status == "closed"


def test_a_marketing_sms_rendered_before_the_withdrawal_is_cancelled_not_sent(store_a, manager_a, gateway):
    customer = CustomerFactory(store=store_a, birthday=D(1990, 11, 28), mobile="13900000031")
    customer_consent_record(customer=customer, user=manager_a, purpose="marketing", is_granted=True, source="desk")
    followups_generate_day(day=DAY, store_ids=[store_a.pk], codes=["birthday"])
    assert sms_messages_prepare(store_id=store_a.pk, day=DAY) == 1  # rendered, waiting for the window

    customer_consent_record(customer=customer, user=manager_a, purpose="marketing", is_granted=False,
                            source="sms_reply")  # fmt: skip
    result = sms_send_batch(store_id=store_a.pk, day=DAY, now=AT_TEN, gateway=gateway)

    assert (result["prepared"], result["sent"]) == (0, 0)
    assert sent_mobiles(gateway) == []
    assert SmsMessage.objects.get().status == "cancelled"
    assert FollowupTask.objects.get().status == "closed"


def test_the_sms_opt_out_still_means_no_sms_at_all(store_a, gateway):
    customer = CustomerFactory(store=store_a, birthday=D(1990, 11, 28), sms_opt_out=True)
    grant_marketing(customer)
    insurance_sms_customer(store_a, "13900000041").__class__.objects.filter(mobile="13900000041").update(
        sms_opt_out=True
    )

    made = followups_generate_day(day=DAY, store_ids=[store_a.pk], codes=["birthday", "insurance_renewal"])

    assert (made["birthday"], made["insurance_renewal"]) == (0, 0)


def test_the_days_sms_list_for_the_dealers_platform_leaves_out_a_withdrawn_customer(client, store_a, manager_a):
    insurance_sms_customer(store_a, "13900000051")
    withdrew = insurance_sms_customer(store_a, "13900000052")
    followups_generate_day(day=DAY, store_ids=[store_a.pk], codes=["insurance_renewal"])
    customer_consent_record(customer=withdrew, user=manager_a, purpose="service", is_granted=False, source="phone")
    client.force_login(manager_a)

    response = client.get(reverse("followups:sms"), {"date": DAY.isoformat(), "format": "csv"})

    rows = response.content.decode("utf-8-sig").splitlines()[1:]
    assert [row.split(",")[4] for row in rows] == ["13900000051"]
    assert FollowupTask.objects.filter(status="open").count() == 2  # nothing written by a read
