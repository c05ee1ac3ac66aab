from urllib.parse import urlencode

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from crm import services
from crm.choices import Role
from crm.exceptions import ApplicationError
from crm.files import private_file_get_for_user
from crm.forms import AuditFilterForm, ExportDecisionForm
from crm.health import services_down
from crm.landing import landing_actions_for
from crm.mfa import (
    totp_device_confirm,
    totp_device_for_user,
    totp_device_start_enrolment,
    totp_qr_svg,
    totp_secret_base32,
    user_needs_second_factor,
)
from crm.scoping import stores_for_user
from crm.selectors import (
    audit_log_for_user,
    export_request_get_for_user,
    export_requests_of,
    export_requests_to_decide,
    landing_figures,
    landing_panels,
)

AUDIT_PAGE_SIZE = 50

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
    today = timezone.localdate()
    figures = landing_figures(user=request.user, today=today)
    context = {
        "figures": {figure.key: figure.value for figure in figures},
        "figure_list": figures,
        "panels": landing_panels(user=request.user, today=today),
        "actions": landing_actions_for(request.user),
        "stores": list(stores_for_user(request.user)),
        "today": today,
    }
    return render(request, template, context)


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """For the load balancer (GET or HEAD): 200 when PostgreSQL and Redis answer, else 503 naming
    what is down."""
    down = services_down()
    if down:
        return JsonResponse({"status": "unavailable", "down": down}, status=503)
    return JsonResponse({"status": "ok"})


@login_required
@require_safe
@never_cache
def media_file(request: HttpRequest, name: str) -> FileResponse:
    """An uploaded file, streamed to a user the owning app lets read it (crm/files.py); else 404."""
    private_file = private_file_get_for_user(user=request.user, name=name)
    try:
        handle = private_file.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(
        handle, as_attachment=True, filename=private_file.filename, content_type=private_file.content_type
    )


# --- the audit page -----------------------------------------------------------------------------


@login_required
@permission_required("crm.view_auditlog", raise_exception=True)
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    """Read-only audit rows of the user's stores, filtered by who, what and when, 50 a page."""
    form = AuditFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound else {}
    rows = audit_log_for_user(user=request.user, **filters)
    page = Paginator(rows, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "crm/audit_log.html", {"form": form, "page": page}, status=status)


# --- exports needing approval -------------------------------------------------------------------


def _download_url(export_request) -> str:
    """The owning app's download view of an approved export (AppConfig ``export_request_downloads``)."""
    for app_config in apps.get_app_configs():
        url_name = getattr(app_config, "export_request_downloads", {}).get(export_request.kind)
        if url_name:
            try:
                return reverse(url_name, args=[export_request.pk])
            except NoReverseMatch:
                return ""
    return ""


@login_required
@require_GET
def export_requests(request: HttpRequest) -> HttpResponse:
    """The manager's pending requests of his stores, and the user's own requests (to download)."""
    to_decide = list(export_requests_to_decide(request.user))
    for export_request in to_decide:
        export_request.may_decide = services.export_request_may_decide(user=request.user, export_request=export_request)
    mine = list(export_requests_of(request.user))
    for export_request in mine:
        export_request.download_url = _download_url(export_request)
    context = {"to_decide": to_decide, "mine": mine, "decision_form": ExportDecisionForm()}
    return render(request, "crm/export_requests.html", context)


@login_required
@require_POST
def export_request_decide(request: HttpRequest, pk: int) -> HttpResponse:
    export_request = export_request_get_for_user(user=request.user, pk=pk)
    form = ExportDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose to approve or to refuse."))
        return redirect("crm:export_requests")
    approve = form.cleaned_data["decision"] == "approve"
    try:
        services.export_request_decide(user=request.user, export_request=export_request, approve=approve)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The export was approved.") if approve else _("The export was refused."))
    return redirect("crm:export_requests")


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
    next_url = _next_url(request)
    if not user_needs_second_factor(request.user) or request.user.is_verified():
        return redirect(next_url)
    device = totp_device_for_user(user=request.user)
    if device is None:
        return redirect(f"{reverse('mfa_enrol')}?{urlencode({'next': next_url})}")
    error = ""
    if request.method == "POST":
        if totp_device_confirm(request=request, device=device, code=request.POST.get("code", "")):
            return redirect(next_url)
        error = _("That code is not right or has already been used. Enter the current 6-digit code.")
    context = {"error": error, "next": next_url, "awaiting_second_factor": True}
    return render(request, "registration/mfa_verify.html", context, status=400 if error else 200)


@login_required
@require_http_methods(["GET", "POST"])
def mfa_enrol(request: HttpRequest) -> HttpResponse:
    """First log-in of a manager or administrator: add the secret to an authenticator app (QR code
    or typed), then confirm one code."""
    next_url = _next_url(request)
    if not user_needs_second_factor(request.user) or request.user.is_verified():
        return redirect(next_url)
    if totp_device_for_user(user=request.user) is not None:
        return redirect(f"{reverse('mfa_verify')}?{urlencode({'next': next_url})}")
    device = totp_device_start_enrolment(user=request.user)
    error = ""
    if request.method == "POST":
        if totp_device_confirm(request=request, device=device, code=request.POST.get("code", "")):
            messages.success(
                request, _("Your authenticator app is set up. You will be asked for a code at each log-in.")
            )
            return redirect(next_url)
        error = _("That code is not right. Enter the 6-digit code your app shows now.")
    context = {
        "error": error,
        "next": next_url,
        "secret": totp_secret_base32(device),
        "qr_svg": mark_safe(totp_qr_svg(device)),
        "issuer": settings.OTP_TOTP_ISSUER,
        "awaiting_second_factor": True,
    }
    return render(request, "registration/mfa_enrol.html", context, status=400 if error else 200)
