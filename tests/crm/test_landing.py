"""The landing pages show what the apps register (crm/landing.py): the core names no domain app."""

import datetime

import pytest
from django.apps import apps
from django.urls import reverse

from crm.landing import LandingAction, LandingFigure

asked_for = []


def parked_cars(*, user, store_ids, today: datetime.date) -> list[LandingFigure]:
    """A test app's figure: says what it was asked for."""
    asked_for.append((user.username, store_ids, today))
    return [LandingFigure("parked_cars", "Parked cars", 1234, "parked")]


@pytest.fixture
def test_app_registrations(monkeypatch):
    """The clubs app stands in for a new app registering a figure and two buttons."""
    clubs = apps.get_app_config("clubs")
    asked_for.clear()
    monkeypatch.setattr(clubs, "landing_figures", ["tests.crm.test_landing.parked_cars"], raising=False)
    monkeypatch.setattr(
        clubs,
        "landing_actions",
        [
            LandingAction(
                "crm:audit_log", "Look at the parking", roles=("manager",), page_name="parking", accesskey="p"
            ),
            LandingAction("clubs:no_such_page", "Nowhere", roles=("manager",)),
        ],
        raising=False,
    )


def test_a_registered_figure_and_button_show_on_the_landing_page(client, manager_a, store_a, test_app_registrations):
    client.force_login(manager_a)

    response = client.get(reverse("home"))

    html = response.content.decode()
    assert response.context["figures"] == {
        "customers": 0,
        "vehicles": 0,
        "deliveries_this_month": 0,
        "repair_orders_this_month": 0,
        "parked_cars": 1234,
    }
    assert [figure.page_name for figure in response.context["figure_list"]] == [
        "customers",
        "vehicles",
        "deliveries",
        "repair-orders",
        "parked",
    ]
    assert (
        '<span class="figure-value" data-figure="parked">1234</span><span class="figure-label">Parked cars</span>'
        in html
    )
    assert asked_for == [("manager_a", [store_a.pk], response.context["today"])]
    # The button whose page does not exist is left out.
    assert [action.label for action in response.context["actions"]] == ["Look at the parking"]
    assert (
        '<a class="button primary" href="/crm/audit/" data-link="parking" accesskey="p">Look at the parking</a>' in html
    )


def test_a_registered_button_shows_only_to_its_roles(client, advisor_a, agent_a, test_app_registrations):
    client.force_login(advisor_a)
    advisor_page = client.get(reverse("home"))
    client.force_login(agent_a)
    agent_page = client.get(reverse("home"))

    assert [str(action.label) for action in advisor_page.context["actions"]] == [
        "查找客户",
        "新建客户",
        "我的任务",
        "登记潜在客户",
    ]
    assert [str(action.label) for action in agent_page.context["actions"]] == ["打开回访队列", "登记潜在客户"]
    assert 'data-link="parking"' not in advisor_page.content.decode()
    assert 'data-link="call-queue" accesskey="q"' in agent_page.content.decode()


# Session, user, second factor (manager), role, stores, the 3 figure counts, the stores' names and the
# 2 permission reads of the top bar's phone lookup; for an advisor, the count of their own calls and
# the day's arrivals too; for a sales consultant, their own calls and their prospects needing action.
@pytest.mark.parametrize(
    ("persona", "queries"), [("advisor_a", 8), ("sales_a", 8), ("manager_a", 7), ("admin_user", 7)]
)
def test_the_landing_page_costs_a_fixed_number_of_queries(
    db, client, request, django_assert_num_queries, persona, queries
):
    client.force_login(request.getfixturevalue(persona))

    with django_assert_num_queries(queries):
        assert client.get(reverse("home")).status_code == 200


def parking_spaces(*, user, store_ids, today: datetime.date):
    from crm.landing import LandingPanel, LandingPanelRow

    return [
        LandingPanel(
            "parking", "Free spaces", rows=(LandingPanelRow("Space 7", "/crm/audit/", "by the door"),),
            link_url="/crm/audit/", link_label="Every space",
        )
    ]  # fmt: skip


def test_a_registered_panel_shows_on_the_landing_page(client, manager_a, monkeypatch):
    monkeypatch.setattr(
        apps.get_app_config("clubs"), "landing_panels", ["tests.crm.test_landing.parking_spaces"], raising=False
    )
    client.force_login(manager_a)

    html = client.get(reverse("home")).content.decode()

    assert '<section class="landing-panel" data-panel="parking" aria-labelledby="panel-parking">' in html
    assert '<li data-panel-row><a href="/crm/audit/">Space 7</a> <span class="muted">by the door</span></li>' in html
    assert '<a href="/crm/audit/" data-link="parking-all">Every space</a>' in html
