"""Headless Chromium: the segment form's live count follows the filters before a name is typed."""

import pytest

from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.customers.test_segments import fleet  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_live_count_moves_while_the_name_is_still_empty(browser_page, live_server, manager_a, fleet):  # noqa: F811
    page = browser_page
    log_in(page, live_server, "manager_a", "pw-for-tests-1")
    page.goto(f"{live_server.url}/customers/segments/new/")
    assert page.get_attribute("#segment-count", "data-count") == "3"
    assert page.input_value("#id_name") == ""

    page.check('input[name="genders"][value="F"]')

    page.wait_for_selector('#segment-count[data-count="1"]')
    assert page.locator("#segment-count").inner_text() == "共 1 位客户"
    page.click('form[data-form="segment"] button[type=submit]')  # saving still needs the name
    assert page.evaluate("document.querySelector('#id_name').validity.valueMissing")
    assert page.url == f"{live_server.url}/customers/segments/new/"
