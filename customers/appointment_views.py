"""Pages of service appointments (预约): booking at the desk from the card, the card's panel, the
advisors' arrivals board (check-in in one tap, walk-ins), the store's booking grid and the bookings
per day against capacity."""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.exceptions import ApplicationError
from crm.row_urls import pk_url
from customers.appointment_forms import (
    AppointmentBookForm,
    AppointmentSettingsForm,
    BoardFilterForm,
    BookingsReportForm,
    StoreChoiceForm,
    WalkInForm,
)
from customers.card import CardPanel
from customers.choices import AppointmentPurpose, AppointmentStatus
from customers.membership import membership_badge
from customers.selectors import customer_get_for_user
from customers.selectors.appointments import (
    appointment_day_slots,
    appointment_get_for_user,
    appointment_settings_for,
    arrivals_board,
    bookings_per_day,
    customer_appointments,
    desk_booking_source,
)
from customers.services.appointments import (
    appointment_book,
    appointment_cancel,
    appointment_check_in,
    appointment_settings_update,
    walk_in_record,
)

BOARD_PAGE_SIZE = 100


def _board_rows(appointments) -> dict:
    """What the board's rows show beyond the appointments' fields, worked out once for all rows:
    their links, their purpose and status in words (each ``get_FOO_display`` rebuilt its choices),
    and the cells' data-labels (translated once, not 7 times a row)."""
    appointments = list(appointments)
    detail_url, check_in_url = pk_url("customers:detail"), pk_url("customers:arrival_check_in")
    purposes, statuses = dict(AppointmentPurpose.choices), dict(AppointmentStatus.choices)
    for appointment in appointments:
        appointment.detail_url = detail_url(appointment.customer_id)
        appointment.check_in_url = check_in_url(appointment.pk)
        appointment.purpose_label = str(purposes.get(appointment.purpose, appointment.purpose))
        appointment.status_label = str(statuses.get(appointment.status, appointment.status))
    labels = {
        "slot": _("Slot"), "customer": _("Customer"), "vehicle": _("Vehicle"), "purpose": _("Purpose"),
        "advisor": _("Service advisor"), "status": _("Status"), "check_in": _("Check-in"),
        "green_channel": _("Green channel"), "walk_in": _("Walk-in"), "check_in_button": _("Check in"),
    }  # fmt: skip
    return {"rows": appointments, "row_labels": labels}


def appointments_panel(*, user, customer) -> CardPanel | None:
    """The card's bookings (a no-show shows here) and the way to book one."""
    if not user.has_perm("customers.view_appointment"):
        return None
    context = {
        "appointments": customer_appointments(customer=customer),
        "can_book": user.has_perm("customers.add_appointment"),
        "can_cancel": user.has_perm("customers.change_appointment"),
    }
    return CardPanel(template="customers/partials/appointments_panel.html", context=context, order=20, position="side")


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


@login_required
@permission_required("customers.add_appointment", raise_exception=True)
@require_http_methods(["GET", "POST"])
def appointment_book_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Book at the desk: choose the vehicle and the day, see the day's slots with their free places."""
    customer = customer_get_for_user(user=request.user, pk=pk)
    form = AppointmentBookForm(request.POST or None, customer=customer)
    day = None
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            source, reference = desk_booking_source(vehicle=data["vehicle"], today=timezone.localdate())
            try:
                appointment = appointment_book(
                    user=request.user,
                    customer=customer,
                    vehicle=data["vehicle"],
                    date=data["date"],
                    slot=data["slot"],
                    purpose=data["purpose"],
                    advisor=data["advisor"],
                    source=source,
                    source_reference=reference,
                    notes=data["notes"],
                )
            except ApplicationError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    _("Booked for %(day)s %(slot)s.")
                    % {"day": appointment.date.isoformat(), "slot": f"{appointment.slot:%H:%M}"},
                )
                return redirect("customers:detail", customer.pk)
        day = form.cleaned_data.get("date") if hasattr(form, "cleaned_data") else None
    else:
        day_text = request.GET.get("date", "")
        try:
            day = datetime.date.fromisoformat(day_text) if day_text else None
        except ValueError:
            messages.error(request, _("Enter a valid date."))
        form.initial["date"] = day
    is_vip = membership_badge(customer).is_vip
    working, slots = appointment_day_slots(store=customer.store, day=day) if day else (True, [])
    context = {
        "customer": customer,
        "form": form,
        "day": day,
        "is_working_day": working,
        "slots": [(slot, slot.bookable(is_vip=is_vip)) for slot in slots],
        "is_vip": is_vip,
        "chosen_slot": request.POST.get("slot", ""),
    }
    return render(request, "customers/appointment_book.html", context, status=400 if form.errors else 200)


@login_required
@permission_required("customers.change_appointment", raise_exception=True)
@require_POST
def appointment_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, pk=pk)
    try:
        appointment_cancel(user=request.user, appointment=appointment, reason=request.POST.get("reason", ""))
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The appointment was cancelled."))
    return redirect(_next_url(request, reverse("customers:detail", args=[appointment.customer_id])))


