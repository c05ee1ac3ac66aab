"""The SMS campaigns' pages (营销短信): the list, a draft's form with its live recipient count, the
campaign's page (the count after exclusions, a test send to the author, approval by another
manager, cancel, the recipients with their delivery and replies), the report with the holdout and
the lift, and the quick care message. Managers (and administrators) only: see README "Who may do
what". Each write parses a form, calls one service and shows its refusal."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.exceptions import ApplicationError
from crm.masking import mask_phone
from crm.scoping import stores_for_user
from customers.selectors import segment_queryset_for_user
from followups import campaigns as services
from followups.campaign_forms import CampaignCountForm, CampaignFilterForm, CampaignForm, QuickCareForm
from followups.choices import CampaignStatus
from followups.defaults import SMS_OPT_OUT_TEXT
from followups.models import Campaign

PAGE_SIZE = 25
FIELDS = ("name", "kind", "segment", "template", "send_at", "holdout_percent")


@login_required
@permission_required("followups.view_campaign", raise_exception=True)
@require_GET
def campaign_list(request: HttpRequest) -> HttpResponse:
    form = CampaignFilterForm(request.GET)
    queryset = services.campaigns_for_user(user=request.user, **form.filters())
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "several_stores": stores_for_user(request.user).count() > 1,
        "can_add": request.user.has_perm("followups.add_campaign"),
        "can_care": request.user.has_perm("followups.approve_campaign"),
    }
    return render(request, "followups/campaigns/list.html", context)


def _form_context(request, form, campaign):
    store = campaign.store if campaign else None
    return {
        "form": form,
        "campaign": campaign,
        "signature": (store.sms_signature or store.name) if store else "",
        "opt_out": SMS_OPT_OUT_TEXT,
    }


@login_required
@permission_required("followups.add_campaign", raise_exception=True)
@require_http_methods(["GET", "POST"])
def campaign_create(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = services.campaign_create(
                user=request.user, store=data["store"], **{name: data[name] for name in FIELDS}
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The draft %(name)s is saved.") % {"name": campaign.name})
            return redirect("followups:campaign_detail", pk=campaign.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "followups/campaigns/form.html", _form_context(request, form, None), status=status)


@login_required
@permission_required("followups.change_campaign", raise_exception=True)
@require_http_methods(["GET", "POST"])
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = services.campaign_get_for_user(user=request.user, pk=pk)
    if campaign.status != CampaignStatus.DRAFT:
        messages.error(request, _("Only a draft can be changed."))
        return redirect("followups:campaign_detail", pk=campaign.pk)
    initial = {name: getattr(campaign, name) for name in FIELDS}
    initial["send_at"] = timezone.localtime(campaign.send_at)
    form = CampaignForm(request.POST or None, user=request.user, campaign=campaign, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_update(
                user=request.user, campaign=campaign, **{name: form.cleaned_data[name] for name in FIELDS}
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The draft %(name)s is saved.") % {"name": campaign.name})
            return redirect("followups:campaign_detail", pk=campaign.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "followups/campaigns/form.html", _form_context(request, form, campaign), status=status)


@login_required
@permission_required("followups.add_campaign", raise_exception=True)
@require_POST
def campaign_count(request: HttpRequest) -> HttpResponse:
    """The draft form's live count: how many the campaign would reach now (htmx fragment)."""
    form = CampaignCountForm(request.POST)
    count = None
    if form.is_valid() and form.cleaned_data["segment"]:
        segment = segment_queryset_for_user(request.user).filter(pk=form.cleaned_data["segment"]).first()
        store_id = form.cleaned_data["store"]
        if store_id is None and form.cleaned_data["campaign"]:
            campaign = services.campaigns_for_user(user=request.user).filter(pk=form.cleaned_data["campaign"]).first()
            store_id = campaign.store_id if campaign else None
        store = stores_for_user(request.user).filter(pk=store_id).first() if store_id else None
        if segment is not None and store is not None and segment.store_id in (None, store.pk):
            draft = Campaign(store=store, segment=segment, kind=form.cleaned_data["kind"] or "promotion")
            count = services.campaign_recipients_preview(campaign=draft)
    return render(request, "followups/campaigns/_count.html", {"count": count})


