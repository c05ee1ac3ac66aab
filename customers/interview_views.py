"""The delivery interview (交车满意度面访) pages: the questionnaire the buyer fills in on a tablet at
handover, one interview, the managers' list with averages per factor, the factor editor; and the
card's panel and timeline entries (registered in CustomersConfig)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from crm.exceptions import ApplicationError
from crm.scoping import stores_for_user
from customers.card import CardPanel, TimelineEvent
from customers.interview_forms import (
    DeliveryInterviewFilterForm,
    DeliveryInterviewForm,
    InterviewFactorAddForm,
    InterviewFactorRowForm,
)
from customers.models import DeliveryInterview
from customers.selectors import card_vehicles
from customers.selectors.interviews import (
    DISSATISFIED_FACTOR_SCORE,
    customer_delivery_interviews,
    delivery_interview_get_for_user,
    delivery_interview_list,
    delivery_interview_summary,
    interview_factors_all,
    interview_factors_asked,
    interview_vehicle_get_for_user,
)
from customers.services.interviews import (
    delivery_interview_record,
    interview_factor_add,
    interview_factors_update,
)

PAGE_SIZE = 25


def _existing_interview(vehicle) -> DeliveryInterview | None:
    try:
        return vehicle.delivery_interview
    except DeliveryInterview.DoesNotExist:
        return None


@login_required
@permission_required("customers.add_deliveryinterview", raise_exception=True)
@require_http_methods(["GET", "POST"])
def delivery_interview_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The questionnaire of one delivered vehicle, for its store's sales consultants and managers."""
    vehicle = interview_vehicle_get_for_user(user=request.user, pk=pk)
    factors = interview_factors_asked(store=vehicle.store)
    form = DeliveryInterviewForm(request.POST or None, factors=factors)
    context = {"vehicle": vehicle, "customer": vehicle.customer, "form": form, "existing": None, "refusal": ""}
    existing = _existing_interview(vehicle)
    if existing is not None:
        context["existing"] = existing
        context["refusal"] = _("This vehicle's delivery interview was already recorded.")
        return render(request, "customers/interviews/record.html", context, status=409 if request.POST else 200)
    if vehicle.delivery_date is None:
        context["refusal"] = _("This vehicle has no delivery date: a delivery interview follows a delivery.")
        return render(request, "customers/interviews/record.html", context, status=400 if request.POST else 200)
    if request.method == "POST":
        if form.is_valid():
            try:
                interview = delivery_interview_record(
                    user=request.user, vehicle=vehicle, scores=form.scores(), comment=form.cleaned_data["comment"]
                )
            except ApplicationError as error:
                context["refusal"] = error.message
                context["existing"] = error.extra.get("interview")
                return render(request, "customers/interviews/record.html", context, status=409)
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                if interview.lowest_score <= DISSATISFIED_FACTOR_SCORE:
                    messages.warning(
                        request,
                        _("The delivery interview was saved. A factor scored 2 or less: a complaint is "
                          "registered for the sales department."),
                    )  # fmt: skip
                else:
                    messages.success(request, _("The delivery interview was saved. Thank you!"))
                return redirect(f"{reverse('customers:detail', args=[vehicle.customer_id])}#interview-{interview.pk}")
        return render(request, "customers/interviews/record.html", context, status=400)
    return render(request, "customers/interviews/record.html", context)


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_GET
def delivery_interview_detail(request: HttpRequest, pk: int) -> HttpResponse:
    interview = delivery_interview_get_for_user(user=request.user, pk=pk)
    return render(request, "customers/interviews/detail.html", {"interview": interview})


@login_required
@permission_required("customers.view_deliveryinterview", raise_exception=True)
@require_GET
def delivery_interview_list_view(request: HttpRequest) -> HttpResponse:
    """The managers' list: filters, the share with a factor ≤ 2, the average per factor (table and
    bar chart) over every interview matching, and the interviews a page at a time."""
    form = DeliveryInterviewFilterForm(DeliveryInterviewFilterForm.with_default_period(request.GET), user=request.user)
    if not form.is_valid():
        context = {"form": form, "page": None, "summary": None, "chart": None}
        return render(request, "customers/interviews/list.html", context, status=400)
    data = form.cleaned_data
    interviews = delivery_interview_list(
        user=request.user,
        store=data["store"],
        date_from=data["date_from"],
        date_to=data["date_to"],
        consultant=data["consultant"],
        search=data["q"],
    )
    summary = delivery_interview_summary(interviews)
    page = Paginator(interviews, PAGE_SIZE).get_page(request.GET.get("page"))
    chart = {
        "labels": [factor.label for factor in summary.factors],
        "averages": [float(factor.average) for factor in summary.factors],
        "title": _("Average score (1–5)"),
    }
    context = {"form": form, "page": page, "summary": summary, "chart": chart}
    return render(request, "customers/interviews/list.html", context)


