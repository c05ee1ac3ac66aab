"""API tokens expire after API_TOKEN_TTL_HOURS and end when the password changes or the account is
deactivated, on every path."""

import datetime

import pytest
import time_machine
from django.utils import timezone
from rest_framework.authtoken.models import Token

from crm.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-1"


def token_for(user) -> Token:
    return Token.objects.create(user=user)


def test_a_token_works_until_it_expires_then_is_deleted(api_client, advisor_a, settings):
    settings.API_TOKEN_TTL_HOURS = 24
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        token = token_for(advisor_a)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    with time_machine.travel(start + datetime.timedelta(hours=23, minutes=59), tick=False):
        assert api_client.get("/api/stores/").status_code == 200
    with time_machine.travel(start + datetime.timedelta(hours=24, seconds=1), tick=False):
        response = api_client.get("/api/stores/")
    assert response.status_code == 401
    assert response.json() == {"detail": "令牌已过期，请在 /api/token/ 重新申请。"}
    assert not Token.objects.filter(user=advisor_a).exists()


def test_the_token_endpoint_replaces_an_expired_token(api_client, advisor_a, settings):
    settings.API_TOKEN_TTL_HOURS = 1
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        old = token_for(advisor_a)
    with time_machine.travel(start + datetime.timedelta(hours=2), tick=False):
        response = api_client.post("/api/token/", {"username": "advisor_a", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    new_key = response.json()["token"]
    assert new_key != old.key
    assert list(Token.objects.filter(user=advisor_a).values_list("key", flat=True)) == [new_key]


def test_the_token_endpoint_returns_the_same_valid_token(api_client, advisor_a):
    token = token_for(advisor_a)
    response = api_client.post("/api/token/", {"username": "advisor_a", "password": PASSWORD}, format="json")
    assert response.json() == {"token": token.key}


def test_set_password_deletes_the_tokens(advisor_a):
    token_for(advisor_a)
    user = User.objects.get(pk=advisor_a.pk)
    user.set_password("a-new-password-2026")
    user.save()
    assert not Token.objects.filter(user=advisor_a).exists()


def test_saving_without_a_password_change_keeps_the_token(advisor_a):
    token = token_for(advisor_a)
    user = User.objects.get(pk=advisor_a.pk)
    user.first_name = "强"
    user.save()
    assert Token.objects.get(user=advisor_a) == token


def test_deactivating_the_account_deletes_the_tokens(advisor_a):
    token_for(advisor_a)
    user = User.objects.get(pk=advisor_a.pk)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert not Token.objects.filter(user=advisor_a).exists()


def test_the_admin_password_form_deletes_the_tokens(client, admin_user, advisor_a):
    token = token_for(advisor_a)
    client.force_login(admin_user)
    response = client.post(
        f"/admin/crm/user/{advisor_a.pk}/password/",
        {"password1": "Another-pass-2026!", "password2": "Another-pass-2026!", "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not Token.objects.filter(key=token.key).exists()


def test_the_password_change_view_deletes_the_tokens(client, advisor_a):
    token = token_for(advisor_a)
    client.force_login(advisor_a)
    from django.contrib.auth.views import PasswordChangeView
    from django.test import RequestFactory

    request = RequestFactory().post(
        "/", {"old_password": PASSWORD, "new_password1": "Another-pass-2026!", "new_password2": "Another-pass-2026!"}
    )
    request.user = advisor_a
    request.session = client.session
    request._dont_enforce_csrf_checks = True
    response = PasswordChangeView.as_view(success_url="/")(request)
    assert response.status_code == 302
    assert not Token.objects.filter(key=token.key).exists()


def test_a_deleted_token_is_refused(api_client, advisor_a):
    token = token_for(advisor_a)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    advisor_a.set_password("a-new-password-2026")
    advisor_a.save()
    assert api_client.get("/api/stores/").status_code == 401
