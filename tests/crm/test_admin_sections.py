"""The admin's sections of third-party apps are named in Chinese, not by their raw labels."""

from django.urls import reverse


def test_the_admin_index_names_the_library_sections_in_chinese(client, admin_user):
    admin_user.is_superuser = True
    admin_user.save(update_fields=["is_superuser"])
    client.force_login(admin_user)

    html = client.get(reverse("admin:index")).content.decode()

    assert 'title="在应用程序 登录保护 中的模型">登录保护</a>' in html
    assert 'title="在应用程序 两步验证设备 中的模型">两步验证设备</a>' in html
    assert "Axes" not in html
    assert "Otp_Totp" not in html
    assert "登录尝试记录" in html
