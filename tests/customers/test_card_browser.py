"""Headless Chromium: after adding a note the box is empty, so a second click posts nothing."""

import pytest

from customers.models import CustomerNote
from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_second_click_after_a_note_posts_nothing(browser_page, live_server, advisor_a, store_a):  # noqa: F811
    customer = CustomerFactory(store=store_a, name="李雷")
    page = browser_page
    log_in(page, live_server, "advisor_a", "pw-for-tests-1")
    page.goto(f"{live_server.url}/customers/{customer.pk}/")

    page.fill("form[data-form=note] textarea", "客户想了解置换政策")
    page.click("form[data-form=note] button[type=submit]")
    page.wait_for_selector('#timeline li[data-kind="note"]:has-text("客户想了解置换政策")')
    assert page.input_value("form[data-form=note] textarea") == ""
    page.click("form[data-form=note] button[type=submit]")
    page.wait_for_timeout(500)

    assert list(CustomerNote.objects.values_list("text", flat=True)) == ["客户想了解置换政策"]
    assert page.locator('#timeline li[data-kind="note"]').count() == 1
