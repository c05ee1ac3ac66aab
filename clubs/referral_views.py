"""The referral pages (保客转介绍): record a referral (from the referrer's card, or a staff
referral), the prospects' list where sales consultants move them along, the referral-sales report."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clubs import selectors, services
from clubs.choices import ReferralStage
from clubs.referral_forms import ReferralAssignForm, ReferralForm, ReferralReportForm, ReferralStageForm
from crm.audit import audit_log_record
from crm.choices import AuditAction, Role
from crm.exceptions import ApplicationError
from crm.masking import phone_for_user, phone_reveal_record
from crm.scoping import stores_for_user, visible_store_ids
from customers.selectors import customer_get_for_user

PAGE_SIZE = 25
REFERRAL_TYPE = "clubs.referral"


class TelRedirect(HttpResponseRedirect):
    allowed_schemes = ["tel"]


def _staff_name(member) -> str:
    return (member.get_full_name() or member.username) if member else ""


def _list_filters(request: HttpRequest) -> dict:
    """The list's filters from the query string; a sales consultant sees their own prospects first."""
    user = request.user
    stage = request.GET.get("stage", "open")
    if stage not in selectors.REFERRAL_STAGE_FILTERS:
        stage = "open"
    default_consultant = "mine" if user.role == Role.SALES_CONSULTANT else ""
    consultant = request.GET.get("consultant", default_consultant)
    if consultant not in ("", "mine", "none") and not consultant.isdecimal():
        consultant = default_consultant
    store = request.GET.get("store", "")
    return {
        "search": request.GET.get("q", "").strip()[:100],
        "stage": stage,
        "consultant": consultant,
        "store_id": int(store) if store.isdecimal() else None,
    }


def _list_context(request: HttpRequest, *, stage_form=None, stage_referral=None) -> dict:
    user = request.user
    filters = _list_filters(request)
    queryset = selectors.referral_list_for_user(
        user=user,
        search=filters["search"],
        stage=filters["stage"],
        consultant=filters["consultant"],
        store_id=filters["store_id"],
    )
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    referrals = list(page.object_list)
    visible_referrers = selectors.referrers_visible_to(user=user, referrals=referrals)
    rows = []
    for referral in referrals:
        if referral.referrer_id:
            referrer = referral.referrer.name if referral.referrer_id in visible_referrers else _("A customer")
        else:
            referrer = _("%(name)s (staff)") % {"name": _staff_name(referral.referrer_staff)}
        rows.append(
            {
                "referral": referral,
                "mobile": phone_for_user(user, referral.prospect_mobile),
                "referrer": referrer,
                "referrer_url": reverse("customers:detail", args=[referral.referrer_id])
                if referral.referrer_id in visible_referrers
                else "",
                "consultant": _staff_name(referral.consultant),
            }
        )
    # Staff who see whole numbers saw these: one audit row for the page, as for customers' cards.
    phone_reveal_record(
        user=user, object_ids=[referral.pk for referral in referrals], path=request.path, object_type=REFERRAL_TYPE
    )
    query = request.GET.copy()
    query.pop("page", None)
    stages = [("open", _("Open prospects")), *ReferralStage.choices, ("all", _("All"))]
    return {
        "page": page,
        "rows": rows,
        **filters,
        "stages": stages,
        "consultants": [
            (member.pk, _staff_name(member))
            for member in selectors.referral_consultants(store_ids=visible_store_ids(user))
        ],
        "stores": stores_for_user(user).order_by("code"),
        "query_string": query,
        "can_change": user.has_perm("clubs.change_referral"),
        "can_add": user.has_perm("clubs.add_referral"),
        "stage_form": stage_form,
        "stage_referral": stage_referral,
    }


@login_required
@permission_required("clubs.view_referral", raise_exception=True)
@require_GET
def referral_list(request: HttpRequest) -> HttpResponse:
    return render(request, "clubs/referrals/referral_list.html", _list_context(request))


@login_required
@permission_required("clubs.change_referral", raise_exception=True)
@require_POST
def referral_stage(request: HttpRequest, pk: int) -> HttpResponse:
    """Move one prospect along; the list's filters ride on the query string and come back."""
    referral = selectors.referral_get_for_user(user=request.user, pk=pk)
    form = ReferralStageForm(request.POST)
    if form.is_valid():
        try:
            referral = services.referral_stage_set(
                user=request.user,
                referral=referral,
                stage=form.cleaned_data["stage"],
                lost_reason=form.cleaned_data["lost_reason"],
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                _("%(name)s: %(stage)s.") % {"name": referral.prospect_name, "stage": referral.get_stage_display()},
            )
            query = request.GET.urlencode()
            return redirect(reverse("clubs:referral_list") + (f"?{query}" if query else ""))
    context = _list_context(request, stage_form=form, stage_referral=referral)
    return render(request, "clubs/referrals/referral_list.html", context, status=400)


