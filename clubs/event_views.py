"""The club events' pages (车友会活动): the list, planning and editing an event (managers), the
event's page with its list by status (invite or register a customer found by name, mobile or
plate; cancel), the door's check-in page (find by the mobile's last four digits, a plate or a
name; one tap) and the report. Each write parses a form, calls one service and shows its refusal."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clubs import selectors, services
from clubs.choices import RegistrationStatus
from clubs.event_forms import CheckInForm, EventFilterForm, EventForm, RegistrationForm
from crm.exceptions import ApplicationError
from crm.masking import mask_phone
from crm.scoping import stores_for_user
from customers.phone_search import customer_search
from customers.selectors import customer_get_for_user

PAGE_SIZE = 25
SEARCH_LIMIT = 20
EVENT_FORM_FIELDS = (
    "title", "kind", "starts_at", "ends_at", "place", "capacity", "points_for_attending", "segment",
    "invitation_template",
)  # fmt: skip


@login_required
@permission_required("clubs.view_clubevent", raise_exception=True)
@require_GET
def event_list(request: HttpRequest) -> HttpResponse:
    stores = list(stores_for_user(request.user).order_by("code"))
    form = EventFilterForm(request.GET, stores=stores)
    filters = form.filters()
    queryset = selectors.event_list_for_user(user=request.user, **filters)
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "when": filters["when"],
        "several_stores": len(stores) > 1,
        "query_string": query.urlencode(),
        "can_add": request.user.has_perm("clubs.add_clubevent"),
    }
    return render(request, "clubs/events/event_list.html", context)


@login_required
@permission_required("clubs.add_clubevent", raise_exception=True)
@require_http_methods(["GET", "POST"])
def event_create(request: HttpRequest) -> HttpResponse:
    form = EventForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            event = services.event_create(
                user=request.user, store=data["store"], **{name: data[name] for name in EVENT_FORM_FIELDS}
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The event %(title)s is planned.") % {"title": event.title})
            return redirect("clubs:event_detail", pk=event.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "clubs/events/event_form.html", {"form": form, "event": None}, status=status)


@login_required
@permission_required("clubs.change_clubevent", raise_exception=True)
@require_http_methods(["GET", "POST"])
def event_edit(request: HttpRequest, pk: int) -> HttpResponse:
    event = selectors.event_get_for_user(user=request.user, pk=pk)
    initial = {name: getattr(event, name) for name in EVENT_FORM_FIELDS}
    initial["starts_at"] = timezone.localtime(event.starts_at)
    initial["ends_at"] = timezone.localtime(event.ends_at)
    form = EventForm(request.POST or None, user=request.user, event=event, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            event = services.event_update(
                user=request.user, event=event, **{name: form.cleaned_data[name] for name in EVENT_FORM_FIELDS}
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The event %(title)s is saved.") % {"title": event.title})
            return redirect("clubs:event_detail", pk=event.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "clubs/events/event_form.html", {"form": form, "event": event}, status=status)


def _search_results(request: HttpRequest, event, search: str) -> tuple[list, str]:
    """The customers of the event's store matching ``search`` (the customers' search: name, plate,
    customer number, a whole mobile, a name with the last four digits), with their place on the list."""
    if not search:
        return [], ""
    found = customer_search(user=request.user, search=search, path=request.path)
    if found.message:
        return [], found.message
    ids = list(found.customers.filter(store_id=event.store_id).values_list("pk", flat=True)[:SEARCH_LIMIT])
    return selectors.door_find(user=request.user, event=event, search=search, customer_ids=ids), ""


def _detail_context(request: HttpRequest, event, *, form=None) -> dict:
    user = request.user
    status = request.GET.get("status", "")
    if status not in RegistrationStatus.values:
        status = ""
    search = " ".join(request.GET.get("q", "").split())[:100]
    results, search_message = _search_results(request, event, search)
    page = Paginator(selectors.event_registrations(user=user, event=event, status=status), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    counts = selectors.event_status_counts(event=event)
    return {
        "event": event,
        "counts": counts,
        "statuses": [(value, label, counts[value]) for value, label in RegistrationStatus.choices],
        "places_taken": counts["registered"] + counts["attended"],
        "status": status,
        "page": page,
        "rows": [(registration, mask_phone(registration.customer.mobile)) for registration in page.object_list],
        "search": search,
        "results": [(row, mask_phone(row.customer.mobile)) for row in results],
        "search_message": search_message,
        "form": form,
        "is_open": timezone.now() < event.starts_at,
        "is_over": timezone.now() >= event.ends_at,
        "can_register": user.has_perm("clubs.add_eventregistration"),
        "can_edit": user.has_perm("clubs.change_clubevent"),
        "can_check_in": user.has_perm("clubs.check_in_event"),
        "can_report": user.has_perm("clubs.view_event_report"),
    }


@login_required
@permission_required("clubs.view_clubevent", raise_exception=True)
@require_GET
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    event = selectors.event_get_for_user(user=request.user, pk=pk)
    return render(request, "clubs/events/event_detail.html", _detail_context(request, event))


@login_required
@permission_required("clubs.add_eventregistration", raise_exception=True)
@require_POST
def event_registration_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Invite or register a customer found by the search (by phone or at the desk)."""
    event = selectors.event_get_for_user(user=request.user, pk=pk)
    form = RegistrationForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        customer = customer_get_for_user(user=request.user, pk=data["customer"])
        try:
            if data["action"] == "invite":
                registration = services.event_invite(user=request.user, event=event, customer=customer)
            else:
                registration = services.event_register(
                    user=request.user, event=event, customer=customer, source=data["source"]
                )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                _("%(name)s: %(status)s.") % {"name": customer.name, "status": registration.get_status_display()},
            )
            return redirect("clubs:event_detail", pk=event.pk)
    return render(request, "clubs/events/event_detail.html", _detail_context(request, event, form=form), status=400)


