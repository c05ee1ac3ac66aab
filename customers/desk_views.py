"""The desks' pages: a new card, a new vehicle on a card, the sales desk's delivery (docs/desk.md).
Each parses, authorises, calls one service and responds."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from crm.masking import phone_reveal_record
from crm.models import User
from crm.scoping import visible_store_ids
from customers import phone_search
from customers.desk_forms import CustomerCreateForm, DeliveryForm, VehicleCreateForm
from customers.selectors import customer_get_for_user, customer_queryset_for_user
from customers.services import (
    DeliveryConsent,
    LikelyDuplicate,
    VinTaken,
    customer_create,
    delivery_record,
    vehicle_create,
)

SEARCH_LIMIT = 10


def _add_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def _vin_taken_message(request: HttpRequest, error: VinTaken) -> dict:
    """The existing vehicle's card when the user may see it, else only that it exists."""
    owner_id = getattr(error.vehicle, "customer_id", None)
    visible = customer_queryset_for_user(request.user).filter(pk=owner_id).first() if owner_id else None
    return {"vin_taken": True, "vin_taken_customer": visible}


def _show_duplicates(request: HttpRequest, duplicates) -> list:
    phone_reveal_record(user=request.user, object_ids=[card.pk for card in duplicates if card.mobile],
                        path=request.path)  # fmt: skip
    return duplicates


@login_required
@permission_required("customers.add_customer", raise_exception=True)
@require_http_methods(["GET", "POST"])
def customer_create_view(request: HttpRequest) -> HttpResponse:
    form = CustomerCreateForm(request.POST or None, user=request.user)
    duplicates = []
    if request.method == "POST" and form.is_valid():
        try:
            customer = customer_create(
                user=request.user, store=form.cleaned_data["store"], data=form.card_data(),
                duplicates_confirmed=form.cleaned_data["duplicates_confirmed"],
            )  # fmt: skip
        except LikelyDuplicate as error:
            duplicates = _show_duplicates(request, error.customers)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(
                request, _("The card %(number)s was created. It is provisional until the DMS import adopts it.")
                % {"number": customer.customer_no},
            )  # fmt: skip
            return redirect("customers:detail", customer.pk)
    status = 400 if form.is_bound and (form.errors or duplicates) else 200
    return render(request, "customers/customer_create.html", {"form": form, "duplicates": duplicates}, status=status)


@login_required
@permission_required("customers.add_vehicle", raise_exception=True)
@require_http_methods(["GET", "POST"])
def vehicle_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    customer = customer_get_for_user(user=request.user, pk=pk)
    form = VehicleCreateForm(request.POST or None)
    context = {"customer": customer, "form": form}
    if request.method == "POST" and form.is_valid():
        data = form.vehicle_data()
        try:
            vehicle_create(user=request.user, customer=customer, data=data)
        except VinTaken as error:
            form.add_error("vin", str(error))
            context.update(_vin_taken_message(request, error))
        except ValidationError as error:
            _add_errors(form, error)
        except PermissionDenied:
            raise
        else:
            messages.success(request, _("The vehicle %(vin)s was added.") % {"vin": data["vin"]})
            return redirect("customers:detail", customer.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "customers/vehicle_create.html", context, status=status)


def _search(request: HttpRequest, text: str) -> tuple[list, str]:
    """Cards matching a desk's search (name, pinyin, plate, VIN, number; a phone as the search box
    allows, audited), at most SEARCH_LIMIT."""
    if not text:
        return [], ""
    found = phone_search.customer_search(user=request.user, search=text, path=request.path)
    cards = list(found.customers.select_related("store")[:SEARCH_LIMIT])
    phone_reveal_record(user=request.user, object_ids=[card.pk for card in cards if card.mobile], path=request.path)
    return cards, found.message


def _picked(request: HttpRequest, name: str):
    value = request.POST.get(name) or request.GET.get(name)
    if not value:
        return None
    return customer_get_for_user(user=request.user, pk=value)


def _store_staff(user) -> tuple[QuerySet, QuerySet]:
    from crm.choices import Role

    stores = visible_store_ids(user)
    staff = User.objects.filter(is_active=True)
    if stores is not None:
        staff = staff.filter(stores__in=stores)
    staff = staff.distinct().order_by("last_name", "first_name", "username")
    consultants = staff.filter(groups__name__in=[Role.SALES_CONSULTANT, Role.MANAGER]).distinct()
    return consultants, staff


