"""The points figure carries its unit (积分 / "points") wherever it is shown, through one format
helper (customers.membership.points_text) and its template filter (customers_tags.points)."""

import pytest
from django.template import Context, Template
from django.utils import translation

from customers.membership import points_text
from tests.browser import browser_page, log_in  # noqa: F401 - fixture


@pytest.mark.parametrize(
    ("value", "signed", "text"),
    [
        (1200, False, "1200 积分"),
        (0, False, "0 积分"),
        (None, False, "—"),
        (120, True, "+120 积分"),
        (-80, True, "-80 积分"),
    ],
)
def test_the_format_helper_gives_the_unit(value, signed, text):
    with translation.override("zh-hans"):
        assert points_text(value, signed=signed) == text


def test_the_filter_is_the_helper():
    template = Template('{% load customers_tags %}{{ a|points }} / {{ b|points:"signed" }} / {{ c|points }}')
    with translation.override("en"):
        assert template.render(Context({"a": 1200, "b": -80, "c": None})) == "1200 points / -80 points / —"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_every_page_showing_points_shows_the_unit(browser_page, live_server, advisor_a, member_a):  # noqa: F811
    page = browser_page
    log_in(page, live_server, "advisor_a", "pw-for-tests-1")

    page.goto(f"{live_server.url}/customers/{member_a.customer_id}/")
    assert page.inner_text('.facts [data-field="membership"] [data-field="points"]') == "1200 积分"
    page.goto(f"{live_server.url}/customers/?q=CA0001")
    assert "1200 积分" in page.inner_text('table[data-table="customers"] [data-field="membership"]')
    page.goto(f"{live_server.url}/club/")
    assert page.inner_text('[data-field="points"]') == "1200 积分"
    page.goto(f"{live_server.url}/club/members/{member_a.pk}/")
    assert page.inner_text('[data-field="points-balance"]') == "1200 积分"
    assert page.inner_text('[data-field="points-expiring"]').endswith(" 积分")
    assert page.inner_text('[data-ledger] [data-field="points"]') == "+1200 积分"
