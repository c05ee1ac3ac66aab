"""Error pages: branded, in Chinese by default, with a way back; a refusal is logged once, without
a traceback."""

import logging

import pytest
from django.test import Client
from django.urls import reverse

HOME_LINK = '<a class="button" href="/">返回首页</a>'


def test_a_refused_page_is_branded_chinese_with_the_menu_and_a_way_home(client, agent_a):
    client.force_login(agent_a)

    response = client.get(reverse("crm:audit_log"))

    html = response.content.decode()
    assert response.status_code == 403
    assert "<title>无权访问 · 4S店客户关系管理系统</title>" in html
    assert "<h1>无权访问</h1>" in html
    assert '<nav aria-label="主导航">' in html
    assert HOME_LINK in html
    assert "Forbidden" not in html


def test_a_missing_page_is_branded_chinese_with_the_menu_and_a_way_home(client, agent_a):
    client.force_login(agent_a)

    response = client.get("/no-such-page/")

    html = response.content.decode()
    assert response.status_code == 404
    assert "<h1>页面不存在</h1>" in html
    assert '<header class="topbar">' in html
    assert HOME_LINK in html
    assert "Not Found" not in html


def test_a_missing_page_for_a_visitor_shows_no_menu_but_a_way_home(client):
    response = client.get("/no-such-page/")

    html = response.content.decode()
    assert response.status_code == 404
    assert "<h1>页面不存在</h1>" in html
    assert '<header class="topbar">' not in html
    assert HOME_LINK in html


def test_a_server_error_page_renders_without_a_request_in_chinese(agent_a, monkeypatch):
    from crm import views

    monkeypatch.setattr(views, "ROLE_LANDING_TEMPLATES", None)
    client = Client(raise_request_exception=False)
    client.force_login(agent_a)

    response = client.get(reverse("home"))

    html = response.content.decode()
    assert response.status_code == 500
    assert "<h1>服务器出错</h1>" in html
    assert HOME_LINK in html
    assert "Server Error (500)" not in html


def test_a_refusal_is_logged_once_and_without_a_traceback(client, agent_a, caplog):
    client.force_login(agent_a)

    with caplog.at_level(logging.INFO):
        client.get(reverse("crm:audit_log"))

    assert [(record.name, record.levelname, record.getMessage()) for record in caplog.records] == [
        ("django.request", "WARNING", "Forbidden (Permission denied): /crm/audit/")
    ]
    assert caplog.records[0].exc_info is None
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("logger_name", ["django", "django.request", "django.security"])
def test_django_records_reach_the_one_root_handler_only(logger_name):
    """Django's default "django" console handler printed every record a second time beside the root's."""
    logger = logging.getLogger(logger_name)
    handlers = []
    while logger is not None:
        handlers.extend(logger.handlers)
        logger = logger.parent if logger.propagate else None

    assert handlers == logging.getLogger().handlers


def test_a_server_error_keeps_its_traceback_in_the_log(agent_a, monkeypatch, caplog):
    from crm import views

    monkeypatch.setattr(views, "ROLE_LANDING_TEMPLATES", None)
    client = Client(raise_request_exception=False)
    client.force_login(agent_a)

    with caplog.at_level(logging.INFO):
        client.get(reverse("home"))

    assert [(record.name, record.levelname) for record in caplog.records] == [("django.request", "ERROR")]
    assert caplog.records[0].exc_info is not None
