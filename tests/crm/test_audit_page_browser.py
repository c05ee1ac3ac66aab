"""The audit page on a phone: no sideways scrolling, each row a readable card, filters usable."""

import pytest

from crm.audit import audit_log_record
from crm.choices import AuditAction
from tests.browser import browser_page, log_in  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_audit_page_reads_on_a_phone(browser_page, live_server, manager_a, advisor_a):  # noqa: F811
    for _index in range(3):
        audit_log_record(actor=advisor_a, action=AuditAction.PHONE_SEARCH, detail={"digits": "13812345678"})
    browser_page.set_viewport_size({"width": 375, "height": 740})
    log_in(browser_page, live_server, "manager_a", "pw-for-tests-1")

    browser_page.goto(f"{live_server.url}/crm/audit/")
    browser_page.select_option("#id_action", "phone_search")
    browser_page.click("text=筛选")
    browser_page.wait_for_load_state("domcontentloaded")

    assert browser_page.locator("h1").inner_text() == "审计日志"
    assert browser_page.locator("tr[data-audit]").count() == 3
    assert browser_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert not browser_page.locator("table.data thead").is_visible()
    first_cell = browser_page.locator("tr[data-audit] td").first
    assert browser_page.evaluate("(cell) => getComputedStyle(cell).display", first_cell.element_handle()) == "block"
    assert "按电话号码查找" in browser_page.locator("tr[data-audit]").first.inner_text()
