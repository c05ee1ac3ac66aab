"""Managers, administrators and superusers confirm each log-in with a TOTP code (django-otp):
pages, admin and API with a session; the token endpoint asks for the code too."""

import re
import time

import pytest
import time_machine
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from crm.choices import Role
from tests.conftest import _original_force_login
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-1"


def current_code(device: TOTPDevice, *, step_offset: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=step_offset):06d}"


def password_login(client, username):
    return client.post("/accounts/login/", {"username": username, "password": PASSWORD})


def test_advisors_agents_and_sales_are_not_asked_for_a_code(client, advisor_a, agent_a, sales_a):
    for user in (advisor_a, agent_a, sales_a):
        client.logout()
        assert password_login(client, user.username).status_code == 302
        assert client.get("/").status_code == 200
    assert TOTPDevice.objects.count() == 0


@pytest.mark.parametrize("persona", ["manager_a", "admin_user"])
def test_a_manager_or_admin_with_a_password_only_reaches_the_code_page(client, persona, request):
    user = request.getfixturevalue(persona)
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    response = password_login(client, user.username)
    assert response.status_code == 302
    response = client.get("/customers/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/verify/?next=%2Fcustomers%2F"
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/crm/user/").status_code == 302
    api = client.get("/api/customers/")
    assert api.status_code == 403
    assert api.json() == {"detail": "请先输入身份验证器应用中的 6 位验证码确认登录。"}


def test_the_right_code_opens_everything_and_a_wrong_or_reused_one_does_not(client, manager_a):
    device = TOTPDevice.objects.create(user=manager_a, name="phone", confirmed=True)
    password_login(client, "manager_a")
    page = client.get("/accounts/verify/?next=/customers/")
    assert page.status_code == 200
    assert "确认登录" in page.content.decode()
    assert 'class="topbar"' not in page.content.decode()  # no menu of pages not yet open

    start = time.time()
    with time_machine.travel(start, tick=False):
        wrong = client.post("/accounts/verify/", {"code": f"{(int(current_code(device)) + 1) % 1000000:06d}"})
        assert wrong.status_code == 400
        assert "验证码不正确或已被使用" in wrong.content.decode()
        assert client.get("/customers/").status_code == 302
        # After a wrong code the device waits a moment (django-otp's throttling) before the next try.
        too_soon = client.post("/accounts/verify/", {"code": current_code(device)})
        assert too_soon.status_code == 400
    with time_machine.travel(start + 5, tick=False):
        response = client.post("/accounts/verify/", {"code": current_code(device), "next": "/customers/"})
    assert response.status_code == 302
    assert response["Location"] == "/customers/"
    assert client.get("/customers/").status_code == 200
    assert client.get("/api/customers/").status_code == 200

    # The same code cannot open a second session (replay).
    other = type(client)()
    password_login(other, "manager_a")
    with time_machine.travel(start + 5, tick=False):
        assert other.post("/accounts/verify/", {"code": current_code(device)}).status_code == 400
    assert other.get("/customers/").status_code == 302


def test_a_superuser_without_a_role_is_asked_too(client, store_a):
    UserFactory(username="root", is_superuser=True, is_staff=True, stores=[store_a])
    password_login(client, "root")
    assert client.get("/admin/").status_code == 302


def test_first_log_in_enrols_a_device_with_a_qr_code_then_confirms_a_code(client, manager_a):
    password_login(client, "manager_a")
    response = client.get("/accounts/verify/?next=/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/verify/setup/?next=%2F"

    page = client.get("/accounts/verify/setup/?next=/").content.decode()
    device = TOTPDevice.objects.get(user=manager_a)
    assert device.confirmed is False
    secret = re.search(r'data-totp-secret="([A-Z2-7]+)"', page).group(1)
    assert len(secret) == 32
    assert "<svg" in page
    assert "<path" in page
    # Reloading shows the same secret: one device in enrolment.
    assert secret in client.get("/accounts/verify/setup/").content.decode()
    assert TOTPDevice.objects.filter(user=manager_a).count() == 1

    assert client.post("/accounts/verify/setup/", {"code": "12345"}).status_code == 400
    assert client.get("/").status_code == 302
    response = client.post("/accounts/verify/setup/", {"code": current_code(device), "next": "/"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    device.refresh_from_db()
    assert device.confirmed is True
    assert client.get("/").status_code == 200

    # From now on the code page is shown, not the enrolment with the secret.
    client.logout()
    password_login(client, "manager_a")
    assert client.get("/accounts/verify/setup/")["Location"] == "/accounts/verify/?next=%2F"


def test_the_qr_code_carries_the_otpauth_url(manager_a):
    from crm.mfa import totp_device_start_enrolment, totp_qr_svg, totp_secret_base32

    device = totp_device_start_enrolment(user=manager_a)
    assert device.config_url.startswith("otpauth://totp/")
    assert f"secret={totp_secret_base32(device)}" in device.config_url
    assert totp_qr_svg(device).startswith("<svg")


def test_the_test_helper_marks_the_session_verified_only_for_mfa_roles(client, manager_a, advisor_a):
    client.force_login(manager_a)
    assert client.get("/").status_code == 200
    assert TOTPDevice.objects.filter(user=manager_a, confirmed=True).count() == 1
    client.logout()
    _original_force_login(client, manager_a)
    assert client.get("/").status_code == 302
    client.force_login(advisor_a)
    assert TOTPDevice.objects.filter(user=advisor_a).count() == 0


# --- API tokens ----------------------------------------------------------------------------------


def test_a_manager_gets_a_token_only_with_the_current_code(api_client, manager_a):
    device = TOTPDevice.objects.create(user=manager_a, name="phone", confirmed=True)
    response = api_client.post("/api/token/", {"username": "manager_a", "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert response.json() == {"otp_code": ["经理和管理员必须提交身份验证器应用当前的 6 位验证码。"]}
    assert not Token.objects.filter(user=manager_a).exists()

    response = api_client.post(
        "/api/token/", {"username": "manager_a", "password": PASSWORD, "otp_code": current_code(device)}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=manager_a).key}


def test_an_advisor_gets_a_token_with_the_password(api_client, advisor_a):
    response = api_client.post("/api/token/", {"username": "advisor_a", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/stores/").status_code == 200


def test_a_manager_without_a_device_gets_no_token(api_client):
    UserFactory(username="new_manager", role=Role.MANAGER)
    response = api_client.post(
        "/api/token/", {"username": "new_manager", "password": PASSWORD, "otp_code": "123456"}, format="json"
    )
    assert response.status_code == 400
    assert not Token.objects.exists()


# --- Demo ----------------------------------------------------------------------------------------


def test_the_demo_gives_manager_and_admin_a_device_and_prints_its_secret(settings):
    from io import StringIO

    from django.core.management import call_command

    from crm.mfa import totp_secret_base32

    settings.DEMO_MODE = True
    out = StringIO()
    call_command("seed_demo", "--customers", "5", "--password", "demo-pw-123", stdout=out)
    devices = {device.user.username: device for device in TOTPDevice.objects.select_related("user")}
    assert sorted(devices) == ["admin", "manager"]
    assert all(device.confirmed for device in devices.values())
    text = out.getvalue()
    for username in ("admin", "manager"):
        assert f"{username} also enters a 6-digit code: TOTP secret {totp_secret_base32(devices[username])}" in text

    # A second run keeps the same secrets (an app set up once keeps working).
    again = StringIO()
    call_command("seed_demo", "--password", "demo-pw-123", stdout=again)
    assert TOTPDevice.objects.count() == 2
    assert f"TOTP secret {totp_secret_base32(devices['manager'])}" in again.getvalue()


def test_totp_code_prints_the_current_code_in_demo_mode_only(settings, manager_a, advisor_a):
    from io import StringIO

    from django.core.management import CommandError, call_command

    device = TOTPDevice.objects.create(user=manager_a, name="demo", confirmed=True)
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match="totp_code is for the demo only: set DEMO_MODE=1"):
        call_command("totp_code", "manager_a")

    settings.DEMO_MODE = True
    start = time.time()
    with time_machine.travel(start, tick=False):
        out = StringIO()
        call_command("totp_code", "manager_a", stdout=out)
        assert out.getvalue() == current_code(device) + "\n"
        assert device.verify_token(out.getvalue().strip()) is True
    with pytest.raises(CommandError, match="advisor_a has no authenticator device"):
        call_command("totp_code", "advisor_a")
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("totp_code", "nobody")
