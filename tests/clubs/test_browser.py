"""In headless Chromium, in Chinese: a service advisor opens a member and sees the tier, the labour
discount and the points expiring in 30 days, redeems points at the desk and sees the ledger line;
a manager adjusts the points with a reason and the ledger shows the reason. At 390 px wide the
pages do not scroll sideways."""

import pytest
from django.urls import reverse

from clubs.models import Membership, PointsEntry
from tests.browser import browser_page, log_in  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_desk_redeems_and_a_manager_adjusts_with_a_reason(
    browser_page,  # noqa: F811
    live_server,
    advisor_a,
    manager_a,
    member_a,
):
    page = browser_page
    log_in(page, live_server, "advisor_a", "pw-for-tests-1")

    page.goto(live_server.url + reverse("clubs:members"))
    page.fill("#id_q", "张伟")
    page.click("form.filter-form button[type=submit]")
    page.click(f'tr[data-member="{member_a.pk}"] a')
    page.wait_for_selector("h1[data-member]")
    assert page.inner_text("[data-tier]") == "金卡"
    assert page.inner_text('[data-field="discount"]') == "7折"
    assert page.inner_text('[data-field="points-balance"]') == "1200 积分"
    assert page.inner_text('[data-field="points-expiring"]') == "1200 积分"

    page.fill("#redeem-form #id_points", "200")
    page.fill("#redeem-form #id_reference", "DH-0001")
    page.click("#redeem-form button[type=submit]")
    page.wait_for_selector(".message.success")
    assert page.inner_text(".message.success") == "已兑换 200 积分（单号 DH-0001）。"
    redemption = page.locator('[data-ledger] tr[data-entry="redemption"]')
    assert redemption.locator('[data-field="points"]').inner_text() == "-200 积分"
    assert "DH-0001" in redemption.inner_text()
    assert page.inner_text('[data-field="points-balance"]') == "1000 积分"

    page.fill("#redeem-form #id_points", "99999")
    page.click("#redeem-form button[type=submit]")
    page.wait_for_selector("#redeem-form [data-form-error]")
    assert page.inner_text("#redeem-form [data-form-error]") == "可用积分仅 1000，不能扣减 99999。"

    page.context.clear_cookies()
    log_in(page, live_server, "manager_a", "pw-for-tests-1")
    page.goto(live_server.url + reverse("clubs:member", args=[member_a.pk]))
    page.fill("#adjust-form #id_points", "-150")
    page.fill("#adjust-form #id_reason", "重复积分冲销：工单RO001已计")
    page.click("#adjust-form button[type=submit]")
    page.wait_for_selector(".message.success")
    debit = page.locator('[data-ledger] tr[data-entry="debit"]')
    assert debit.locator('[data-field="points"]').inner_text() == "-150 积分"
    assert debit.locator('[data-field="note"]').inner_text() == "重复积分冲销：工单RO001已计"
    assert page.inner_text('[data-field="points-balance"]') == "850 积分"

    assert Membership.objects.get(pk=member_a.pk).points_balance == 850
    assert list(PointsEntry.objects.filter(membership=member_a).order_by("id").values_list("kind", "points")) == [
        ("opening", 1200),
        ("redemption", -200),
        ("debit", -150),
    ]

    page.set_viewport_size({"width": 390, "height": 800})
    for url in (
        reverse("clubs:member", args=[member_a.pk]),
        reverse("clubs:members"),
        reverse("clubs:store_settings", args=[member_a.store_id]),
    ):
        page.goto(live_server.url + url)
        assert no_sideways_scroll(page), url
    page.set_viewport_size({"width": 768, "height": 900})
    page.goto(live_server.url + reverse("clubs:member", args=[member_a.pk]))
    assert no_sideways_scroll(page)
