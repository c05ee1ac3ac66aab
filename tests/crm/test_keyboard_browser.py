"""Keyboard paths staff use all day, in headless Chromium (static/js/crm.js): "/" puts the cursor in
the page's search box (else the top bar's customer search) unless the user is typing, with a visible
hint; Up/Down move through the customer search results and the call queue, and Enter opens the row."""

import pytest
from django.utils import timezone

from crm.models import Store
from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.factories import CustomerFactory
from tests.followups.factories import ALL_DAY, FollowupTaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ACTIVE = "document.activeElement.id || document.activeElement.getAttribute('data-customer-no')"


def test_slash_focuses_the_top_bars_search_unless_typing(browser_page, live_server, advisor_a):  # noqa: F811
    page = browser_page
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(page, live_server, "advisor_a", "pw-for-tests-1")
    page.goto(f"{live_server.url}/")  # the home page has no search box of its own

    hint = page.locator(".global-search [data-shortcut-hint]")
    assert (hint.is_visible(), hint.inner_text(), hint.get_attribute("title")) == (True, "/", "按 / 键搜索")
    assert page.get_attribute("#global-search", "aria-keyshortcuts") == "/"
    page.keyboard.press("/")
    assert page.evaluate(ACTIVE) == "global-search"
    page.keyboard.type("张/伟")  # typing in a field: the slash is a character, not the shortcut
    assert page.input_value("#global-search") == "张/伟"
    assert not hint.is_visible()  # the hint steps aside once the box holds text


def test_slash_and_arrows_on_the_customer_search_results(browser_page, live_server, advisor_a, store_a):  # noqa: F811
    customers = {
        number: CustomerFactory(store=store_a, customer_no=number, name="张伟") for number in ("K001", "K002", "K003")
    }
    page = browser_page
    page.set_viewport_size({"width": 768, "height": 900})
    log_in(page, live_server, "advisor_a", "pw-for-tests-1")
    page.goto(f"{live_server.url}/customers/?q=张伟")  # ordered by customer no.

    search = page.locator("#customer-search")
    assert search.get_attribute("placeholder").endswith(" · 按 / 键搜索")
    assert not page.locator(".global-search [data-shortcut-hint]").is_visible()  # "/" leads to the page's box
    page.locator("h1").click()
    page.keyboard.press("/")
    assert page.evaluate(ACTIVE) == "customer-search"

    rows = [page.evaluate(ACTIVE)]
    for key in ("ArrowDown", "ArrowDown", "ArrowDown", "ArrowDown", "ArrowUp"):
        page.keyboard.press(key)
        rows.append(page.evaluate(ACTIVE))
    assert rows == ["customer-search", "K001", "K002", "K003", "K003", "K002"]
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/customers/{customers['K002'].pk}/")


def test_arrows_and_enter_in_the_call_queue(browser_page, live_server, agent_a, store_a):  # noqa: F811
    Store.objects.filter(pk=store_a.pk).update(**ALL_DAY)
    today = timezone.localdate()
    first = FollowupTaskFactory(
        store=store_a, customer=CustomerFactory(store=store_a, name="李雷"), priority=1, rule_date=today
    )
    second = FollowupTaskFactory(
        store=store_a, customer=CustomerFactory(store=store_a, name="韩梅梅"), priority=2, rule_date=today
    )
    page = browser_page
    page.set_viewport_size({"width": 768, "height": 900})
    log_in(page, live_server, "agent_a", "pw-for-tests-1")
    page.goto(f"{live_server.url}/followups/queue/")

    rows = page.locator("[data-table=queue] tbody tr")
    assert [rows.nth(i).get_attribute("data-customer") for i in range(2)] == [
        str(first.customer_id), str(second.customer_id),
    ]  # fmt: skip
    page.keyboard.press("/")  # from the focused "Next call" button
    assert page.evaluate(ACTIVE) == "queue-search"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.getAttribute('data-customer')") == str(second.customer_id)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/customers/{second.customer_id}/")
