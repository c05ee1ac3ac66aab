"""Headless Chromium: a manager opening the birthday rule sees its offset, not the maintenance
interval and distance nor the months of the points expiry; the maintenance rule shows its own."""

import pytest

from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.followups.factories import rules_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_rule_page_shows_only_the_rule_s_parameters(browser_page, live_server, manager_a, store_a):  # noqa: F811
    rules = rules_for(store_a)
    page = browser_page
    log_in(page, live_server, "manager_a", "pw-for-tests-1")

    page.goto(f"{live_server.url}/followups/rules/{rules['birthday'].pk}/")
    labels = page.locator("form[data-form=rule] label").all_inner_texts()
    assert "偏移天数" in labels
    assert [label for label in labels if "保养" in label or "偏移月数" in label] == []

    page.goto(f"{live_server.url}/followups/rules/{rules['maintenance_due'].pk}/")
    assert page.locator("#id_interval_days").is_visible()
    assert page.locator("#id_distance_km").is_visible()
    assert page.locator("#id_offset_months").count() == 0
