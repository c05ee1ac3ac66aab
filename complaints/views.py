"""Pages of complaints: list, intake form, the complaint with its timeline, the dashboard, export."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from complaints import exports, selectors, services
from complaints.choices import Channel, Department, Origin, Severity, Status
from complaints.forms import (
    ActionForm,
    AttachmentForm,
    CloseForm,
    ComplaintForm,
    DashboardFilterForm,
    DepartmentForm,
    ReopenForm,
)
from complaints.selectors import DashboardPeriod
from crm.exceptions import ApplicationError
from crm.row_urls import pk_url
from crm.scoping import stores_for_user
from customers.exports import ExportNeedsApproval
from customers.forms import ExportRequestForm
from customers.selectors import customer_queryset_for_user
from customers.views import approved_export_download, export_approval_page, export_request_form_errors

PAGE_SIZE = 25


def _can_see_complaints(user) -> bool:
    return user.has_perm("complaints.view_complaint") or user.has_perm("complaints.view_open_complaints")


@login_required
@require_GET
def complaint_list(request: HttpRequest) -> HttpResponse:
    if not _can_see_complaints(request.user):
        raise PermissionDenied
    search = request.GET.get("q", "").strip()[:100]
    status = request.GET.get("status", "active")
    store_id = request.GET.get("store", "")
    overdue_only = request.GET.get("overdue") == "1"
    now = timezone.now()
    queryset = selectors.complaint_list_for_user(
        user=request.user,
        search=search,
        status=status,
        store_id=int(store_id) if store_id.isdecimal() else None,
        overdue_only=overdue_only,
        now=now,
    )
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = _list_rows(page.object_list)
    context = {
        "page": page,
        "search": search,
        "status": status,
        "store_id": store_id,
        "overdue_only": overdue_only,
        "statuses": [("active", _("Not closed")), *Status.choices, ("all", _("All"))],
        "stores": stores_for_user(request.user).order_by("code"),
        "now": now,
        "query_string": request.GET.copy(),
    }
    context["query_string"].pop("page", None)
    return render(request, "complaints/complaint_list.html", context)


def _list_rows(complaints) -> list:
    """The list's rows with their link, department and severity in words, worked out once for the
    page (a reverse and two ``get_FOO_display`` a row, each of which rebuilt its choices)."""
    complaints = list(complaints)
    detail_url = pk_url("complaints:detail")
    departments, severities = dict(Department.choices), dict(Severity.choices)
    for complaint in complaints:
        complaint.detail_url = detail_url(complaint.pk)
        complaint.department_label = str(departments.get(complaint.department, complaint.department))
        complaint.severity_label = str(severities.get(complaint.severity, complaint.severity))
    return complaints


def _prefill(request: HttpRequest) -> dict:
    """Initial values from where the form was opened: the card (?customer=<id>), a call outcome
    (…&vehicle=<id>&channel=…&followup_task=<id>&rule=<code>&result=<reference>), a delivery or a
    delivery interview (…&origin=delivery&origin_ref=<reference>). The department starts as the
    desk's or the rule's (``complaint_default_department``); a satisfaction result gives its
    department and its answers and notes as the statement."""
    initial = {}
    customer = None
    origin = request.GET.get("origin", "")
    if origin not in Origin.values:
        origin = Origin.CALL if request.GET.get("followup_task", "").isdecimal() else Origin.DESK
    initial["origin"] = origin
    initial["origin_reference"] = request.GET.get("origin_ref", "")[:60]
    if request.GET.get("followup_task", "").isdecimal() and not initial["origin_reference"]:
        initial["origin_reference"] = f"followuptask:{int(request.GET['followup_task'])}"
    initial["department"] = services.complaint_default_department(
        user=request.user, origin=origin, rule_code=request.GET.get("rule", "")[:40]
    )
    if request.GET.get("customer", "").isdecimal():
        customer = customer_queryset_for_user(request.user).filter(pk=int(request.GET["customer"])).first()
        if customer is not None:
            initial["customer_no"] = customer.customer_no
            initial["store"] = customer.store_id
    if customer is not None and request.GET.get("vehicle", "").isdecimal():
        vehicle = customer.vehicles.filter(pk=int(request.GET["vehicle"])).first()
        if vehicle is not None:
            initial["vehicle"] = vehicle.plate_no or vehicle.vin
    if request.GET.get("channel") in Channel.values:
        initial["channel"] = request.GET["channel"]
    elif origin in (Origin.DESK, Origin.DELIVERY, Origin.DELIVERY_INTERVIEW):
        initial["channel"] = Channel.IN_STORE  # heard face to face at the desk
    if request.GET.get("followup_task", "").isdecimal():
        initial["followup_task"] = int(request.GET["followup_task"])
    if customer is not None and request.GET.get("result"):
        result = selectors.satisfaction_result_for_customer(customer=customer, reference=request.GET["result"][:60])
        if result is not None:
            initial["department"] = result.department
            initial["description"] = services.result_statement(result)
            initial["origin_reference"] = result.reference
    return initial


@login_required
@permission_required("complaints.add_complaint", raise_exception=True)
@require_http_methods(["GET", "POST"])
def complaint_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ComplaintForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                complaint = services.complaint_create(
                    actor=request.user,
                    customer=form.customer,
                    store=data["store"],
                    vehicle=data["vehicle_object"],
                    channel=data["channel"],
                    department=data["department"],
                    complaint_type=data["complaint_type"],
                    severity=data["severity"],
                    description=data["description"],
                    staff_concerned=data["staff_concerned"],
                    staff_concerned_name=data["staff_concerned_name"],
                    followup_task_id=data["followup_task"],
                    origin=data["origin"] or (Origin.CALL if data["followup_task"] else Origin.DESK),
                    origin_reference=data["origin_reference"].strip(),
                    attachments=data["attachments"],
                )
            except ApplicationError as error:
                form.add_error(None, error.message)
            else:
                manager = complaint.assigned_manager
                names = {"number": complaint.pk, "manager": manager.get_full_name() if manager else _("the store")}
                if complaint.notification.queued is False:
                    # Saved, but the broker is down: say so, so nobody submits it again.
                    messages.warning(
                        request,
                        _(
                            "Complaint #%(number)s is saved. The notice to %(manager)s could not be sent yet; "
                            "it will follow automatically within minutes. Do not submit it again."
                        )
                        % names,
                    )
                else:
                    messages.success(request, _("Complaint #%(number)s logged and sent to %(manager)s.") % names)
                return redirect("complaints:detail", pk=complaint.pk)
    else:
        handled = selectors.complaint_for_result_reference(user=request.user, reference=request.GET.get("result", ""))
        if handled is not None:
            # The closed loop already opened (or joined) a complaint for this result.
            messages.info(request, _("This result is already on complaint #%(number)s.") % {"number": handled.pk})
            return redirect("complaints:detail", pk=handled.pk)
        form = ComplaintForm(initial=_prefill(request), user=request.user)
    customer = getattr(form, "customer", None)
    if customer is None and form.initial.get("customer_no"):
        customer = customer_queryset_for_user(request.user).filter(customer_no=form.initial["customer_no"]).first()
    return render(request, "complaints/complaint_form.html", {"form": form, "customer": customer})


def _detail_context(request: HttpRequest, complaint, **forms) -> dict:
    user = request.user
    return {
        "complaint": complaint,
        "now": timezone.now(),
        "timeline": selectors.complaint_timeline(complaint=complaint),
        "attachments": complaint.attachments.all(),
        "history": selectors.complaint_history(complaint=complaint),
        "can_work": user.has_perm("complaints.change_complaint") and not complaint.is_closed,
        "can_close": user.has_perm("complaints.close_complaint"),
        "can_change_department": user.has_perm("complaints.change_complaint") and not complaint.is_closed,
        "can_attach": user.has_perm("complaints.add_complaintattachment"),
        "action_form": forms.get("action_form") or ActionForm(),
        "close_form": forms.get("close_form") or CloseForm(),
        "reopen_form": forms.get("reopen_form") or ReopenForm(),
        "department_form": forms.get("department_form") or DepartmentForm(initial={"department": complaint.department}),
        "attachment_form": forms.get("attachment_form") or AttachmentForm(),
    }


@login_required
@require_GET
def complaint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    complaint = selectors.complaint_get_for_user(user=request.user, pk=pk)
    return render(request, "complaints/complaint_detail.html", _detail_context(request, complaint))


def _post_on_complaint(request, pk, *, permission, form_class, form_name, call, success):
    complaint = selectors.complaint_get_for_user(user=request.user, pk=pk)
    if not request.user.has_perm(permission):
        raise PermissionDenied
    form = form_class(request.POST, request.FILES)
    if form.is_valid():
        try:
            call(complaint, form.cleaned_data)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, success)
            return redirect("complaints:detail", pk=complaint.pk)
    context = _detail_context(request, complaint, **{form_name: form})
    return render(request, "complaints/complaint_detail.html", context, status=400)


@login_required
@require_POST
def complaint_action(request: HttpRequest, pk: int) -> HttpResponse:
    return _post_on_complaint(
        request,
        pk,
        permission="complaints.change_complaint",
        form_class=ActionForm,
        form_name="action_form",
        call=lambda complaint, data: services.complaint_record_action(
            actor=request.user, complaint=complaint, kind=data["kind"], note=data["note"]
        ),
        success=_("Added to the timeline."),
    )


@login_required
@require_POST
def complaint_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _post_on_complaint(
        request,
        pk,
        permission="complaints.close_complaint",
        form_class=CloseForm,
        form_name="close_form",
        call=lambda complaint, data: services.complaint_close(
            actor=request.user,
            complaint=complaint,
            resolution=data["resolution"],
            confirmation=data["confirmation"],
            confirmation_note=data["confirmation_note"],
        ),
        success=_("The complaint is closed."),
    )


@login_required
@require_POST
def complaint_department(request: HttpRequest, pk: int) -> HttpResponse:
    return _post_on_complaint(
        request,
        pk,
        permission="complaints.change_complaint",
        form_class=DepartmentForm,
        form_name="department_form",
        call=lambda complaint, data: services.complaint_department_change(
            actor=request.user, complaint=complaint, department=data["department"]
        ),
        success=_("The department is changed and the complaint sent to its manager."),
    )


@login_required
@require_POST
def complaint_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    return _post_on_complaint(
        request,
        pk,
        permission="complaints.close_complaint",
        form_class=ReopenForm,
        form_name="reopen_form",
        call=lambda complaint, data: services.complaint_reopen(
            actor=request.user, complaint=complaint, reason=data["reason"]
        ),
        success=_("The complaint is reopened."),
    )


@login_required
@require_POST
def complaint_attachment_add(request: HttpRequest, pk: int) -> HttpResponse:
    def add(complaint, data):
        for uploaded_file in data["files"]:
            services.complaint_attachment_add(actor=request.user, complaint=complaint, uploaded_file=uploaded_file)

    return _post_on_complaint(
        request,
        pk,
        permission="complaints.add_complaintattachment",
        form_class=AttachmentForm,
        form_name="attachment_form",
        call=add,
        success=_("Attachments added."),
    )


@login_required
@require_GET
def complaint_attachment_download(request: HttpRequest, pk: int, attachment_pk: int) -> FileResponse:
    complaint = selectors.complaint_get_for_user(user=request.user, pk=pk)
    attachment = complaint.attachments.filter(pk=attachment_pk).first()
    if attachment is None:
        raise Http404
    return FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )


def _dashboard_scope(request: HttpRequest):
    form = DashboardFilterForm(request.GET or None, user=request.user, today=timezone.localdate())
    if request.GET and not form.is_valid():
        period = DashboardPeriod.last_twelve_months(timezone.localdate())
        store_ids = selectors.dashboard_store_ids(user=request.user)
        return form, period, store_ids
    if request.GET:
        period = DashboardPeriod(first_month=form.cleaned_data["first"], last_month=form.cleaned_data["last"])
        store = form.cleaned_data.get("store")
    else:
        period, store = DashboardPeriod.last_twelve_months(timezone.localdate()), None
    return form, period, selectors.dashboard_store_ids(user=request.user, store_id=store.pk if store else None)


@login_required
@permission_required("complaints.view_complaint_dashboard", raise_exception=True)
@require_GET
def complaint_dashboard(request: HttpRequest) -> HttpResponse:
    form, period, store_ids = _dashboard_scope(request)
    dashboard = selectors.complaint_dashboard(store_ids=store_ids, period=period, now=timezone.now())
    # A month in progress keeps its bar but no point on the rate lines: a few days' complaints over a
    # few days' deliveries (one over one is 100 %) would set the scale and flatten the year.
    partial = _("(in progress)")
    chart = {
        "months": [
            f"{month.month:%Y-%m} {partial}" if month.is_partial else f"{month.month:%Y-%m}"
            for month in dashboard.months
        ],
        "sales_rate": [None if month.is_partial else month.sales_rate for month in dashboard.months],
        "service_rate": [None if month.is_partial else month.service_rate for month in dashboard.months],
        "complaints": [month.complaints for month in dashboard.months],
        "by_type": dashboard.by_type,
        "by_channel": dashboard.by_channel,
        "labels": {"sales": _("Sales rate %"), "service": _("Service rate %"), "complaints": _("Complaints")},
    }
    context = {"form": form, "dashboard": dashboard, "chart": chart, "export_query": request.GET.urlencode()}
    return render(request, "complaints/dashboard.html", context)


@login_required
@permission_required("complaints.export_complaints", raise_exception=True)
@require_GET
def complaint_export(request: HttpRequest) -> HttpResponse:
    """The complaints of the dashboard's stores and period, or its monthly figures (?what=months);
    the page asking a manager's approval when a complaint is about a 秘密-or-above or key customer."""
    _form, period, store_ids = _dashboard_scope(request)
    if request.GET.get("what") == "months":
        return exports.complaint_rates_export(user=request.user, store_ids=store_ids, period=period).response()
    result = exports.complaint_export(user=request.user, store_ids=store_ids, period=period)
    if isinstance(result, ExportNeedsApproval):
        query = request.GET.urlencode()
        return export_approval_page(
            request,
            result,
            action=f"{reverse('complaints:export_request')}?{query}",
            cancel_url=f"{reverse('complaints:dashboard')}?{query}",
        )
    return result.response()


@login_required
@permission_required("complaints.export_complaints", raise_exception=True)
@require_POST
def complaint_export_request(request: HttpRequest) -> HttpResponse:
    """Ask a manager to approve the export of the dashboard's complaints (its filters in the query)."""
    _form, period, store_ids = _dashboard_scope(request)
    query = request.GET.urlencode()
    form = ExportRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, export_request_form_errors(form))
        return redirect(f"{reverse('complaints:export')}?{query}")
    try:
        exports.complaint_export_request(
            user=request.user, store_ids=store_ids, period=period, reason=form.cleaned_data["reason"]
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(f"{reverse('complaints:dashboard')}?{query}")
    messages.success(request, _("Your export request was sent to the store's managers for approval."))
    return redirect("crm:export_requests")


@login_required
@permission_required("complaints.export_complaints", raise_exception=True)
@require_GET
def export_request_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The requester's one download of an approved complaints export; a second one is refused with a message."""
    return approved_export_download(
        request, pk, kind=exports.COMPLAINT_EXPORT_KIND, download=exports.complaint_export_download
    )
