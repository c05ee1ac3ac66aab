from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods

from crm.choices import Role
from crm.mfa import (
    totp_device_confirm,
    totp_device_for_user,
    totp_device_start_enrolment,
    totp_qr_svg,
    totp_secret_base32,
    user_needs_second_factor,
)
from crm.scoping import stores_for_user
from crm.selectors import landing_figures

# Each role lands on its own workbench: (template, page title is in the template).
ROLE_LANDING_TEMPLATES = {
    Role.SERVICE_ADVISOR: "crm/home_service_advisor.html",
    Role.SALES_CONSULTANT: "crm/home_sales_consultant.html",
    Role.CALL_AGENT: "crm/home_call_agent.html",
    Role.MANAGER: "crm/home_manager.html",
    Role.ADMIN: "crm/home_admin.html",
}


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    template = ROLE_LANDING_TEMPLATES.get(request.user.role, "crm/home_no_role.html")
    context = {
        "figures": landing_figures(user=request.user),
        "stores": list(stores_for_user(request.user)),
        "today": timezone.localdate(),
    }
    return render(request, template, context)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for the load balancer: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def login_locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' answer once a username has too many failed log-ins from one address (429):
    a page on the login form and the admin, JSON on the API."""
    minutes = settings.LOGIN_COOLOFF_MINUTES
    message = ngettext(
        "This account is locked after too many failed log-ins. Try again in %(minutes)d minute, "
        "or ask a manager or administrator to unlock it.",
        "This account is locked after too many failed log-ins. Try again in %(minutes)d minutes, "
        "or ask a manager or administrator to unlock it.",
        minutes,
    ) % {"minutes": minutes}
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=429)
    return render(request, "registration/locked_out.html", {"message": message}, status=429)


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@login_required
@require_http_methods(["GET", "POST"])
def mfa_verify(request: HttpRequest) -> HttpResponse:
    """After the password: managers and administrators enter the 6-digit code of their app."""
    if not user_needs_second_factor(request.user) or request.user.is_verified():
        return redirect(_next_url(request))
    device = totp_device_for_user(user=request.user)
    if device is None:
        return redirect(f"{reverse('mfa_enrol')}?{urlencode({'next': _next_url(request)})}")
    error = ""
    if request.method == "POST":
        if totp_device_confirm(request=request, device=device, code=request.POST.get("code", "")):
            return redirect(_next_url(request))
        error = _("That code is not right or has already been used. Enter the current 6-digit code.")
    context = {"error": error, "next": _next_url(request), "awaiting_second_factor": True}
    return render(request, "registration/mfa_verify.html", context, status=400 if error else 200)


@login_required
@require_http_methods(["GET", "POST"])
def mfa_enrol(request: HttpRequest) -> HttpResponse:
    """First log-in of a manager or administrator: add the secret to an authenticator app (QR code
    or typed), then confirm one code."""
    if not user_needs_second_factor(request.user) or request.user.is_verified():
        return redirect(_next_url(request))
    if totp_device_for_user(user=request.user) is not None:
        return redirect(f"{reverse('mfa_verify')}?{urlencode({'next': _next_url(request)})}")
    device = totp_device_start_enrolment(user=request.user)
    error = ""
    if request.method == "POST":
        if totp_device_confirm(request=request, device=device, code=request.POST.get("code", "")):
            messages.success(
                request, _("Your authenticator app is set up. You will be asked for a code at each log-in.")
            )
            return redirect(_next_url(request))
        error = _("That code is not right. Enter the 6-digit code your app shows now.")
    context = {
        "error": error,
        "next": _next_url(request),
        "secret": totp_secret_base32(device),
        "qr_svg": mark_safe(totp_qr_svg(device)),
        "issuer": settings.OTP_TOTP_ISSUER,
        "awaiting_second_factor": True,
    }
    return render(request, "registration/mfa_enrol.html", context, status=400 if error else 200)