@login_required
@permission_required("clubs.add_eventregistration", raise_exception=True)
@require_POST
def event_registration_cancel(request: HttpRequest, pk: int, registration_pk: int) -> HttpResponse:
    event = selectors.event_get_for_user(user=request.user, pk=pk)
    registration = selectors.event_registration_get_for_user(user=request.user, event=event, pk=registration_pk)
    try:
        services.event_cancel(user=request.user, registration=registration)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("%(name)s: cancelled.") % {"name": registration.customer.name})
    return redirect("clubs:event_detail", pk=event.pk)


def _door_context(request: HttpRequest, event) -> dict:
    search = " ".join(request.GET.get("q", "").split())[:100]
    message = ""
    if search.isdigit() and len(search) == 4:
        # The last four digits, among the people on the event's list only: what the masked number
        # shows anyway, so no reveal and no quota; walk-ins are found by plate, name or "name 1234".
        rows = selectors.door_find(user=request.user, event=event, search=search)
    else:
        rows, message = _search_results(request, event, search)
    counts = selectors.event_status_counts(event=event)
    return {
        "event": event,
        "search": search,
        "rows": [(row, mask_phone(row.customer.mobile)) for row in rows],
        "message": message,
        "attended": counts["attended"],
        "expected": counts["registered"] + counts["waiting"] + counts["invited"],
    }


@login_required
@permission_required("clubs.check_in_event", raise_exception=True)
@require_GET
def event_door(request: HttpRequest, pk: int) -> HttpResponse:
    event = selectors.event_get_for_user(user=request.user, pk=pk)
    return render(request, "clubs/events/door.html", _door_context(request, event))


@login_required
@permission_required("clubs.check_in_event", raise_exception=True)
@require_POST
def event_check_in(request: HttpRequest, pk: int) -> HttpResponse:
    """One tap: check the customer in; back to the door's search (empty, for the next person)."""
    event = selectors.event_get_for_user(user=request.user, pk=pk)
    form = CheckInForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a customer."))
        return redirect("clubs:event_door", pk=event.pk)
    customer = customer_get_for_user(user=request.user, pk=form.cleaned_data["customer"])
    try:
        registration = services.event_check_in(user=request.user, event=event, customer=customer)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        if registration.points_entry_id:
            text = _("%(name)s checked in: %(points)s points.") % {
                "name": customer.name, "points": event.points_for_attending,
            }  # fmt: skip
        else:
            text = _("%(name)s checked in.") % {"name": customer.name}
        messages.success(request, text)
    return redirect("clubs:event_door", pk=event.pk)


@login_required
@permission_required("clubs.view_event_report", raise_exception=True)
@require_GET
def event_report(request: HttpRequest, pk: int) -> HttpResponse:
    event = selectors.event_get_for_user(user=request.user, pk=pk)
    context = {
        "event": event,
        "report": selectors.event_report(event=event),
        "attendees": selectors.event_attendee_rows(user=request.user, event=event),
    }
    return render(request, "clubs/events/report.html", context)
