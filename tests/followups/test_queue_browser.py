"""In headless Chromium: the queue's figures and list follow the call panel without a reload (issue 15)."""

import pytest
from django.utils import timezone

from crm.choices import Role
from followups.models import FollowupTask
from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.crm.test_csp import COLLECT_VIOLATIONS
from tests.factories import CustomerFactory, StoreFactory, UserFactory
from tests.followups.factories import ALL_DAY, FollowupTaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def figure(page, name: str) -> str:
    return page.locator(f'[data-figure="{name}"]').inner_text().strip()


def wait_for_figure(page, name: str, value: str) -> None:
    page.wait_for_function(
        "([name, value]) => document.querySelector(`[data-figure='${name}']`).textContent.trim() === value",
        arg=[name, value],
    )


def test_save_and_next_and_put_back_refresh_the_figures_and_the_list(browser_page, live_server):  # noqa: F811
    store = StoreFactory(code="NJ01", name="江宁店", **ALL_DAY)
    UserFactory(username="agent_web", role=Role.CALL_AGENT, stores=[store], password="agent-pw-123")
    today = timezone.localdate()
    first, second, third = (
        FollowupTaskFactory(store=store, customer=CustomerFactory(store=store, name=name), priority=priority,
                            rule_date=today)
        for name, priority in (("李雷", 1), ("韩梅梅", 2), ("王芳", 3))
    )  # fmt: skip
    page = browser_page
    page.add_init_script(COLLECT_VIOLATIONS)

    log_in(page, live_server, "agent_web", "agent-pw-123")
    page.goto(f"{live_server.url}/followups/queue/")
    requests = []
    page.on("request", lambda request: requests.append(f"{request.method} {request.url.split('/', 3)[3]}"))
    assert (figure(page, "open"), figure(page, "done")) == ("3", "0")
    assert page.locator("[data-table=queue] tr[data-customer]").count() == 3

    page.click('[data-action="next-call"]')
    page.locator(f'[data-call-customer="{first.customer_id}"]').wait_for()
    page.check('[data-outcome="reached"] input')
    # Password managers, translators and the browser itself give inputs an inline style (here an
    # empty one, by the CSSOM, which the CSP allows); htmx must not copy it onto the next panel's.
    page.evaluate("""document.querySelectorAll('[data-outcome] input').forEach((input) => {
        input.style.outline = '1px solid'; input.style.outline = ''; })""")
    page.click('[data-action="save-outcome"]')
    page.locator(f'[data-call-customer="{second.customer_id}"]').wait_for()

    # No reload: the figures and the list follow the saved call, sent with the panel (one request
    # for "next call", one for "save and next call": no refresh of their own).
    wait_for_figure(page, "done", "1")
    assert figure(page, "open") == "2"
    page.locator(f'[data-table=queue] tr[data-customer="{first.customer_id}"]').wait_for(state="detached")
    assert page.locator("[data-table=queue] tr[data-customer]").count() == 2
    assert page.url.endswith("/followups/queue/")
    assert requests == ["POST followups/queue/next/", f"POST followups/queue/call/{first.customer_id}/outcome/"]

    # Put back: the customer stays in the list, no longer callable for a while.
    page.click('[data-action="release"]')
    page.locator('[data-call="none"]').wait_for()
    page.locator(f'tr[data-customer="{second.customer_id}"][data-callable="0"]').wait_for()
    assert page.locator(f'tr[data-customer="{third.customer_id}"][data-callable="1"]').count() == 1
    assert FollowupTask.objects.get(pk=first.pk).status == "done"
    # htmx settles no inline style the page's CSP would block (base.html's htmx-config).
    assert page.evaluate("window.__cspViolations") == []
