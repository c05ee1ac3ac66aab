"""In headless Chromium: an advisor records a referral on the referrer's card, the sales consultant
finds the prospect among their own and moves it to test drive, the car is delivered and the nightly
run wins it, the manager reads the referral-sales report with its chart. Each page fits a phone
(390 px), a tablet (768 px) and a laptop (1366 px) without horizontal scrolling."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from clubs.models import Referral
from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.factories import CustomerFactory, VehicleFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (390, 768, 1366)
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


def assert_fits(page, selector: str = "") -> None:
    """No CSP violation on the page, and no horizontal scrolling at any of the widths: of the page,
    or (``selector``) of that part of it. A chart follows its box on the next frames, so each width
    is given a moment to settle."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    check = (
        "(s) => s ? document.querySelector(s).getBoundingClientRect().right <= window.innerWidth"
        " : document.documentElement.scrollWidth <= window.innerWidth"
    )
    assert page.evaluate("window.__cspViolations") == [], page.url  # and nothing broke the CSP
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        try:
            page.wait_for_function(check, arg=selector, timeout=3000)
        except PlaywrightTimeout:
            pytest.fail(f"{page.url} {selector} scrolls sideways at {width} px")


def test_a_referral_from_the_card_to_the_report(
    browser_page,  # noqa: F811
    live_server,
    store_a,
    advisor_a,
    sales_a,
    manager_a,
):
    page = browser_page
    page.add_init_script(COLLECT_VIOLATIONS)
    today = timezone.localdate()
    call_command("club_start", "--store", store_a.code, "--date", "2025-01-01", stdout=io.StringIO())
    referrer = CustomerFactory(store=store_a, customer_no="R1", name="王芳")
    VehicleFactory(customer=referrer, delivery_date=today.replace(year=today.year - 1))

    log_in(page, live_server, "advisor_a", "pw-for-tests-1")
    page.goto(live_server.url + reverse("customers:detail", args=[referrer.pk]))
    panel = page.locator('[data-panel="referrals"]')
    panel.locator("#id_referral_prospect_name").fill("李娜")
    panel.locator("#id_referral_prospect_mobile").fill("139 0000 0001")
    panel.locator("#id_referral_intended_model").fill("天籁")
    panel.locator("#id_referral_consultant").select_option(str(sales_a.pk))
    panel.locator("button[type=submit]").click()
    page.wait_for_load_state("domcontentloaded")
    assert page.locator(".message.success").inner_text() == "已登记 李娜 的转介绍。"
    assert "139****0001" in panel.inner_text()
    # The panel fits; the card's own vehicle and repair-order tables are the customers app's to fit.
    assert_fits(page, '[data-panel="referrals"]')
    page.goto(live_server.url + reverse("clubs:referral_create") + f"?customer={referrer.pk}")
    page.fill("#id_prospect_name", "周杰")
    page.fill("#id_prospect_mobile", "12345")
    page.click("button[type=submit].primary")
    page.wait_for_load_state("domcontentloaded")
    message = page.locator("[data-form-error]").inner_text()
    assert message == "请输入被介绍人的手机号：11位大陆手机号，例如 138 0013 8000。"
    assert_fits(page)
    referral = Referral.objects.get()

    page.context.clear_cookies()
    log_in(page, live_server, "sales_a", "pw-for-tests-1")
    page.goto(live_server.url + reverse("clubs:referral_list"))
    row = page.locator(f'tr[data-referral="{referral.pk}"]')
    assert row.locator("[data-mobile]").inner_text() == "139****0001"  # dialled through the app: [data-action=dial]
    assert row.locator('[data-action="dial"]').is_visible()
    row.locator("select[name=stage]").select_option("test_drive")
    row.locator('[data-form="stage"] button').click()
    page.wait_for_load_state("domcontentloaded")
    assert page.locator(".message.success").inner_text() == "李娜：已试驾。"
    assert_fits(page)

    VehicleFactory(customer=CustomerFactory(store=store_a, mobile="13900000001"), delivery_date=today)
    call_command("club_run", "--date", today.isoformat(), stdout=io.StringIO())
    page.context.clear_cookies()
    log_in(page, live_server, "manager_a", "pw-for-tests-1")
    page.goto(live_server.url + reverse("clubs:referral_list") + "?stage=won")
    assert page.locator(f'tr[data-referral="{referral.pk}"] [data-stage="won"]').inner_text() == "已成交"
    assert_fits(page)
    page.click("[data-nav-more] summary")  # the manager's pages used now and then are under 更多
    page.click('nav a:has-text("转介绍销售")')
    page.wait_for_selector("#referral-chart")
    month = today.strftime("%Y-%m")
    cells = page.locator(f'tr[data-month="{month}"]')
    assert cells.locator('[data-cell="won"]').inner_text() == "1"
    assert cells.locator('[data-cell="points"]').inner_text() == "500 积分"
    # Chart.js drew the chart (it sizes the canvas to its box).
    page.wait_for_function("document.getElementById('referral-chart').width > 0")
    assert page.evaluate(
        "typeof Chart !== 'undefined' && Chart.getChart(document.getElementById('referral-chart')) !== undefined"
    )
    assert_fits(page)
