"""Lock-out after repeated wrong passwords (django-axes) on every way in, the idle time-out of
sessions, and the rate limit of log-ins per address."""

import datetime

import pytest
import time_machine
from axes.models import AccessAttempt
from django.utils import timezone
from rest_framework.authtoken.models import Token

from crm.choices import Role
from tests.conftest import _original_force_login
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-1"
LOCKED_MESSAGE = "登录失败次数过多，此账号已被锁定。请在 15 分钟后重试，或请经理或管理员解锁。"


def _fail(client, url, username, times, **extra):
    for _attempt in range(times):
        response = client.post(url, {"username": username, "password": "wrong-password"}, **extra)
    return response


def test_login_page_locks_the_account_after_five_failures_even_with_the_right_password(client, advisor_a):
    response = _fail(client, "/accounts/login/", "advisor_a", 4)
    assert response.status_code == 200  # four wrong: the form again
    response = _fail(client, "/accounts/login/", "advisor_a", 1)
    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.content.decode()

    response = client.post("/accounts/login/", {"username": "advisor_a", "password": PASSWORD})
    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AccessAttempt.objects.get(username="advisor_a").failures_since_start == 6


def test_the_lock_lifts_after_the_cool_off(client, advisor_a):
    _fail(client, "/accounts/login/", "advisor_a", 5)
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=16)):
        response = client.post("/accounts/login/", {"username": "advisor_a", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(advisor_a.pk)


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_a_manager_or_admin_unlocks_by_deleting_the_attempt_in_the_admin(client, advisor_a, store_a, role):
    unlocker = UserFactory(username="unlocker", role=role, stores=[store_a], is_staff=True)
    _fail(client, "/accounts/login/", "advisor_a", 5)
    attempt = AccessAttempt.objects.get(username="advisor_a")
    admin_client = type(client)()
    admin_client.force_login(unlocker)
    response = admin_client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert AccessAttempt.objects.count() == 0

    response = client.post("/accounts/login/", {"username": "advisor_a", "password": PASSWORD})
    assert response.status_code == 302


def test_a_success_before_the_limit_starts_the_count_again(client, advisor_a):
    _fail(client, "/accounts/login/", "advisor_a", 4)
    assert client.post("/accounts/login/", {"username": "advisor_a", "password": PASSWORD}).status_code == 302
    client.logout()
    response = _fail(client, "/accounts/login/", "advisor_a", 4)
    assert response.status_code == 200
    assert client.post("/accounts/login/", {"username": "advisor_a", "password": PASSWORD}).status_code == 302


def test_the_lock_is_per_username_and_address(client, advisor_a, agent_a):
    _fail(client, "/accounts/login/", "advisor_a", 5)
    # The same address may still log in as someone else; advisor_a from another address too.
    assert client.post("/accounts/login/", {"username": "agent_a", "password": PASSWORD}).status_code == 302
    other = type(client)(REMOTE_ADDR="10.0.0.9")
    assert other.post("/accounts/login/", {"username": "advisor_a", "password": PASSWORD}).status_code == 302


def test_admin_login_locks_the_account(client, admin_user):
    response = _fail(client, "/admin/login/", "admin_user", 5)
    assert response.status_code == 429
    response = client.post("/admin/login/", {"username": "admin_user", "password": PASSWORD})
    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_api_token_endpoint_locks_the_account(api_client, advisor_a):
    for _attempt in range(4):
        response = api_client.post("/api/token/", {"username": "advisor_a", "password": "wrong"}, format="json")
        assert response.status_code == 400
    response = api_client.post("/api/token/", {"username": "advisor_a", "password": "wrong"}, format="json")
    assert response.status_code == 429
    response = api_client.post("/api/token/", {"username": "advisor_a", "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert response.json() == {"detail": LOCKED_MESSAGE}
    assert not Token.objects.filter(user=advisor_a).exists()


# --- Idle sessions -------------------------------------------------------------------------------


def test_an_idle_session_is_logged_out_on_the_next_request(client, advisor_a, settings):
    settings.SESSION_IDLE_MINUTES = 30
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.force_login(advisor_a)
        assert client.get("/").status_code == 200
    with time_machine.travel(start + datetime.timedelta(minutes=29), tick=False):
        assert client.get("/").status_code == 200  # active within the limit
    with time_machine.travel(start + datetime.timedelta(minutes=58), tick=False):
        assert client.get("/").status_code == 200  # 29 min after the last request: still in
    with time_machine.travel(start + datetime.timedelta(minutes=89), tick=False):
        response = client.get("/customers/", follow=True)
    assert response.redirect_chain[0] == ("/accounts/login/?next=%2Fcustomers%2F", 302)
    assert "_auth_user_id" not in client.session
    assert "您已 30 分钟没有操作，已自动退出，请重新登录。" in response.content.decode()


def test_the_activity_stamp_is_written_at_most_once_a_minute(client, advisor_a):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.force_login(advisor_a)
        client.get("/")
        first = client.session["crm_last_activity"]
    with time_machine.travel(start + datetime.timedelta(seconds=50), tick=False):
        client.get("/")
        assert client.session["crm_last_activity"] == first
    with time_machine.travel(start + datetime.timedelta(seconds=61), tick=False):
        client.get("/")
        assert client.session["crm_last_activity"] == first + 61


def test_an_idle_api_session_answers_401_json(client, advisor_a, settings):
    settings.SESSION_IDLE_MINUTES = 5
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _original_force_login(client, advisor_a)
        assert client.get("/api/stores/").status_code == 200
    with time_machine.travel(start + datetime.timedelta(minutes=6), tick=False):
        response = client.get("/api/stores/")
    assert response.status_code == 401
    assert response.json() == {"detail": "您已 5 分钟没有操作，已自动退出，请重新登录。"}


def test_an_advisor_cannot_unlock(client, advisor_a, agent_a):
    _fail(client, "/accounts/login/", "agent_a", 5)
    attempt = AccessAttempt.objects.get(username="agent_a")
    advisor_a.is_staff = True
    advisor_a.save(update_fields=["is_staff"])
    other = type(client)()
    other.force_login(advisor_a)
    assert other.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AccessAttempt.objects.count() == 1
