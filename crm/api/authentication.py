"""Token authentication whose tokens expire (``API_TOKEN_TTL_HOURS``) and the token endpoint that
issues them: the password, and for managers and administrators also the current TOTP code."""

import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, serializers
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer

from crm.mfa import totp_code_matches, user_needs_second_factor


def token_is_expired(token: Token) -> bool:
    return token.created <= timezone.now() - datetime.timedelta(hours=settings.API_TOKEN_TTL_HOURS)


class ExpiringTokenAuthentication(TokenAuthentication):
    """``Authorization: Token …``; a token older than ``API_TOKEN_TTL_HOURS`` is deleted and refused."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_is_expired(token):
            token.delete()
            raise exceptions.AuthenticationFailed(_("The token has expired: request a new one at /api/token/."))
        return user, token


class TokenRequestSerializer(AuthTokenSerializer):
    """Username and password; managers, administrators and superusers also send ``otp_code``."""

    otp_code = serializers.CharField(
        label=_("Authenticator code"),
        required=False,
        allow_blank=True,
        max_length=6,
        help_text=_("The current 6-digit code of the authenticator app; required for managers and administrators."),
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        user = attrs["user"]
        if user_needs_second_factor(user) and not totp_code_matches(user=user, code=attrs.get("otp_code", "")):
            raise serializers.ValidationError(
                {
                    "otp_code": [
                        _("Managers and administrators must send the current 6-digit code of their authenticator app.")
                    ]
                },
                code="authorization",
            )
        return attrs


def token_issue(*, user) -> Token:
    """The user's token, replaced by a new one if it has expired."""
    token, created = Token.objects.get_or_create(user=user)
    if not created and token_is_expired(token):
        token.delete()
        token = Token.objects.create(user=user)
    return token
