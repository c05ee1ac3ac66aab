"""Each rule shows and saves only the parameters its builder reads, declared once where the builders
are registered (customers.rule_builders.rule_parameters): the rule page, the rule list and the admin."""

import pytest
from django.urls import reverse

from customers.rule_builders import rule_builders, rule_parameters
from followups.choices import RuleCode
from followups.models import FollowupRule
from tests.followups.factories import rules_for

pytestmark = pytest.mark.django_db

ALL = ["offset_days", "offset_months", "interval_days", "distance_km"]


def test_every_rule_declares_its_parameters():
    assert set(rule_builders()) == set(RuleCode.values)
    assert rule_parameters("maintenance_due") == ("offset_days", "interval_days", "distance_km")
    assert rule_parameters("points_expiry") == ("offset_days", "offset_months")
    assert rule_parameters("appointment_reminder") == ()
    assert rule_parameters("event_notice") == ("offset_days",)
    assert {code for code in RuleCode.values if rule_parameters(code) == ("offset_days",)} == set(RuleCode.values) - {
        "maintenance_due",
        "points_expiry",
        "appointment_reminder",
    }


def fields_on_the_page(html: str) -> list[str]:
    return [name for name in ALL if f'name="{name}"' in html]


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("birthday", ["offset_days"]),
        ("maintenance_due", ["offset_days", "interval_days", "distance_km"]),
        ("points_expiry", ["offset_days", "offset_months"]),
        ("appointment_reminder", []),
    ],
)
def test_the_rule_page_shows_only_the_rule_s_parameters(client, manager_a, store_a, code, shown):
    rule = rules_for(store_a)[code]
    client.force_login(manager_a)

    html = client.get(reverse("followups:rule_edit", args=[rule.pk])).content.decode()

    assert fields_on_the_page(html) == shown


def test_a_parameter_the_rule_does_not_read_is_not_saved(client, manager_a, store_a):
    rule = rules_for(store_a)["birthday"]
    client.force_login(manager_a)

    response = client.post(
        reverse("followups:rule_edit", args=[rule.pk]),
        {"is_enabled": "on", "channel": "sms", "offset_days": "-5", "offset_months": "7", "interval_days": "90",
         "distance_km": "1", "priority": "8", "script": "", "questionnaire": "", "sms_template": rule.sms_template},
    )  # fmt: skip

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.offset_days, rule.offset_months, rule.interval_days, rule.distance_km) == (-5, 0, 180, 5000)


def test_the_rule_list_shows_no_offset_for_a_rule_without_one(client, manager_a, store_a):
    rules_for(store_a)
    client.force_login(manager_a)

    html = client.get(reverse("followups:rules"), {"q": "appointment"}).content.decode()

    assert '<td class="number" data-field="offset">—</td>' in html


@pytest.mark.parametrize(
    ("code", "shown"),
    [("birthday", ["offset_days"]), ("maintenance_due", ["offset_days", "interval_days", "distance_km"])],
)
def test_the_admin_shows_only_the_rule_s_parameters(client, admin_user, store_a, code, shown):
    rule = rules_for(store_a)[code]
    admin_user.is_superuser = True
    admin_user.save(update_fields=["is_superuser"])
    client.force_login(admin_user)

    html = client.get(reverse("admin:followups_followuprule_change", args=[rule.pk])).content.decode()

    assert fields_on_the_page(html) == shown
    assert FollowupRule.objects.get(pk=rule.pk).interval_days == 180
