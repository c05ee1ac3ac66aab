"""In the browser, as staff read them in Chinese: the new-customer form names the person 姓名 and the
segment form names the segment 名称 and the customer's value 客户价值 (one English word, one
Chinese each before the catalogue had contexts)."""

import pytest

from tests.browser import browser_page, log_in  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def label(page, field_id: str) -> str:
    return page.locator(f"label[for={field_id}]").first.inner_text().replace("*", "").strip()


def test_a_customer_s_name_and_a_segment_s_name_are_different_words(
    browser_page,  # noqa: F811 - the fixture
    live_server,
    advisor_a,
    manager_a,
):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 900})
    log_in(page, live_server, "advisor_a", "pw-for-tests-1")
    page.goto(f"{live_server.url}/customers/new/")
    assert label(page, "id_name") == "姓名"

    page.context.clear_cookies()
    log_in(page, live_server, "manager_a", "pw-for-tests-1")
    page.goto(f"{live_server.url}/customers/segments/new/")
    assert label(page, "id_name") == "名称"
    assert "客户价值" in page.locator("main").inner_text()
