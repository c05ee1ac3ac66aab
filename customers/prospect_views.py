"""The prospects' pages (潜在客户): the list (a sales consultant's own first), record a prospect,
one prospect with its status buttons and history."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.audit import audit_log_record
from crm.choices import AuditAction
from crm.exceptions import ApplicationError
from crm.masking import phone_for_user, phone_reveal_record
from crm.scoping import stores_for_user, visible_store_ids
from customers.choices import ProspectLostReason, ProspectSource, ProspectStatus
from customers.prospect_forms import (
    ProspectAssignForm,
    ProspectForm,
    ProspectReportForm,
    ProspectStatusForm,
    staff_label,
)
from customers.selectors.prospects import (
    PROSPECT_STATUS_FILTERS,
    prospect_consultants,
    prospect_get_for_user,
    prospect_history,
    prospect_list_for_user,
    prospect_report,
)
from customers.services.prospects import PROSPECT_TRANSITIONS, prospect_advance, prospect_assign, prospect_create

PAGE_SIZE = 25
PROSPECT_TYPE = "customers.prospect"
# The consultant's tasks of the day (follow-ups' "my tasks" page).
MY_TASKS_PATH = "/followups/mine/"


class TelRedirect(HttpResponseRedirect):
    allowed_schemes = ["tel"]


def _list_filters(request: HttpRequest) -> dict:
    status = request.GET.get("status", "open")
    if status not in PROSPECT_STATUS_FILTERS:
        status = "open"
    source = request.GET.get("source", "")
    if source not in ProspectSource.values:
        source = ""
    consultant = request.GET.get("consultant", "")
    if consultant not in ("", "mine", "none") and not consultant.isdecimal():
        consultant = ""
    store = request.GET.get("store", "")
    return {
        "search": request.GET.get("q", "").strip()[:100],
        "status": status,
        "source": source,
        "consultant": consultant,
        "store_id": int(store) if store.isdecimal() else None,
    }


@login_required
@permission_required("customers.view_prospect", raise_exception=True)
@require_GET
def prospect_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    filters = _list_filters(request)
    queryset = prospect_list_for_user(user=user, **filters)
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    prospects = list(page.object_list)
    rows = [
        {
            "prospect": prospect,
            "mobile": phone_for_user(user, prospect.mobile),
            "consultant": staff_label(prospect.consultant) if prospect.consultant else "",
            "mine": prospect.consultant_id == user.pk,
        }
        for prospect in prospects
    ]
    phone_reveal_record(
        user=user, object_ids=[prospect.pk for prospect in prospects], path=request.path, object_type=PROSPECT_TYPE
    )
    context = {
        "page": page,
        "rows": rows,
        **filters,
        "statuses": [("open", _("Open prospects")), *ProspectStatus.choices, ("all", _("All"))],
        "sources": ProspectSource.choices,
        "consultants": [
            (member.pk, staff_label(member)) for member in prospect_consultants(store_ids=visible_store_ids(user))
        ],
        "stores": list(stores_for_user(user).order_by("code")),
        "can_add": user.has_perm("customers.add_prospect"),
        "my_tasks_url": MY_TASKS_PATH,
    }
    return render(request, "customers/prospects/prospect_list.html", context)


@login_required
@permission_required("customers.add_prospect", raise_exception=True)
@require_http_methods(["GET", "POST"])
def prospect_create_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    initial = {"consultant": user.pk} if prospect_consultants(store_ids=None).filter(pk=user.pk).exists() else {}
    form = ProspectForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            prospect = prospect_create(
                user=user,
                store=data.get("store"),
                name=data["name"],
                mobile=data["mobile"],
                intended_model=data["intended_model"],
                source=data["source"],
                consultant=data["consultant"],
                notes=data["notes"],
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The prospect %(name)s is recorded.") % {"name": prospect.name})
            if user.has_perm("customers.view_prospect"):
                return redirect("customers:prospect_detail", pk=prospect.pk)
            return redirect("customers:prospect_create")
    status = 400 if request.method == "POST" else 200
    return render(request, "customers/prospects/prospect_form.html", {"form": form}, status=status)


def _detail_context(request: HttpRequest, prospect, *, status_form=None, assign_form=None) -> dict:
    user = request.user
    phone_reveal_record(user=user, object_ids=[prospect.pk], path=request.path, object_type=PROSPECT_TYPE)
    moves = [(status, ProspectStatus(status).label) for status in PROSPECT_TRANSITIONS[prospect.status]]
    return {
        "prospect": prospect,
        "mobile": phone_for_user(user, prospect.mobile),
        "consultant": staff_label(prospect.consultant) if prospect.consultant else "",
        "recorded_by": staff_label(prospect.recorded_by) if prospect.recorded_by else "",
        "moves": [move for move in moves if move[0] != ProspectStatus.LOST],
        "can_lose": ProspectStatus.LOST in PROSPECT_TRANSITIONS[prospect.status],
        "lost_reasons": ProspectLostReason.choices,
        "can_change": user.has_perm("customers.change_prospect"),
        "consultants": [
            (member.pk, staff_label(member)) for member in prospect_consultants(store_ids=[prospect.store_id])
        ],
        "history": prospect_history(prospect=prospect),
        "status_form": status_form,
        "assign_form": assign_form,
    }


@login_required
@permission_required("customers.view_prospect", raise_exception=True)
@require_GET
def prospect_detail(request: HttpRequest, pk: int) -> HttpResponse:
    prospect = prospect_get_for_user(user=request.user, pk=pk)
    return render(request, "customers/prospects/prospect_detail.html", _detail_context(request, prospect))


@login_required
@permission_required("customers.change_prospect", raise_exception=True)
@require_POST
def prospect_status(request: HttpRequest, pk: int) -> HttpResponse:
    prospect = prospect_get_for_user(user=request.user, pk=pk)
    form = ProspectStatusForm(request.POST)
    if form.is_valid():
        try:
            prospect = prospect_advance(
                user=request.user,
                prospect=prospect,
                status=form.cleaned_data["status"],
                lost_reason=form.cleaned_data["lost_reason"],
                lost_note=form.cleaned_data["lost_note"],
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request, _("%(name)s: %(status)s.") % {"name": prospect.name, "status": prospect.get_status_display()}
            )
            return redirect("customers:prospect_detail", pk=prospect.pk)
    context = _detail_context(request, prospect, status_form=form)
    return render(request, "customers/prospects/prospect_detail.html", context, status=400)


@login_required
@permission_required("customers.change_prospect", raise_exception=True)
@require_POST
def prospect_assign_view(request: HttpRequest, pk: int) -> HttpResponse:
    prospect = prospect_get_for_user(user=request.user, pk=pk)
    form = ProspectAssignForm(request.POST, store_ids=[prospect.store_id])
    if form.is_valid():
        try:
            prospect = prospect_assign(user=request.user, prospect=prospect, consultant=form.cleaned_data["consultant"])
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            if prospect.consultant_id:
                names = {"name": prospect.name, "consultant": staff_label(prospect.consultant)}
                messages.success(request, _("%(name)s: assigned to %(consultant)s.") % names)
            else:
                messages.success(request, _("%(name)s: not assigned.") % {"name": prospect.name})
            return redirect("customers:prospect_detail", pk=prospect.pk)
    context = _detail_context(request, prospect, assign_form=form)
    return render(request, "customers/prospects/prospect_detail.html", context, status=400)


@login_required
@permission_required("customers.change_prospect", raise_exception=True)
@require_POST
def prospect_dial(request: HttpRequest, pk: int) -> HttpResponse:
    """Call the prospect: the whole number leaves the server only here (a tel: link), audited."""
    prospect = prospect_get_for_user(user=request.user, pk=pk)
    audit_log_record(
        actor=request.user,
        action=AuditAction.VIEW_UNMASKED_PHONE,
        object_type=PROSPECT_TYPE,
        object_ids=[prospect.pk],
        detail={"path": request.path, "purpose": "dial"},
    )
    return TelRedirect(f"tel:{prospect.mobile}")


@login_required
@permission_required("customers.view_prospect_report", raise_exception=True)
@require_GET
def prospect_report_view(request: HttpRequest) -> HttpResponse:
    """Prospects won and lost, per source and per consultant, for a period (a chart and two tables)."""
    form = ProspectReportForm(request.GET or None)
    start, end = form.period(today=timezone.localdate())
    if not form.is_bound:  # the date pickers show the period the page reports on
        form = ProspectReportForm(initial={"start": start, "end": end})
    report = prospect_report(user=request.user, start=start, end=end)
    chart = {
        "sources": [row["label"] for row in report["by_source"]],
        "won": [row["won"] for row in report["by_source"]],
        "lost": [row["lost"] for row in report["by_source"]],
        "open": [row["new"] - row["won"] - row["lost"] for row in report["by_source"]],
        "labels": {"won": _("Won"), "lost": _("Lost"), "open": _("Still open")},
    }
    tables = [
        {"name": "by-source", "title": _("Per source"), "heading": _("Source"), "rows": report["by_source"]},
        {"name": "by-consultant", "title": _("Per sales consultant"), "heading": _("Sales consultant"),
         "rows": report["by_consultant"]},
    ]  # fmt: skip
    context = {"form": form, "start": start, "end": end, "report": report, "chart": chart, "tables": tables}
    return render(request, "customers/prospects/prospect_report.html", context, status=400 if form.errors else 200)
