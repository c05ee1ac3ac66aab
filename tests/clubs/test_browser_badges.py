"""In headless Chromium: staff meet a club member on the card, in the search results and in the call
panel, and see the club's tier, labour discount and the points expiring within 30 days; a manager
reads the DMS-differences report on a phone. (The call panel is the call agents': advisors do not
work the call queue, so an agent opens it.)"""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from clubs.models import Membership
from crm.choices import Role
from customers.models import Customer
from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.factories import CustomerFactory, RepairOrderFactory, StoreFactory, UserFactory, VehicleFactory
from tests.followups.factories import ALL_DAY, FollowupTaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def member():
    """A 金卡 member: opened with the DMS's 银卡 and 1,200 points 11 months and 20 days ago (the lot
    expires in 10 days), then a ¥15,000 order a month ago earned 600 at the silver rate and raised them."""
    today = timezone.localdate()
    started = today - datetime.timedelta(days=355)
    store = StoreFactory(code="NJ01", name="江宁店", **ALL_DAY)
    customer = CustomerFactory(
        store=store, customer_no="A1", name="李雷", member_tier="银卡", member_card_no="VIP001", points_balance=1200
    )
    car = VehicleFactory(customer=customer, delivery_date=started - datetime.timedelta(days=200))
    call_command("club_start", "--store", "NJ01", "--date", started.isoformat(), stdout=io.StringIO())
    RepairOrderFactory(
        vehicle=car, settle_date=today - datetime.timedelta(days=30), open_date=today - datetime.timedelta(days=30),
        total_amount=Decimal("15000"), repair_type="maintenance",
    )  # fmt: skip
    call_command("club_run", "--date", today.isoformat(), stdout=io.StringIO())
    Customer.objects.filter(pk=customer.pk).update(member_tier="普通")  # a later DMS export disagrees
    assert Membership.objects.get(customer=customer).points_balance == 1800
    return customer


def test_an_advisor_sees_the_clubs_tier_discount_and_expiring_points(browser_page, live_server, member):  # noqa: F811
    UserFactory(username="advisor_web", role=Role.SERVICE_ADVISOR, stores=[member.store], password="advisor-pw-123")
    page = browser_page

    log_in(page, live_server, "advisor_web", "advisor-pw-123")
    page.goto(f"{live_server.url}/customers/?q=李雷")
    cell = page.locator('tr[data-customer-no="A1"] [data-field="membership"]')
    assert cell.inner_text() == "金卡 · 工时7折 · 1800 积分 1200 积分将在30天内到期"
    assert page.locator('tr[data-customer-no="A1"] .badge.vip').inner_text() == "VIP"

    page.click('tr[data-customer-no="A1"] a')
    page.wait_for_load_state("domcontentloaded")
    assert page.locator('[data-badge="vip"]').inner_text() == "VIP · 金卡"
    line = page.locator('[data-field="membership"]')
    assert line.locator('[data-field="tier"]').inner_text() == "金卡"
    assert line.locator('[data-field="discount"]').inner_text() == "工时7折"
    assert line.locator('[data-field="points"]').inner_text() == "1800 积分"
    assert line.locator('[data-field="expiring"]').inner_text() == "1200 积分将在30天内到期"
    assert line.locator('[data-field="dms"]').inner_text() == "（DMS：普通，1200 积分）"

    # The membership line and the badges wrap inside the screen at every width. (At 390 px the
    # card's vehicle and repair-order tables, older than the club, are still wider than the screen.)
    for width in (1366, 768, 390):
        page.set_viewport_size({"width": width, "height": 800})
        for selector in ('[data-field="membership"]', ".badges"):
            right = page.evaluate(f"document.querySelector('{selector}').getBoundingClientRect().right")
            assert right <= width, (width, selector, right)


def test_the_call_panel_shows_the_clubs_tier_discount_and_expiring_points(browser_page, live_server, member):  # noqa: F811
    UserFactory(username="agent_web", role=Role.CALL_AGENT, stores=[member.store], password="agent-pw-123")
    FollowupTaskFactory(
        store=member.store, customer=member, code="post_repair_callback", rule_date=timezone.localdate()
    )
    page = browser_page

    log_in(page, live_server, "agent_web", "agent-pw-123")
    page.click('[data-link="call-queue"]')
    page.click('[data-action="next-call"]')
    card = page.locator(f'[data-call-customer="{member.pk}"]')
    card.wait_for()
    assert card.locator('[data-badge="vip"]').inner_text() == "VIP · 金卡"
    assert card.locator('[data-field="discount"]').inner_text() == "工时7折"
    assert card.locator('[data-field="points"]').inner_text() == "1800 积分"
    assert card.locator('[data-field="expiring"]').inner_text() == "1200 积分将在30天内到期"


def test_a_manager_reads_the_dms_differences_on_a_phone(browser_page, live_server, member):  # noqa: F811
    UserFactory(username="manager_web", role=Role.MANAGER, stores=[member.store], password="manager-pw-123")
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 800})

    log_in(page, live_server, "manager_web", "manager-pw-123")
    page.goto(f"{live_server.url}/club/differences/")

    assert page.locator("[data-count]").inner_text() == "1 名会员与DMS不一致"
    assert page.locator('tr[data-card-no="VIP001"] [data-differs="tier"]').inner_text() == "普通"
    assert no_horizontal_scroll(page)
