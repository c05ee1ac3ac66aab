"""The top bar's search box goes where an app registers it (crm/navigation.py ``global_search``)."""

from django.apps import apps
from django.urls import reverse

from crm.navigation import GlobalSearch


def search_form(html: str) -> str:
    start = html.index('<form class="global-search"')
    return html[start : html.index("</form>", start) + len("</form>")]


def test_the_customers_app_registers_the_search_and_the_phone_lookup_for_whom_may_use_it(client, advisor_a, agent_a):
    client.force_login(advisor_a)
    advisor_form = search_form(client.get(reverse("home")).content.decode())
    client.force_login(agent_a)
    agent_form = search_form(client.get(reverse("home")).content.decode())

    assert advisor_form.startswith(
        '<form class="global-search" role="search" method="get" action="/customers/" '
        'data-phone-lookup-url="/customers/lookup/">'
    )
    assert '<label class="visually-hidden" for="global-search">搜索客户</label>' in advisor_form
    assert agent_form.startswith('<form class="global-search" role="search" method="get" action="/customers/">')


def test_another_app_may_register_the_search(client, monkeypatch, manager_a):
    monkeypatch.setattr(apps.get_app_config("customers"), "global_search", None)
    monkeypatch.setattr(
        apps.get_app_config("clubs"),
        "global_search",
        GlobalSearch(url_name="crm:audit_log", label="Search the log", placeholder="who, what"),
        raising=False,
    )
    client.force_login(manager_a)

    form = search_form(client.get(reverse("home")).content.decode())

    assert form.startswith('<form class="global-search" role="search" method="get" action="/crm/audit/">')
    assert '<label class="visually-hidden" for="global-search">Search the log</label>' in form
    assert 'placeholder="who, what"' in form


def test_without_a_registered_search_the_bar_has_no_search_box(client, monkeypatch, advisor_a):
    monkeypatch.setattr(apps.get_app_config("customers"), "global_search", None)
    client.force_login(advisor_a)

    html = client.get(reverse("home")).content.decode()

    assert 'class="global-search"' not in html
    assert '<nav aria-label="' in html


def test_the_most_specific_entry_is_the_current_page(manager_a):
    from crm.navigation import navigation_for

    items = navigation_for(manager_a, "/customers/segments/3/")

    assert [item.label for item in items if item.is_active] == ["客户细分"]
    assert [item.label for item in navigation_for(manager_a, "/customers/12/") if item.is_active] == ["客户"]
    assert [item.label for item in navigation_for(manager_a, "/") if item.is_active] == ["工作台"]


def test_pages_used_now_and_then_and_the_overflow_go_under_more_with_tomorrows_preview(manager_a):
    from crm.navigation import TOP_BAR_ITEMS, navigation_for

    items = navigation_for(manager_a, "/")
    in_bar = [item.label for item in items if not item.in_more_menu]
    in_more = [item.label for item in items if item.in_more_menu]

    assert len(in_bar) == TOP_BAR_ITEMS == 6
    assert in_bar == ["工作台", "客户", "客户细分", "流失分析", "回访队列", "回访报表"]
    assert {"导出审批", "审计日志", "明日队列预览", "回访规则", "短信"} <= set(in_more)
    assert len(items) == len(in_bar) + len(in_more)
