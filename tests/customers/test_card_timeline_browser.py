"""Headless Chromium: a service advisor opening the card reads the calls (with the answers), SMS,
replies and the closed complaint's summary on the timeline, numbers masked."""

import pytest

from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.customers.test_card_timeline_desks import contact_history
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_advisor_reads_the_contact_history_on_the_card(browser_page, live_server, advisor_a, store_a):  # noqa: F811
    customer = CustomerFactory(store=store_a, name="李雷")
    _open_one, closed = contact_history(customer)
    page = browser_page
    log_in(page, live_server, "advisor_a", "pw-for-tests-1")
    page.goto(f"{live_server.url}/customers/{customer.pk}/")

    call = page.locator('#timeline li[data-kind="call"]')
    assert call.locator("strong").inner_text() == "维修后回访 · 已接通"
    assert call.locator(".timeline-detail").inner_text() == (
        "满意度 4/5\n保养是否满意？: 满意\n下次保养时间？: 下月\n请回电 139****5678"
    )
    assert (
        page.locator('#timeline li[data-kind="sms"] .timeline-detail').inner_text()
        == "【江宁日产】生日快乐，热线025-84561234"
    )
    assert page.locator('#timeline li[data-kind="sms_reply"] strong').inner_text() == "短信回复 · 满意度评分"
    closed_item = page.locator(f'#timeline li[data-kind="complaint"]:has-text("投诉 #{closed.pk} 已结案")')
    assert closed_item.count() == 1
    assert closed_item.locator("a").count() == 0
    assert "赔付" not in page.locator("#timeline").inner_text()
