"""What the page sweep (tests/crm/test_sweep_browser.py) found in English in the Chinese admin and
audit page, each checked fast here: the libraries' names (django-axes, django-otp), the role
groups by their codes, the audit rows' record types by their codes, and the favicon 404."""

import re

import pytest
from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.models import TOTPDevice

from crm.audit import audit_log_record
from crm.choices import AuditAction, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(store_a):
    """As the demo's administrator: a superuser, who sees every library's admin."""
    return UserFactory(
        username="root", role=Role.ADMIN, stores=[store_a], is_staff=True, is_superuser=True, sees_all_stores=True
    )


def words(html: str) -> set[str]:
    """The ASCII words of 3+ letters in the page's text (tags, scripts and styles left out)."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return set(re.findall(r"(?<![A-Za-z0-9_./@-])[A-Za-z]{3,}(?![A-Za-z0-9_./@-])", text))


def test_the_admin_index_names_the_libraries_in_chinese(client, superuser):
    client.force_login(superuser)

    html = client.get("/admin/").content.decode()

    assert "登录保护" in html  # django-axes
    assert "两步验证设备" in html  # django-otp (its section: crm/library_apps.py)
    assert "验证器设备" in html
    assert {"Axes", "AXES", "OTP_TOTP", "devices"} & words(html) == set()


def test_the_authenticator_devices_list_speaks_chinese(client, superuser):
    client.force_login(superuser)
    TOTPDevice.objects.create(user=superuser, name="手机", confirmed=True)

    html = client.get("/admin/otp_totp/totpdevice/").content.decode()

    assert "按用户名或电子邮件地址搜索" in html
    assert "显示二维码" in html
    for label in ("员工", "已确认", "上次使用时间"):
        assert label in html
    assert {"qrcode", "user", "confirmed", "Search", "Code"} & words(html) == set()


def test_role_groups_are_named_by_their_roles(client, superuser):
    client.force_login(superuser)
    assert Group.objects.filter(name="service_advisor").exists()

    groups = client.get("/admin/auth/group/").content.decode()
    users = client.get("/admin/crm/user/").content.decode()

    assert "服务顾问" in groups
    assert ">service_advisor<" not in groups  # (a checkbox's label still names the group)
    # The user list's filter by group lists the groups its users are in (here the administrators').
    assert re.search(r'groups__id__exact=\d+"[^>]*>系统管理员</a>', users)
    assert not re.search(r'groups__id__exact=\d+"[^>]*>admin</a>', users)


def test_the_log_in_protection_lists_speak_chinese(client, superuser):
    client.force_login(superuser)

    html = client.get("/admin/axes/accessattempt/").content.decode()

    assert "尝试时间" in html
    assert "路径" in html
    assert {"Attempt", "Time", "Path", "Locked", "Out"} & words(html) == set()


def test_audit_rows_name_their_records_by_model(client, admin_user):
    client.force_login(admin_user)
    audit_log_record(
        actor=admin_user, action=AuditAction.EXPORT, object_type="customers.customer", object_ids=[1],
        detail={"referrer": None},
    )  # fmt: skip

    page = client.get("/crm/audit/").content.decode()
    admin_list = client.get("/admin/crm/auditlog/").content.decode()

    assert ">客户 (1)</td>" in page
    assert 'translate="no">referrer=—</td>' in page  # the stored detail, shown as stored
    assert "customers.customer" not in page
    assert '<td class="field-records">客户</td>' in admin_list
    assert "customers.customer</a>" not in admin_list


def test_admin_pages_name_an_empty_icon_so_the_browser_asks_for_no_favicon(client, superuser):
    assert '<link rel="icon" href="data:,">' in client.get("/admin/login/").content.decode()
    client.force_login(superuser)

    for url in ("/admin/", "/admin/crm/store/"):
        assert '<link rel="icon" href="data:,">' in client.get(url).content.decode(), url


def test_the_campaign_pages_holdout_label_is_translated():
    from django.template import Context, Template
    from django.utils import translation

    with translation.override("zh-hans"):
        html = Template('{% load i18n %}{% translate "Holdout (%)" %}').render(Context())

    assert html == "对照组比例（%）"