def _detail_context(request, campaign) -> dict:
    user = request.user
    is_draft = campaign.status == CampaignStatus.DRAFT
    page = Paginator(services.campaign_recipients(campaign=campaign), PAGE_SIZE).get_page(request.GET.get("page"))
    for recipient in page.object_list:
        recipient.masked_mobile = mask_phone(recipient.customer.mobile)
    return {
        "campaign": campaign,
        "preview_count": services.campaign_recipients_preview(campaign=campaign) if is_draft else None,
        "sample": services.campaign_sample_text(campaign=campaign, user=user),
        "page": page,
        "can_edit": is_draft and user.has_perm("followups.change_campaign"),
        "can_approve": is_draft and user.has_perm("followups.approve_campaign") and campaign.created_by_id != user.pk,
        "is_author": campaign.created_by_id == user.pk,
        "can_cancel": campaign.status in (CampaignStatus.DRAFT, CampaignStatus.APPROVED, CampaignStatus.SENDING)
        and user.has_perm("followups.change_campaign"),
    }


@login_required
@permission_required("followups.view_campaign", raise_exception=True)
@require_GET
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = services.campaign_get_for_user(user=request.user, pk=pk)
    return render(request, "followups/campaigns/detail.html", _detail_context(request, campaign))


@login_required
@permission_required("followups.add_campaign", raise_exception=True)
@require_POST
def campaign_test(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = services.campaign_get_for_user(user=request.user, pk=pk)
    try:
        mobile = services.campaign_test_send(user=request.user, campaign=campaign)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("A test message went to %(mobile)s.") % {"mobile": mask_phone(mobile)})
    return redirect("followups:campaign_detail", pk=campaign.pk)


@login_required
@permission_required("followups.approve_campaign", raise_exception=True)
@require_POST
def campaign_approve(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = services.campaign_get_for_user(user=request.user, pk=pk)
    try:
        recipients, queued = services.campaign_approve(user=request.user, campaign=campaign)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Approved: %(recipients)d recipients, %(queued)d messages queued, %(holdout)d kept back.")
            % {"recipients": recipients, "queued": queued, "holdout": recipients - queued},
        )
    return redirect("followups:campaign_detail", pk=campaign.pk)


@login_required
@permission_required("followups.change_campaign", raise_exception=True)
@require_POST
def campaign_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = services.campaign_get_for_user(user=request.user, pk=pk)
    try:
        cancelled = services.campaign_cancel(user=request.user, campaign=campaign)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Cancelled: %(count)d messages will not be sent.") % {"count": cancelled})
    return redirect("followups:campaign_detail", pk=campaign.pk)


@login_required
@permission_required("followups.view_campaign", raise_exception=True)
@require_GET
def campaign_report(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = services.campaign_get_for_user(user=request.user, pk=pk)
    report = services.campaign_report(campaign=campaign)
    context = {
        "campaign": campaign,
        "report": report,
        "groups": [(_("Sent"), report.sent_group, "sent"), (_("Holdout (not sent)"), report.holdout, "holdout")],
        "lift_points": report.lift * 100 if report.lift is not None else None,
        "low_points": report.lift_low * 100 if report.lift is not None else None,
        "high_points": report.lift_high * 100 if report.lift is not None else None,
    }
    return render(request, "followups/campaigns/report.html", context)


@login_required
@permission_required("followups.approve_campaign", raise_exception=True)
@require_http_methods(["GET", "POST"])
def quick_care(request: HttpRequest) -> HttpResponse:
    """特殊天气关怀: choose the districts, check the text, send (created and approved at once)."""
    districts = services.districts_for_user(user=request.user)
    form = QuickCareForm(request.POST or None, user=request.user, districts=districts)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign, queued = services.quick_care_send(
                user=request.user, store=data["store"], districts=data["districts"], template=data["template"]
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                _("The care message is queued for %(count)d customers; it goes out in the SMS window.")
                % {"count": queued},
            )
            return redirect("followups:campaign_detail", pk=campaign.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "followups/campaigns/quick_care.html", {"form": form}, status=status)
