from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from crm.choices import Role
from crm.files import private_file_get_for_user
from crm.health import services_down
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