def _board_context(request: HttpRequest) -> dict:
    filters = BoardFilterForm(request.GET or None, user=request.user)
    store, day, advisor, search = filters.values()
    # One store's day: as many rows as it has places and walk-ins, read at once (no count of their own).
    rows = (
        list(arrivals_board(user=request.user, store=store, day=day, advisor=advisor, search=search)) if store else []
    )
    page = Paginator(rows, BOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    board_rows = _board_rows(page.object_list)
    page.object_list = board_rows["rows"]
    settings = appointment_settings_for(store=store) if store else None
    return {
        "row_labels": board_rows["row_labels"],
        "filters": filters,
        "store": store,
        "day": day,
        "page": page,
        "capacity": settings.capacity if settings else 0,
        "walk_in_form": WalkInForm(user=request.user, store=store, advisors=filters.advisors) if store else None,
        "can_check_in": request.user.has_perm("customers.check_in_appointment"),
        "several_stores": len(filters.stores) > 1,
    }


@login_required
@permission_required("customers.view_appointment", raise_exception=True)
@require_GET
def arrivals_view(request: HttpRequest) -> HttpResponse:
    """The advisors' arrivals board: the day's bookings of a store by slot, VIPs first in a slot."""
    return render(request, "customers/arrivals.html", _board_context(request))


@login_required
@permission_required("customers.check_in_appointment", raise_exception=True)
@require_POST
def arrival_check_in_view(request: HttpRequest, pk: int) -> HttpResponse:
    """One tap: the customer is here. With htmx only the row changes; without JS the board reloads."""
    appointment = appointment_get_for_user(user=request.user, pk=pk)
    error = ""
    try:
        appointment = appointment_check_in(user=request.user, appointment=appointment)
    except ApplicationError as refused:
        error = refused.message
    if request.htmx:
        board_rows = _board_rows([appointment_get_for_user(user=request.user, pk=pk)])
        context = {"appointment": board_rows["rows"][0], "row_labels": board_rows["row_labels"]}
        context.update(can_check_in=True, row_error=error)
        return render(request, "customers/partials/arrival_row.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("%(name)s checked in.") % {"name": appointment.customer.name})
    default = f"{reverse('customers:arrivals')}?store={appointment.store_id}&date={appointment.date.isoformat()}"
    return redirect(_next_url(request, default))


@login_required
@permission_required("customers.check_in_appointment", raise_exception=True)
@require_POST
def walk_in_view(request: HttpRequest) -> HttpResponse:
    """A walk-in added from the board: arrived now, taking no booking place."""
    filters = BoardFilterForm(request.POST, user=request.user)
    store = filters.store
    if store is None or str(store.pk) != str(request.POST.get("store", store.pk)):
        raise Http404  # a store outside the user's: never record the walk-in in another one
    form = WalkInForm(request.POST, user=request.user, store=store)
    if form.is_valid():
        try:
            walk_in_record(user=request.user, customer=form.customer, vehicle=form.vehicle,
                           purpose=form.cleaned_data["purpose"], advisor=form.cleaned_data["advisor"])  # fmt: skip
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Walk-in of %(name)s recorded.") % {"name": form.customer.name})
    else:
        messages.error(request, " ".join(message for errors in form.errors.values() for message in errors))
    return redirect(f"{reverse('customers:arrivals')}?store={store.pk}")


@login_required
@permission_required("customers.change_appointmentsettings", raise_exception=True)
@require_http_methods(["GET", "POST"])
def appointment_settings_view(request: HttpRequest) -> HttpResponse:
    """A manager sets the store's slots and places per slot."""
    chooser = StoreChoiceForm(request.GET or request.POST or None, user=request.user)
    if chooser.is_bound and chooser.data.get("store") and not chooser.is_valid():
        raise Http404  # a store outside the user's: never fall back to another one for a write
    store = chooser.chosen_store()
    if store is None:
        raise PermissionDenied
    current = appointment_settings_for(store=store)
    form = AppointmentSettingsForm(request.POST or None, instance=AppointmentSettingsForm.Meta.model(
        store=store, slot_minutes=current.slot_minutes, opens_at=current.opens_at, closes_at=current.closes_at,
        capacity=current.capacity))  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            appointment_settings_update(user=request.user, store=store,
                                        **{name: form.cleaned_data[name] for name in form.Meta.fields})  # fmt: skip
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The booking slots were saved."))
            return redirect(f"{reverse('customers:appointment_settings')}?store={store.pk}")
    context = {"chooser": chooser, "store": store, "form": form, "slot_starts": current.slot_starts()}
    return render(request, "customers/appointment_settings.html", context, status=400 if form.errors else 200)


@login_required
@permission_required("customers.view_appointment_report", raise_exception=True)
@require_GET
def appointment_report_view(request: HttpRequest) -> HttpResponse:
    """Bookings per day against the store's capacity (a bar chart and its table)."""
    form = BookingsReportForm(request.GET or None, user=request.user)
    store = form.chosen_store()
    first_day, last_day = form.period()
    if not form.is_bound:  # the date pickers show the period the page reports on
        form.initial.update({"first_day": first_day, "last_day": last_day})
    rows = bookings_per_day(store=store, first_day=first_day, last_day=last_day) if store else []
    chart = {
        "days": [row.day.strftime("%m-%d") for row in rows],
        "booked": [row.booked for row in rows],
        "capacity": [row.capacity for row in rows],
        "labels": {"booked": _("Bookings"), "capacity": _("Capacity")},
    }
    context = {"form": form, "store": store, "rows": rows, "chart": chart, "first_day": first_day, "last_day": last_day}
    return render(request, "customers/appointment_report.html", context)