@login_required
@permission_required("clubs.change_referral", raise_exception=True)
@require_POST
def referral_assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Give the prospect to a sales consultant of the store; the list's filters come back."""
    referral = selectors.referral_get_for_user(user=request.user, pk=pk)
    form = ReferralAssignForm(request.POST, store_ids=[referral.store_id])
    if form.is_valid():
        try:
            referral = services.referral_assign(
                user=request.user, referral=referral, consultant=form.cleaned_data["consultant"]
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            if referral.consultant_id:
                names = {"name": referral.prospect_name, "consultant": _staff_name(referral.consultant)}
                messages.success(request, _("%(name)s: assigned to %(consultant)s.") % names)
            else:
                messages.success(request, _("%(name)s: not assigned.") % {"name": referral.prospect_name})
            query = request.GET.urlencode()
            return redirect(reverse("clubs:referral_list") + (f"?{query}" if query else ""))
    context = _list_context(request, stage_form=form, stage_referral=referral)
    return render(request, "clubs/referrals/referral_list.html", context, status=400)


@login_required
@permission_required("clubs.change_referral", raise_exception=True)
@require_POST
def referral_dial(request: HttpRequest, pk: int) -> HttpResponse:
    """Call the prospect: the whole number leaves the server only here (a tel: link), and every
    dial is audited, as the call queue dials customers."""
    referral = selectors.referral_get_for_user(user=request.user, pk=pk)
    audit_log_record(
        actor=request.user,
        action=AuditAction.VIEW_UNMASKED_PHONE,
        object_type=REFERRAL_TYPE,
        object_ids=[referral.pk],
        detail={"path": request.path, "purpose": "dial"},
    )
    return TelRedirect(f"tel:{referral.prospect_mobile}")


@login_required
@permission_required("clubs.add_referral", raise_exception=True)
@require_http_methods(["GET", "POST"])
def referral_create(request: HttpRequest) -> HttpResponse:
    """?customer=<id>: a referral by that customer (from their card); without it, a staff referral."""
    customer = None
    if "customer" in request.GET:
        if not request.GET["customer"].isdecimal():
            raise Http404
        customer = customer_get_for_user(user=request.user, pk=int(request.GET["customer"]))
    store_ids = [customer.store_id] if customer else visible_store_ids(request.user)
    form = ReferralForm(request.POST or None, user=request.user, store_ids=store_ids, staff=customer is None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            referral = services.referral_record(
                user=request.user,
                referrer=customer,
                referrer_staff=data.get("referrer_staff"),
                store=data.get("store"),
                prospect_name=data["prospect_name"],
                prospect_mobile=data["prospect_mobile"],
                intended_model=data["intended_model"],
                consultant=data["consultant"],
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The referral of %(name)s is recorded.") % {"name": referral.prospect_name})
            if customer is not None:
                return redirect("customers:detail", pk=customer.pk)
            return redirect("clubs:referral_list")
    status = 400 if request.method == "POST" else 200
    return render(request, "clubs/referrals/referral_form.html", {"form": form, "customer": customer}, status=status)


@login_required
@permission_required("clubs.view_referral_report", raise_exception=True)
@require_GET
def referral_report(request: HttpRequest) -> HttpResponse:
    """Per month and store: referrals recorded, won, the share of the deliveries, points credited."""
    user = request.user
    form = ReferralReportForm(request.GET or None, user=user, today=timezone.localdate())
    valid = not request.GET or form.is_valid()
    if request.GET and valid:
        first, last, store = form.cleaned_data["first"], form.cleaned_data["last"], form.cleaned_data["store"]
    else:
        defaults = ReferralReportForm({}, user=user, today=timezone.localdate())
        defaults.is_valid()
        first, last, store = defaults.cleaned_data["first"], defaults.cleaned_data["last"], None
    store_ids = [store.pk] if store else list(stores_for_user(user).values_list("pk", flat=True))
    report = selectors.referral_report(store_ids=store_ids, first_month=first, last_month=last)
    chart = {
        "months": [month.month.strftime("%Y-%m") for month in report.totals],
        "won": [month.won for month in report.totals],
        "recorded": [month.recorded for month in report.totals],
        "share": [float(month.share) if month.share is not None else None for month in report.totals],
        "labels": {
            "won": _("Referral sales"),
            "recorded": _("Referrals recorded"),
            "share": _("Share of deliveries %"),
        },
    }
    context = {"form": form, "report": report, "chart": chart, "several_stores": len(store_ids) > 1}
    return render(request, "clubs/referrals/report.html", context, status=200 if valid else 400)