@login_required
@permission_required("customers.change_interviewfactor", raise_exception=True)
@require_http_methods(["GET", "POST"])
def interview_factors_view(request: HttpRequest) -> HttpResponse:
    """A manager's editor of the store's factors: rename, reorder, switch off, add."""
    stores = list(stores_for_user(request.user).order_by("code"))
    store = next((store for store in stores if str(store.pk) == request.GET.get("store")), None)
    if store is None and stores:
        store = stores[0]
    if store is None:
        return render(request, "customers/interviews/factors.html", {"store": None, "stores": stores})
    factors = interview_factors_all(store=store)
    rows = [
        (
            factor,
            InterviewFactorRowForm(
                prefix=f"f{index}",
                initial={"label": factor.label, "position": factor.position, "is_active": factor.is_active},
            ),
        )
        for index, factor in enumerate(factors)
    ]
    add_form = InterviewFactorAddForm()
    status = 200
    errors: list[str] = []
    if request.method == "POST":
        try:
            if request.POST.get("action") == "add":
                add_form = InterviewFactorAddForm(request.POST)
                if add_form.is_valid():
                    factor = interview_factor_add(user=request.user, store=store, label=add_form.cleaned_data["label"])
                    messages.success(
                        request, _("“%(factor)s” is asked from the next interview on.") % {"factor": factor.label}
                    )
                    return redirect(f"{reverse('customers:interview-factors')}?store={store.pk}")
            else:
                rows = [
                    (factor, InterviewFactorRowForm(request.POST, prefix=f"f{index}"))
                    for index, (factor, _form) in enumerate(rows)
                ]
                if all([row_form.is_valid() for _factor, row_form in rows]):
                    changed = interview_factors_update(
                        user=request.user,
                        store=store,
                        rows={factor.code: row_form.cleaned_data for factor, row_form in rows},
                    )
                    messages.success(request, _("%(count)s factor(s) changed.") % {"count": changed})
                    return redirect(f"{reverse('customers:interview-factors')}?store={store.pk}")
        except ValidationError as error:
            errors = error.messages
        status = 400
    context = {
        "store": store,
        "stores": stores,
        "rows": rows,
        "add_form": add_form,
        "errors": errors,
        "is_default_list": any(factor.pk is None for factor in factors),
    }
    return render(request, "customers/interviews/factors.html", context, status=status)


# --- on the card ---------------------------------------------------------------------------------


def interview_panel(*, user, customer) -> CardPanel | None:
    """Each delivered vehicle's interview (its lowest score) or, for staff who may record one, the
    button to start it."""
    interviews = customer_delivery_interviews(customer=customer)
    can_record = user.has_perm("customers.add_deliveryinterview")
    rows = [
        {"vehicle": vehicle, "interview": interviews.get(vehicle.pk)}
        for vehicle in card_vehicles(customer=customer)
        if vehicle.delivery_date is not None and (vehicle.pk in interviews or can_record)
    ]
    if not rows:
        return None
    context = {"rows": rows, "can_record": can_record, "dissatisfied_score": DISSATISFIED_FACTOR_SCORE}
    return CardPanel(template="customers/interviews/card_panel.html", context=context, order=60, position="top")


def interview_timeline(*, user, customer):
    for interview in customer_delivery_interviews(customer=customer).values():
        yield TimelineEvent(
            at=interview.interviewed_at,
            kind="interview",
            title=_("Delivery interview: lowest score %(score)s of 5") % {"score": interview.lowest_score},
            detail="；".join(f"{answer['label']} {answer['score']}" for answer in interview.answers),
            url=reverse("customers:delivery-interview-detail", args=[interview.pk]),
            actor=interview.consultant.get_full_name() or interview.consultant.username if interview.consultant else "",
        )
