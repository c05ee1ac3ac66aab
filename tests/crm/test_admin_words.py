"""The admin speaks as the CRM, not as "Django 管理"."""

from django.urls import reverse


def test_the_admin_index_names_the_crm_in_chinese(client, admin_user):
    client.force_login(admin_user)

    html = client.get(reverse("admin:index")).content.decode()

    assert "<title>数据维护 | 4S店客户关系管理系统</title>" in html
    assert '<div id="site-name"><a href="/admin/">4S店客户关系管理系统 · 后台管理</a></div>' in html
    assert "Django" not in html


def test_the_admin_log_in_page_names_the_crm(client):
    html = client.get(reverse("admin:login")).content.decode()

    assert "4S店客户关系管理系统 · 后台管理" in html
    assert "Django" not in html
