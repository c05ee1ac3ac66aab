"""In headless Chromium: a manager drafts a campaign for a segment, the form counts its recipients
live as the segment is chosen, another manager approves it, and the list, the campaign, its report
and the quick care page fit 390, 768 and 1366 px without breaking the CSP."""

import pytest
from django.urls import reverse

from customers.facts import customer_stats_refresh
from customers.models import CustomerConsent, Segment
from followups.campaigns import campaign_approve
from followups.models import Campaign
from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.clubs.test_browser_referrals import COLLECT_VIOLATIONS, assert_fits
from tests.factories import CustomerFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_campaign_from_draft_to_report_fits_every_width(browser_page, live_server, store_a, manager_a):  # noqa: F811
    page = browser_page
    page.add_init_script(COLLECT_VIOLATIONS)
    manager_two = UserFactory(username="manager_two", role="manager", stores=[store_a])
    segment = Segment.objects.create(name="江宁车主", store=store_a, definition={"districts": ["江宁区"]})
    for number in range(3):
        customer = CustomerFactory(store=store_a, mobile=f"1390000000{number}", district="江宁区")
        CustomerConsent.objects.create(customer=customer, purpose="marketing", is_granted=True,
                                       at=customer.created_at, source="desk")  # fmt: skip
    customer_stats_refresh()
    log_in(page, live_server, "manager_a", "pw-for-tests-1")

    page.goto(live_server.url + reverse("followups:campaign_create"))
    page.select_option("#id_store", str(store_a.pk))
    page.fill("#id_name", "冬季保养")
    page.fill("#id_template", "尊敬的{name}：冬季保养八折，详询{store_phone}。")
    page.fill("#id_send_at", "2026-12-10T10:00")
    page.select_option("#id_segment", str(segment.pk))
    page.wait_for_selector('#campaign-count[data-recipients="3"]')
    assert_fits(page)
    page.click("button[type=submit].primary")
    page.wait_for_selector("[data-preview-count='3']")
    campaign = Campaign.objects.get()
    assert_fits(page)

    campaign_approve(user=manager_two, campaign=campaign)
    for name in ("followups:campaign_detail", "followups:campaign_report"):
        page.goto(live_server.url + reverse(name, args=[campaign.pk]))
        assert_fits(page)
    page.goto(live_server.url + reverse("followups:campaign_list"))
    assert page.locator(f"[data-campaign='{campaign.pk}'] [data-field='status']").inner_text() == "已审批"
    assert_fits(page)
    page.goto(live_server.url + reverse("followups:quick_care"))
    assert_fits(page)
