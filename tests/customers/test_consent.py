"""Consent by purpose (PIPL): recorded per customer and purpose with time, source, staff and note,
its history kept and shown on the card, recorded through a small form by permitted staff."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from crm.models import AuditLog
from customers.models import CustomerConsent
from customers.selectors import customer_consents, customer_sms_allowed_sql
from customers.services import customer_consent_record
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
AT = datetime.datetime(2026, 11, 20, 9, 30, tzinfo=datetime.UTC)


@pytest.fixture
def customer_a(store_a):
    return CustomerFactory(store=store_a, customer_no="CA0001", name="张伟", mobile="13812341234")


def states(customer) -> dict[str, bool]:
    return {row["purpose"]: row["is_granted"] for row in customer_consents(customer=customer)}


def test_without_a_record_no_consent_is_shown_as_given_or_withdrawn(customer_a):
    assert states(customer_a) == {"service": None, "marketing": None}


def test_a_consent_is_recorded_per_purpose_with_time_source_staff_and_note(customer_a, advisor_a):
    consent = customer_consent_record(customer=customer_a, user=advisor_a, purpose="marketing", is_granted=True,
                                      source="desk", note=" 签了纸质同意书 ", at=AT)  # fmt: skip

    assert (consent.purpose, consent.is_granted, consent.at, consent.source, consent.recorded_by, consent.note) == (
        "marketing", True, AT, "desk", advisor_a, "签了纸质同意书"
    )  # fmt: skip
    assert states(customer_a) == {"service": None, "marketing": True}


def test_every_change_is_kept_in_the_history_with_who_recorded_it(customer_a, advisor_a, agent_a):
    customer_consent_record(customer=customer_a, user=advisor_a, purpose="marketing", is_granted=True, source="desk")
    customer_consent_record(customer=customer_a, user=agent_a, purpose="marketing", is_granted=False, source="phone",
                            note="电话中要求不再发促销短信")  # fmt: skip
    customer_consent_record(customer=customer_a, user=agent_a, purpose="service", is_granted=False, source="phone")

    history = CustomerConsent.history.filter(customer_id=customer_a.pk).order_by("history_id")
    assert [(row.purpose, row.is_granted, row.source, row.history_user, row.history_type) for row in history] == [
        ("marketing", True, "desk", advisor_a, "+"),
        ("marketing", False, "phone", agent_a, "~"),
        ("service", False, "phone", agent_a, "+"),
    ]
    assert CustomerConsent.objects.filter(customer=customer_a).count() == 2
    assert states(customer_a) == {"service": False, "marketing": False}
    audit = AuditLog.objects.filter(action="change_consent").order_by("id")
    assert [(entry.actor, entry.object_ids, entry.detail) for entry in audit] == [
        (advisor_a, [str(customer_a.pk)], {"purpose": "marketing", "granted": True, "source": "desk"}),
        (agent_a, [str(customer_a.pk)], {"purpose": "marketing", "granted": False, "source": "phone"}),
        (agent_a, [str(customer_a.pk)], {"purpose": "service", "granted": False, "source": "phone"}),
    ]


def test_recording_the_same_state_again_writes_nothing(customer_a, advisor_a):
    customer_consent_record(customer=customer_a, user=advisor_a, purpose="service", is_granted=False, source="web")
    customer_consent_record(customer=customer_a, user=advisor_a, purpose="service", is_granted=False, source="web")

    assert CustomerConsent.history.filter(customer_id=customer_a.pk).count() == 1
    assert AuditLog.objects.filter(action="change_consent").count() == 1


def test_an_unknown_purpose_or_source_is_refused_and_nothing_is_saved(customer_a, advisor_a):
    with pytest.raises(ValidationError) as purpose_error:
        customer_consent_record(customer=customer_a, user=advisor_a, purpose="profiling", is_granted=True,
                                source="desk")  # fmt: skip
    with pytest.raises(ValidationError) as source_error:
        customer_consent_record(customer=customer_a, user=advisor_a, purpose="marketing", is_granted=True,
                                source="pigeon")  # fmt: skip

    assert set(purpose_error.value.message_dict) == {"purpose"}
    assert set(source_error.value.message_dict) == {"source"}
    assert CustomerConsent.objects.count() == 0
    assert CustomerConsent.history.count() == 0
    assert AuditLog.objects.count() == 0


def test_a_promotion_needs_marketing_consent_granted_a_greeting_only_not_withdrawn(store_a, advisor_a):
    _never_asked, granted, withdrawn, opted_out = (
        CustomerFactory(store=store_a, customer_no=no, sms_opt_out=no == "OUT") for no in ("NEW", "YES", "NO", "OUT")
    )
    customer_consent_record(customer=granted, user=advisor_a, purpose="marketing", is_granted=True, source="desk")
    customer_consent_record(customer=withdrawn, user=advisor_a, purpose="marketing", is_granted=False, source="phone")

    def allowed(**options):
        condition = customer_sms_allowed_sql(purpose="marketing", alias="cu", **options)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT cu.customer_no FROM customers_customer cu WHERE {condition} ORDER BY 1")
            return [row[0] for row in cursor.fetchall()]

    assert allowed() == ["NEW", "YES"]
    assert allowed(require_grant=True) == ["YES"]
    assert opted_out.customer_no not in allowed()


def test_the_sms_condition_refuses_an_unknown_purpose_or_alias():
    with pytest.raises(ValueError, match="purpose"):
        customer_sms_allowed_sql(purpose="profiling")
    with pytest.raises(ValueError, match="alias"):
        customer_sms_allowed_sql(purpose="service", alias="cu; DROP TABLE x")


# --- the card ---------------------------------------------------------------------------------


def test_the_card_shows_consent_per_purpose_and_its_history(client, advisor_a, customer_a, manager_a):
    customer_consent_record(customer=customer_a, user=manager_a, purpose="marketing", is_granted=True,
                            source="desk", note="到店签字")  # fmt: skip
    client.force_login(advisor_a)

    page = client.get(reverse("customers:detail", args=[customer_a.pk])).content.decode()

    assert 'data-consent="service" data-granted=""' in page  # never recorded: shown as such
    assert 'data-consent="marketing" data-granted="1"' in page
    assert 'data-table="consent-history"' in page
    assert "到店签字" in page
    assert 'data-form="consent"' in page


def test_staff_record_a_change_on_the_card(client, advisor_a, customer_a):
    client.force_login(advisor_a)

    response = client.post(
        reverse("customers:consent_record", args=[customer_a.pk]),
        {"purpose": "service", "is_granted": "0", "source": "desk", "note": "客户不想收到保养提醒"},
    )

    assert response.status_code == 302
    consent = CustomerConsent.objects.get(customer=customer_a)
    assert (consent.purpose, consent.is_granted, consent.source, consent.recorded_by, consent.note) == (
        "service", False, "desk", advisor_a, "客户不想收到保养提醒"
    )  # fmt: skip
    card = client.get(reverse("customers:detail", args=[customer_a.pk]))
    events = [event for event in card.context["timeline"] if event.kind == "consent"]
    assert [(event.title, event.detail, event.actor) for event in events] == [
        ("已撤回同意：服务提醒", "前台 · 客户不想收到保养提醒", "王明")
    ]
    changes = [change for change in card.context["changes"] if change["type"] == "~"]
    assert [(change["reason"], change["user"], change["changes"]) for change in changes] == [
        ("同意", "王明", [{"field": "服务提醒", "old": "—", "new": "已撤回 (前台 · 客户不想收到保养提醒)"}])
    ]


def test_a_bad_form_answers_400_with_a_message_and_saves_nothing(client, advisor_a, customer_a):
    client.force_login(advisor_a)

    response = client.post(
        reverse("customers:consent_record", args=[customer_a.pk]),
        {"purpose": "marketing", "is_granted": "1", "source": "pigeon"},
    )

    assert response.status_code == 400
    assert [str(message) for message in response.context["messages"]] == [
        "方式：选择一个有效的选项。 pigeon 不在可用的选项中。"
    ]
    assert CustomerConsent.objects.count() == 0


def test_staff_without_the_permission_cannot_record_and_nothing_changes(client, store_a, customer_a):
    viewer = UserFactory(username="viewer_a", stores=[store_a])
    viewer.user_permissions.add(*_permissions("view_customer"))
    client.force_login(viewer)

    page = client.get(reverse("customers:detail", args=[customer_a.pk])).content.decode()
    response = client.post(reverse("customers:consent_record", args=[customer_a.pk]),
                           {"purpose": "marketing", "is_granted": "1", "source": "desk"})  # fmt: skip

    assert 'data-form="consent"' not in page
    assert response.status_code == 403
    assert CustomerConsent.objects.count() == 0


def test_another_stores_manager_cannot_record_a_consent(client, manager_b, customer_a):
    client.force_login(manager_b)

    response = client.post(reverse("customers:consent_record", args=[customer_a.pk]),
                           {"purpose": "marketing", "is_granted": "1", "source": "desk"})  # fmt: skip

    assert response.status_code == 404
    assert CustomerConsent.objects.count() == 0


def _permissions(*codenames):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="customers", codename__in=codenames)
