"""Layout at a desk (1366 px), a tablet (768 px) and a phone (390 px), in headless Chromium: no page
scrolls sideways (tables scroll inside their box or stack), the manager's and the administrator's
top bar is one row at a desk, and one menu item is marked as the current page."""

import datetime

import pytest
from django.utils import timezone

from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory
from tests.followups.factories import CallAttemptFactory, FollowupTaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGE_WIDTH = "[document.scrollingElement.scrollWidth, window.innerWidth]"


@pytest.fixture
def busy_store(store_a, manager_a, agent_a):
    """A customer with long vehicle and repair-order rows, and a week of calls for the reports."""
    customer = CustomerFactory(store=store_a, name="欧阳建国", employer="南京长江汽车零部件制造有限公司")
    vehicle = VehicleFactory(customer=customer, model="2.0T 四驱旗舰版 运动型多用途车 长轴距", vin="LGBH52E0123456789")
    RepairOrderFactory(vehicle=vehicle, ro_no="RO2026110200001")
    today = timezone.localdate()
    for day in range(5):
        day_date = today - datetime.timedelta(days=day)
        task = FollowupTaskFactory(store=store_a, customer=customer, code="post_repair_callback", rule_date=day_date)
        CallAttemptFactory(
            task=task, agent=agent_a, satisfaction=2, at=timezone.now() - datetime.timedelta(days=day),
            notes="客户反映等待时间过长，希望下次能提前预约并安排专人接待，同时对洗车质量不满意",
        )  # fmt: skip
    return customer


@pytest.mark.parametrize("width", [1366, 768, 390])
def test_no_page_scrolls_sideways(browser_page, live_server, busy_store, width):  # noqa: F811
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "manager_a", "pw-for-tests-1")
    widths = {}
    for path in ["/", "/followups/reports/", f"/customers/{busy_store.pk}/"]:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")
        widths[path] = page.evaluate(PAGE_WIDTH)

    assert widths == {path: [width, width] for path in widths}


def test_on_a_phone_the_cards_vehicle_and_repair_rows_stack(browser_page, live_server, busy_store):  # noqa: F811
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 900})
    log_in(page, live_server, "manager_a", "pw-for-tests-1")

    page.goto(f"{live_server.url}/customers/{busy_store.pk}/")

    vin = page.locator('[data-table="vehicles"] td.mono')
    order = page.locator('[data-table="repair-orders"] td').first
    assert vin.evaluate("(cell) => getComputedStyle(cell).display") == "block"
    assert vin.bounding_box()["height"] < 40  # one line, not a column of single characters
    assert vin.bounding_box()["width"] > 300
    assert (order.get_attribute("data-label"), order.inner_text()) == ("工单号", "RO2026110200001")
    assert order.bounding_box()["height"] < 40
    assert not page.locator('[data-table="vehicles"] thead').is_visible()


@pytest.mark.parametrize("username", ["manager_a", "admin_user"])
def test_the_top_bar_is_one_row_at_a_desk(browser_page, live_server, manager_a, admin_user, username):  # noqa: F811
    page = browser_page
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(page, live_server, username, "pw-for-tests-1")

    bar_height = page.locator("header.topbar").bounding_box()["height"]
    brand_height = page.locator("header.topbar .brand").bounding_box()["height"]
    assert bar_height < 2 * brand_height + 12, bar_height  # one row: the bar is its padding and one line
    assert page.evaluate("document.querySelector('header.topbar').scrollWidth <= innerWidth")

    page.click("[data-nav-more] summary")  # opens by click (and by keyboard: it is a <details>)
    assert page.locator("[data-nav-more] a", has_text="审计日志").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("[data-nav-more] a", has_text="审计日志").is_visible()
    assert page.evaluate("document.activeElement.matches('[data-nav-more] summary')")
    page.keyboard.press("Enter")
    assert page.locator("[data-nav-more] a", has_text="审计日志").is_visible()
    page.mouse.click(10, 880)  # a click anywhere outside the open menu closes it
    assert not page.locator("[data-nav-more] a", has_text="审计日志").is_visible()


def test_the_segments_page_marks_one_menu_item_and_the_preview_is_in_the_menu(browser_page, live_server, manager_a):  # noqa: F811
    page = browser_page
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(page, live_server, "manager_a", "pw-for-tests-1")

    page.goto(f"{live_server.url}/customers/segments/")

    assert page.locator("header.topbar [aria-current=page]").all_text_contents() == ["客户细分"]
    page.click("[data-nav-more] summary")
    page.click("[data-nav-more] a >> text=明日队列预览")
    page.wait_for_load_state("domcontentloaded")
    assert page.url == f"{live_server.url}/followups/preview/"
    assert page.locator("header.topbar [aria-current=page]").all_text_contents() == ["明日队列预览"]
    assert page.locator("[data-nav-more] summary.active").count() == 1
