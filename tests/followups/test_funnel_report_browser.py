"""Headless Chromium: a manager opens the follow-up reports and reads the calls' funnel of one rule
with its exact figures, at 1366, 768 and 390 px wide without horizontal scroll."""

import pytest

from tests.browser import browser_page, fits_without_sideways_scroll, log_in  # noqa: F401 - fixture
from tests.followups.test_funnel_report import funnel_data  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_reads_the_funnel_of_a_rule(browser_page, live_server, manager_a, funnel_data, tmp_path):  # noqa: F811
    page = browser_page
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(page, live_server, "manager_a", "pw-for-tests-1")

    page.goto(f"{live_server.url}/followups/reports/?start=2026-11-01&end=2026-11-30")

    row = page.locator('table[data-table="funnel-by-rule"] tr[data-key="maintenance_due"]')
    cells = [row.locator(f'[data-cell="{name}"]').inner_text() for name in
             ("reached", "booked", "kept", "orders", "revenue")]  # fmt: skip
    assert cells == ["3", "2 (66.7%)", "1 (50.0%)", "2 (66.7%)", "2000.50"]
    agents = page.locator('table[data-table="funnel-by-agent"] tbody tr')
    assert [agents.nth(index).get_attribute("data-key") for index in range(agents.count())] == ["agent_a", "agent_c"]
    assert page.locator("#chart-funnel").is_visible()
    for width in (1366, 768, 390):
        page.set_viewport_size({"width": width, "height": 900})
        # The charts follow the new width a frame later (Chart.js watches its box): wait for it.
        assert fits_without_sideways_scroll(page), width
        page.screenshot(path=str(tmp_path / f"funnel_{width}.png"), full_page=True)
    assert row.locator('[data-cell="revenue"]').is_visible()
