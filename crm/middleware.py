"""Log-in and session guards that apply to every request: idle time-out, the second factor of
managers and administrators, and rate limits (configured in settings, see README "Log-in and sessions")."""

import ipaddress
import logging
import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_ratelimit.core import is_ratelimited
from redis.exceptions import RedisError

from crm.mfa import user_needs_second_factor

logger = logging.getLogger(__name__)

LAST_ACTIVITY_SESSION_KEY = "crm_last_activity"
# Callers without a usable address are counted together (lock-outs and rate limits need an address).
UNKNOWN_CLIENT_IP = "0.0.0.0"
# The activity stamp is rewritten at most this often, so a busy session is not saved on every request.
ACTIVITY_STAMP_INTERVAL_SECONDS = 60


def client_ip(request: HttpRequest) -> str:
    """The caller's address for lock-outs and rate limits. Behind our own proxy
    (``CLIENT_IP_FROM_X_FORWARDED_FOR``) it is the last X-Forwarded-For entry, the one the proxy
    added; earlier entries are whatever the client sent and are never trusted."""
    address = request.META.get("REMOTE_ADDR", "")
    if settings.CLIENT_IP_FROM_X_FORWARDED_FOR:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        address = forwarded[-1] or address
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:  # no address at all (a WSGI caller in-process) or junk a proxy passed on
        return UNKNOWN_CLIENT_IP


def wants_json(request: HttpRequest) -> bool:
    """API callers (and clients asking only for JSON) get JSON errors; people in a browser a page."""
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/api/") or ("application/json" in accept and "text/html" not in accept)


def stamp_activity_at_login(sender, request, user, **kwargs) -> None:
    """The log-in is the first activity: stamped in the session the log-in saves anyway, so the
    next request has nothing to write."""
    if request is not None and hasattr(request, "session"):
        request.session[LAST_ACTIVITY_SESSION_KEY] = int(time.time())


class SessionIdleTimeoutMiddleware:
    """Logs out a session idle for longer than ``SESSION_IDLE_MINUTES`` on its next request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            last_activity = request.session.get(LAST_ACTIVITY_SESSION_KEY)
            idle_seconds = settings.SESSION_IDLE_MINUTES * 60
            if isinstance(last_activity, int) and now - last_activity > idle_seconds:
                return self._log_out(request)
            if not isinstance(last_activity, int) or now - last_activity >= ACTIVITY_STAMP_INTERVAL_SECONDS:
                request.session[LAST_ACTIVITY_SESSION_KEY] = now
        return self.get_response(request)

    @staticmethod
    def _log_out(request: HttpRequest) -> HttpResponse:
        logout(request)
        minutes = settings.SESSION_IDLE_MINUTES
        message = ngettext(
            "You were logged out after %(minutes)d minute without activity. Please log in again.",
            "You were logged out after %(minutes)d minutes without activity. Please log in again.",
            minutes,
        ) % {"minutes": minutes}
        if wants_json(request):
            return JsonResponse({"detail": message}, status=401)
        messages.info(request, message)
        login_url = f"{reverse(settings.LOGIN_URL)}?{urlencode({'next': request.get_full_path()})}"
        if getattr(request, "htmx", False):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = login_url
            return response
        return redirect(login_url)


# Pages a user who still owes the second factor may open: log-in, the code pages, log-out, language.
SECOND_FACTOR_OPEN_URL_NAMES = {"login", "logout", "mfa_verify", "mfa_enrol", "set_language", "healthz", "admin:logout"}


class SecondFactorRequiredMiddleware:
    """Managers, administrators and superusers logged in by password reach nothing but the code
    page until they confirm a TOTP code (or enrol their first device). Runs after django-otp's
    ``OTPMiddleware``; covers the pages, the admin and the API with session authentication.
    API calls with a token are authenticated later by DRF: tokens are only issued after a code."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or not user_needs_second_factor(user) or user.is_verified():
            return None
        match = request.resolver_match
        if match is not None and match.view_name in SECOND_FACTOR_OPEN_URL_NAMES:
            return None
        if wants_json(request) and not request.headers.get("HX-Request"):
            return JsonResponse(
                {"detail": _("Confirm your log-in with the 6-digit code of your authenticator app first.")},
                status=403,
            )
        target = f"{reverse('mfa_verify')}?{urlencode({'next': request.get_full_path()})}"
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return redirect(target)


class RateLimitMiddleware:
    """Counts requests to the views named in ``settings.RATE_LIMITS`` in the cache (Redis) and
    answers 429 with a clear message once a client passes its rate."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None:
            return None
        for rule in settings.RATE_LIMITS:
            if match.view_name not in rule["urls"] or request.method not in rule["methods"]:
                continue
            parameter = rule.get("param")
            if parameter and not request.GET.get(parameter, "").strip():
                continue
            group = "crm-rate-limit:" + ",".join(rule["urls"])
            try:
                limited = is_ratelimited(request, group=group, key=rule["key"], rate=rule["rate"], increment=True)
            except RedisError:
                # Redis is down: serve the request unlimited rather than refuse every log-in.
                logger.warning("rate limit of %s not counted: the cache is unavailable", match.view_name)
                limited = False
            if limited:
                return rate_limited_response(request, as_json=rule.get("json", False) or wants_json(request))
        return None


def rate_limited_response(request: HttpRequest, *, as_json: bool) -> HttpResponse:
    message = _("Too many requests in a short time. Please wait a minute and try again.")
    if as_json:
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "429.html", {"message": message}, status=429)
    response["Retry-After"] = "60"
    return response