@login_required
@permission_required("customers.add_delivery", raise_exception=True)
@require_http_methods(["GET", "POST"])
def delivery_record_view(request: HttpRequest) -> HttpResponse:
    """The sales desk's delivery: find the buyer (or enter a new one), the car, how the buyer came,
    the referrer, consent; saved in one go."""
    user = request.user
    buyer = _picked(request, "customer")
    referrer = _picked(request, "referrer_customer")
    buyer_search, buyer_message = _search(request, (request.GET.get("q") or "").strip()[:100])
    referrer_search, referrer_message = _search(request, (request.GET.get("rq") or "").strip()[:100])
    consultants, staff = _store_staff(user)
    data = request.POST or None
    form = DeliveryForm(data, consultants=consultants, staff=staff,
                        initial={"consultant": user.pk if consultants.filter(pk=user.pk).exists() else None,
                                 "customer": buyer.pk if buyer else None,
                                 "referrer_customer": referrer.pk if referrer else None})  # fmt: skip
    customer_form = None if buyer else CustomerCreateForm(data, user=user, prefix="customer")
    vehicle_form = VehicleCreateForm(data, delivery=True, prefix="vehicle")
    context = {
        "form": form, "customer_form": customer_form, "vehicle_form": vehicle_form, "buyer": buyer,
        "referrer": referrer, "buyer_search": buyer_search, "referrer_search": referrer_search,
        "buyer_message": buyer_message, "referrer_message": referrer_message,
        "q": request.GET.get("q", ""), "rq": request.GET.get("rq", ""), "duplicates": [],
    }  # fmt: skip
    if request.method == "POST":
        forms_valid = [form.is_valid(), vehicle_form.is_valid(), customer_form.is_valid() if customer_form else True]
        if all(forms_valid):
            cleaned = form.cleaned_data
            store = buyer.store if buyer else customer_form.cleaned_data["store"]
            note = cleaned["consent_note"]
            consents = {
                name: None if not cleaned[name] else DeliveryConsent(is_granted=cleaned[name] == "yes", note=note)
                for name in ("service_consent", "marketing_consent")
            }
            try:
                delivery = delivery_record(
                    user=user, store=store, vehicle_data=vehicle_form.vehicle_data(),
                    consultant=cleaned["consultant"], source=cleaned["source"], customer=buyer,
                    customer_data=customer_form.card_data() if customer_form else None,
                    duplicates_confirmed=bool(customer_form and customer_form.cleaned_data["duplicates_confirmed"]),
                    referrer_customer=referrer, referrer_staff=cleaned["referrer_staff"],
                    service_consent=consents["service_consent"], marketing_consent=consents["marketing_consent"],
                )  # fmt: skip
            except LikelyDuplicate as error:
                context["duplicates"] = _show_duplicates(request, error.customers)
            except VinTaken as error:
                vehicle_form.add_error("vin", str(error))
                context.update(_vin_taken_message(request, error))
            except ValidationError as error:
                target = vehicle_form
                fields = set(getattr(error, "error_dict", {}))
                if fields & {"consultant", "referrer_customer", "referrer_staff", "source"}:
                    target = form
                elif customer_form and fields & set(customer_form.fields):
                    target = customer_form
                _add_errors(target, error)
            except PermissionDenied as error:
                form.add_error(None, str(error) or _("You may not record this delivery."))
            else:
                messages.success(
                    request, _("Delivery recorded: %(name)s, %(vin)s. Welcome the customer to the club.")
                    % {"name": delivery.customer.name, "vin": delivery.vehicle.vin},
                )  # fmt: skip
                # The handover goes on with the buyer's delivery interview (docs/desk.md).
                if request.user.has_perm("customers.add_deliveryinterview"):
                    return redirect("customers:delivery-interview", delivery.vehicle_id)
                return redirect("customers:detail", delivery.customer_id)
        return render(request, "customers/delivery_record.html", context, status=400)
    return render(request, "customers/delivery_record.html", context)
