"""Layout at a desk (1366 px), a tablet (768 px) and a phone (390 px), in headless Chromium: no page
scrolls sideways (tables scroll inside their box or stack), the manager's and the administrator's
top bar is one row at a desk, and one menu item is marked as the current page. The pages used all
day on a tablet (door check-in, arrivals board, call panel, card) fit every width, have 40-px targets
at 768 px, and the call panel is two columns only where they fit."""

import datetime
import io

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from clubs.models import ClubEvent
from clubs.services import event_create, event_register
from crm.models import Store
from tests.browser import browser_page, fits_without_sideways_scroll, log_in, save_screenshot  # noqa: F401
from tests.customers.appointment_helpers import NOW, TODAY, book
from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory
from tests.followups.factories import ALL_DAY, CallAttemptFactory, FollowupTaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGE_WIDTH = "[document.scrollingElement.scrollWidth, window.innerWidth]"


@pytest.fixture
def busy_store(store_a, manager_a, agent_a):
    """A customer with long vehicle and repair-order rows, and a week of calls for the reports."""
    customer = CustomerFactory(store=store_a, name="欧阳建国", employer="南京长江汽车零部件制造有限公司")
    vehicle = VehicleFactory(customer=customer, model="2.0T 四驱旗舰版 运动型多用途车", vin="LGBH52E0123456789")
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


def test_on_a_phone_a_long_english_name_fits(browser_page, live_server, manager_a):  # noqa: F811
    manager_a.first_name, manager_a.last_name = "Alexandra-Catherine", "Montgomery-Wellington"
    manager_a.save(update_fields=["first_name", "last_name"])
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 900})
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    log_in(page, live_server, "manager_a", "pw-for-tests-1")

    page.goto(f"{live_server.url}/followups/preview/")
    page.wait_for_load_state("load")

    assert page.locator("#language option[selected]").get_attribute("value") == "en"
    assert page.evaluate(PAGE_WIDTH) == [390, 390]
    assert page.locator(".user-menu button.link-button").bounding_box()["x"] + 10 < 390  # "Log out" on screen


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


# The pages used all day on a tablet: the door check-in, the arrivals board, the call panel and the
# card. At every width they fit; at 768 px every field and button in the page is a finger's target.
SMALL_TARGETS = """() => [...document.querySelectorAll(
    'main :is(button, [role=button], select, textarea, input:not([type=hidden], [type=checkbox], [type=radio]))'
  )].filter((el) => !el.matches('.link, .link-button'))
    .map((el) => [el.outerHTML.slice(0, 90), el.getBoundingClientRect()])
    .filter(([, box]) => box.width > 0 && box.height < 40)
    .map(([html, box]) => `${Math.round(box.height)}px ${html}`)"""


# The outermost elements that reach past the window's right edge (what makes the page scroll).
TOO_WIDE = """() => [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > innerWidth + 1)
    .filter((el) => el.parentElement.getBoundingClientRect().right <= innerWidth + 1)
    .map((el) => el.outerHTML.slice(0, 120))"""


@pytest.fixture
def tablet_day(store_a, advisor_a, agent_a, manager_a):
    """Inside a frozen working morning: a started club event with a registered member, three bookings
    today, and a customer in the call queue with a vehicle, a repair order and earlier calls."""
    with time_machine.travel(NOW, tick=True):
        Store.objects.filter(pk=store_a.pk).update(**ALL_DAY)
        call_command("club_start", "--store", store_a.code, "--date", "2025-01-01", stdout=io.StringIO())
        member = CustomerFactory(store=store_a, customer_no="D1", name="王芳", mobile="13912348866")
        VehicleFactory(customer=member, plate_no="苏A66666", delivery_date=datetime.date(2024, 5, 1))
        call_command("club_run", "--date", TODAY.isoformat(), stdout=io.StringIO())
        now = timezone.now()
        event = event_create(
            user=manager_a, store=store_a, title="新车主课堂", kind="new_owner_class",
            starts_at=now + datetime.timedelta(hours=1), ends_at=now + datetime.timedelta(hours=4),
            place="江宁店二楼", capacity=20, points_for_attending=200,
        )  # fmt: skip
        event_register(user=advisor_a, event=event, customer=member)
        ClubEvent.objects.filter(pk=event.pk).update(starts_at=now - datetime.timedelta(seconds=5))
        book(advisor_a, store_a, day=TODAY, name="李雷", advisor=advisor_a)
        book(advisor_a, store_a, day=TODAY, vip=True, name="韩梅梅")
        caller = CustomerFactory(store=store_a, name="欧阳建国", employer="南京长江汽车零部件制造有限公司")
        vehicle = VehicleFactory(customer=caller, model="2.0T 四驱旗舰版 运动型多用途车", vin="LGBH52E0123456789")
        RepairOrderFactory(vehicle=vehicle, ro_no="RO2026110200001")
        earlier = FollowupTaskFactory(store=store_a, customer=caller, rule_date=TODAY - datetime.timedelta(days=30))
        CallAttemptFactory(task=earlier, agent=agent_a, satisfaction=4, at=now - datetime.timedelta(days=30))
        FollowupTaskFactory(store=store_a, customer=caller, code="post_repair_callback", rule_date=TODAY)
        yield {"event": event, "caller": caller, "now": NOW}


def _check_page(page, name: str, width: int) -> None:
    save_screenshot(page, f"tablet-{name}-{width}")
    assert fits_without_sideways_scroll(page), (name, width, page.evaluate(TOO_WIDE))
    if width == 768:
        assert page.evaluate(SMALL_TARGETS) == [], name


@pytest.mark.parametrize("width", [1366, 768, 390])
def test_the_tablet_pages_fit_and_have_finger_sized_targets(browser_page, live_server, tablet_day, width):  # noqa: F811
    page = browser_page
    page.set_viewport_size({"width": width, "height": 1000})
    with time_machine.travel(tablet_day["now"], tick=True):
        log_in(page, live_server, "advisor_a", "pw-for-tests-1")
        page.goto(live_server.url + reverse("clubs:event_door", args=[tablet_day["event"].pk]) + "?q=8866")
        assert page.locator('[data-results] [data-action="check-in"]').count() == 1
        _check_page(page, "door", width)

        page.goto(f"{live_server.url}/customers/arrivals/")
        assert page.locator("table[data-table=arrivals] tbody tr").count() == 2
        _check_page(page, "arrivals", width)

        page.goto(f"{live_server.url}/customers/{tablet_day['caller'].pk}/")
        _check_page(page, "card", width)

        page.context.clear_cookies()
        log_in(page, live_server, "agent_a", "pw-for-tests-1")
        page.goto(f"{live_server.url}/followups/queue/")
        page.click('[data-action="next-call"]')
        page.locator(f'[data-call-customer="{tablet_day["caller"].pk}"]').wait_for()
        _check_page(page, "call-panel", width)

        facts = page.locator(".call-card > .facts").bounding_box()
        form = page.locator(".call-card > .outcome-form").bounding_box()
        side_by_side = form["x"] >= facts["x"] + facts["width"] and form["y"] < facts["y"] + facts["height"]
        assert side_by_side == (width == 1366)  # two columns on a desk screen, one on a tablet or phone
