"""Every demo user logs in, in headless Chromium, and lands on the page for the role."""

import pytest
from django.core.management import call_command

from tests.browser import browser_page, log_in  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANDINGS = {
    "admin": ("admin", "系统管理"),
    "manager": ("manager", "经理总览"),
    "advisor": ("service_advisor", "服务前台"),
    "agent": ("call_agent", "回访中心"),
    "sales": ("sales_consultant", "销售前台"),
}


def test_each_demo_user_lands_on_the_page_for_the_role(browser_page, live_server, settings):  # noqa: F811
    settings.DEMO_MODE = True
    call_command("seed_demo", "--customers", "40", "--password", "demo-browser-pw")

    for username, (landing, heading) in LANDINGS.items():
        log_in(browser_page, live_server, username, "demo-browser-pw")
        heading_element = browser_page.locator("h1[data-landing]")
        assert heading_element.get_attribute("data-landing") == landing, username
        assert heading_element.inner_text() == heading, username
        figure = browser_page.locator('[data-figure="customers"]').inner_text()
        assert int(figure.replace(",", "")) > 0, username
        browser_page.click("text=退出")
        browser_page.wait_for_url(f"{live_server.url}/accounts/login/")
