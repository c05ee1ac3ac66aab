import copy
import datetime
import functools
import hmac
import json
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from crm.audit import audit_log_record
from crm.choices import AuditAction
from crm.compiled_reads import compiled_read
from crm.exceptions import ApplicationError
from crm.masking import phone_for_user, phone_reveal_record
from crm.models import Store
from crm.row_urls import pk_url
from crm.scoping import user_active_stores
from crm.selectors import working_calendar
from customers.card import customer_alerts
from customers.exports import ExportNeedsApproval
from customers.forms import ExportRequestForm
from customers.membership import membership_badge
from customers.selectors import card_vehicles, customer_get_for_user
from customers.selectors.appointments import appointment_day_slots, store_advisors
from customers.views import approved_export_download, export_approval_page, export_request_form_errors
from followups import exports, queue_preview, selectors, services
from followups.choices import CallOutcome, RuleCode
from followups.defaults import SMS_OPT_OUT_TEXT
from followups.forms import CallBookingForm, OutcomeForm, RuleForm
from followups.questionnaire_scores import questionnaire_factor_scores
from followups.questionnaires import panel_questions

PAGE_SIZE = 25
CALL_PERMISSIONS = ("followups.work_call_queue", "followups.work_own_tasks")


def works_calls(view):
    """The call page's views: for the call centre's agents (the queue) and for the staff who work
    the tasks assigned to them (My tasks); anyone else gets 403."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not any(request.user.has_perm(permission) for permission in CALL_PERMISSIONS):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _calls_home(user) -> str:
    """Where a call page leads back to: the queue for its agents, else My tasks."""
    return "followups:queue" if user.has_perm("followups.work_call_queue") else "followups:mine"


class TelRedirect(HttpResponseRedirect):
    allowed_schemes = ["tel"]


def _complaint_url(task, result_reference: str = "") -> str:
    """The complaint form from a call: the customer, vehicle, rule (its department) and the call's
    dissatisfied result, whose answers and notes become the statement (or, when the closed loop has
    already opened the complaint, that complaint)."""
    try:
        base = reverse("complaints:create")
    except NoReverseMatch:
        return ""
    query = {"customer": task.customer_id, "channel": "satisfaction_callback", "followup_task": task.pk}
    if task.vehicle_id:
        query["vehicle"] = task.vehicle_id
    query["rule"] = task.code
    if result_reference:
        query["result"] = result_reference
    return f"{base}?{urlencode(query)}"


def _booking_day(booking_form: CallBookingForm) -> tuple[datetime.date, object]:
    """The day whose slots the booking part shows: the one posted, else the next working day; with
    the working calendar read to find it (None for a posted day), which then tells whether that day
    is a working one without reading it again."""
    chosen = booking_form.data.get("booking-date") if booking_form.is_bound else booking_form.initial.get("date")
    if isinstance(chosen, datetime.date):
        return chosen, None
    try:
        return datetime.date.fromisoformat(chosen or ""), None
    except ValueError:
        pass
    today = timezone.localdate()
    tomorrow = today + datetime.timedelta(days=1)
    last_day = tomorrow + datetime.timedelta(days=40)
    calendar = working_calendar(first_day=tomorrow, last_day=last_day)
    day = calendar.next_working_day(tomorrow)
    return day, (calendar if day <= last_day else None)


def _store_advisors(*, store_id: int):
    """The advisors a booking from a call may name (``store_advisors``), with what their labels show."""
    return store_advisors(store=Store(pk=store_id)).only("pk", "username", "first_name", "last_name")


def _booking_context(
    request: HttpRequest, customer, tasks: list, booking_form: CallBookingForm | None, *, badge, vehicles: list
) -> dict:
    """The call page's booking part (outcome "booked"): the form and the chosen day's slots with
    their free places (a VIP may take the green-channel place of a full slot). ``vehicles``: the
    customer's vehicles, read once for the page (the form's choices show them; the posted choice is
    still checked against the customer's vehicles in the database)."""
    if not request.user.has_perm("customers.add_appointment"):
        return {"booking_form": None}
    booking_form = booking_form or CallBookingForm(customer=customer, tasks=tasks)
    vehicle_field = booking_form.fields["vehicle"]
    vehicle_field.choices = [(vehicle.pk, vehicle_field.label_from_instance(vehicle)) for vehicle in vehicles]
    # The store's advisors read once, by a plain statement compiled once with only what their labels
    # show (the field read its queryset through a server-side cursor, DECLARE then FETCH, at every
    # rendering); what is posted is still checked against the field's queryset.
    advisor_field = booking_form.fields["advisor"]
    advisor_field.show(compiled_read(("advisors",), _store_advisors, store_id=customer.store_id))
    day, calendar = _booking_day(booking_form)
    if not booking_form.is_bound:
        booking_form.initial["date"] = day
    is_vip = badge.is_vip
    working, slots = appointment_day_slots(store=customer.store, day=day, calendar=calendar)
    return {
        "booking_has_vehicles": bool(vehicles),
        "booking_form": booking_form,
        "booking_day": day,
        "booking_is_working_day": working,
        "booking_slots": [(slot, slot.bookable(is_vip=is_vip)) for slot in slots],
        "booking_chosen_slot": (
            booking_form.data.get("booking-slot", "") if booking_form.is_bound else booking_form.initial.get("slot", "")
        ),
        "booking_is_vip": is_vip,
    }


def _call_context(
    request: HttpRequest,
    tasks: list,
    *,
    form: OutcomeForm | None = None,
    saved=None,
    booking_form: CallBookingForm | None = None,
) -> dict:
    is_assigned = bool(tasks and tasks[0].assignee_id) or bool(saved and saved.get("is_assigned"))
    context = {"tasks": tasks, "form": form or OutcomeForm(), "saved": saved, "is_assigned": is_assigned}
    if tasks:
        customer = tasks[0].customer
        posted = request.POST if request.method == "POST" and not saved else {}
        badge = membership_badge(customer)
        vehicles = card_vehicles(customer=customer)  # once: the facts and the booking's choices
        context.update(_booking_context(request, customer, tasks, booking_form, badge=badge, vehicles=vehicles))
        context.update(
            customer=customer,
            badge=badge,
            alerts=customer_alerts(user=request.user, customer=customer),
            masked_phone=phone_for_user(request.user, customer.mobile or customer.landline),
            vehicles=vehicles[:5],
            history=selectors.call_panel_history(customer_id=customer.pk, limit=5),
            items=[
                {
                    "task": task,
                    "script": selectors.call_script(task),
                    # Each typed question with the answer given when the page comes back after a refusal.
                    "questions": panel_questions(task.rule.questionnaire, posted, task.pk),
                }
                for task in tasks
            ],
        )
    return context


def _call_panel(
    request: HttpRequest, tasks: list, *, status: int = 200, extra: dict | None = None, **kwargs
) -> HttpResponse:
    template = "followups/_call_panel.html" if request.htmx else "followups/call.html"
    context = _call_context(request, tasks, **kwargs)
    customer = context.get("customer")
    if customer is not None and (customer.mobile or customer.landline):
        # A manager's call page shows the whole number: audited like every other page that does.
        phone_reveal_record(user=request.user, object_ids=[customer.pk], path=request.path)
    return render(request, template, {**context, **(extra or {})}, status=status)


class _QueuePaginator(Paginator):
    """Pages of the queue list, whose rows carry the number of rows of the whole list (``total``:
    the figures' count, or ``COUNT(*) OVER ()`` of a searched list), not a second statement for a
    ``COUNT``. ``page_rows(number)`` reads a page's rows (selectors.queue_page); past the end, the
    last page is read from ``all_rows()``, the list's queryset, as Paginator.get_page does."""

    def __init__(self, per_page, *, page_rows, all_rows):
        super().__init__([], per_page)
        self.page_rows = page_rows
        self.all_rows = all_rows

    def get_page(self, number) -> Page:
        try:
            number = max(1, int(number))
        except (TypeError, ValueError):
            number = 1
        rows = self.page_rows(number)
        if not rows and number > 1:  # past the end: the last page, as Paginator.get_page does
            self.object_list = self.all_rows()
            return super().get_page(number)
        self.__dict__["count"] = rows[0]["total"] if rows else 0
        return self._get_page(rows, number, self)


def _queue_context(request: HttpRequest, query: QueryDict, *, stores=None) -> dict:
    """The queue page's figures and list for its query (``q``, ``page``); ``stores``: the user's
    stores when already read (``_user_stores``)."""
    now = timezone.now()
    today = timezone.localdate(now)
    search = query.get("q", "").strip()[:100]
    stores = list(user_active_stores(request.user) if stores is None else stores)
    summary = selectors.queue_summary(user=request.user, today=today, now=now)

    def page_rows(number: int) -> list[dict]:
        return selectors.queue_page(user=request.user, now=now, stores=stores, search=search, number=number,
                                    per_page=PAGE_SIZE, rows_in_all=summary["rows"])  # fmt: skip

    def all_rows():
        return selectors.queue_for_user(user=request.user, today=today, now=now, search=search, stores=stores)

    paginator = _QueuePaginator(PAGE_SIZE, page_rows=page_rows, all_rows=all_rows)
    page = paginator.get_page(query.get("page"))
    page.object_list = selectors.queue_rows_complete(
        user=request.user, rows=list(page.object_list), stores=stores, now=now
    )
    # Each row's card address: the URL reversed once for the page, not once per row in the template.
    card_url = pk_url("customers:detail")
    for row in page.object_list:
        row["card_url"] = card_url(row["customer_id"])
    return {
        "page": page,
        "search": search,
        "summary": summary,
        "today": today,
    }


@login_required
@permission_required("followups.work_call_queue", raise_exception=True)
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """The queue page; asked by its figures (``queue-changed`` from a panel not sent from the queue
    page), only the figures and, out of band, the list (same search and page)."""
    context = {**_queue_context(request, request.GET), "queue_url": request.get_full_path()}
    if request.htmx and request.htmx.target == "queue-figures":
        return render(request, "followups/_queue_refresh.html", context)
    return render(request, "followups/queue.html", context)


def _user_stores(request: HttpRequest) -> SimpleLazyObject:
    """The user's active stores (``user_active_stores``), read when first used: by the claim of the
    next call (``services.task_claim_next``) and then by the queue page's figures sent with it, once
    for both (a call of My tasks, which claims nothing, from another page does not read them at all)."""
    return SimpleLazyObject(lambda: user_active_stores(request.user))


def _queue_page_figures(request: HttpRequest, stores=None) -> dict | None:
    """The figures and list of the queue page a panel's request was sent from (htmx names the page:
    ``HX-Current-URL``), with that page's search and page number; None for a request from any other
    page (the call page of My tasks, say) or from an agent's page without htmx."""
    current_url = request.htmx.current_url if request.htmx else None
    if not current_url or not request.user.has_perm("followups.work_call_queue"):
        return None
    url = urlsplit(current_url)
    if url.path != reverse("followups:queue"):
        return None
    query = QueryDict(url.query)
    # The list's page links keep the page's own query (crm_tags.query_with reads request.GET).
    page_request = copy.copy(request)
    page_request.GET = query
    return {
        **_queue_context(request, query, stores=stores),
        "request": page_request,
        "queue_url": f"{url.path}?{url.query}" if url.query else url.path,
    }


def _queue_changed_panel(request: HttpRequest, tasks: list, *, stores=None, **kwargs) -> HttpResponse:
    """The call panel after a claim, an outcome or a call put back, which change the queue's figures
    and list. Sent from the queue page, the response carries them too, swapped in out of band
    (templates/followups/_queue_oob.html): one request per "save and next call", not a second one
    for the figures. From another page, ``queue-changed`` tells a queue page listening to refresh
    itself (templates/followups/_queue_figures.html). ``stores``: the user's stores when the view
    has them (``_user_stores``)."""
    queue = _queue_page_figures(request, stores)
    extra = {**kwargs.pop("extra", {}), "queue": queue}
    response = _call_panel(request, tasks, extra=extra, **kwargs)
    return response if queue else trigger_client_event(response, "queue-changed")


@login_required
@permission_required("followups.work_call_queue", raise_exception=True)
@require_POST
def queue_next(request: HttpRequest) -> HttpResponse:
    stores = _user_stores(request)
    tasks = services.task_claim_next(user=request.user, stores=stores)
    if not tasks:
        if request.htmx:
            return _queue_changed_panel(request, [], stores=stores, extra={"nothing": True})
        messages.info(request, _("Nothing is callable now."))
        return redirect("followups:queue")
    if request.htmx:
        return _queue_changed_panel(request, tasks, stores=stores)
    return redirect("followups:call", customer_id=tasks[0].customer_id)


@login_required
@works_calls
@require_GET
def call(request: HttpRequest, customer_id: int) -> HttpResponse:
    # 404 outside the agent's stores and calls
    services.call_customer_for_user(user=request.user, customer_id=customer_id)
    tasks = services.task_current_call(user=request.user, customer_id=customer_id)
    if not tasks:
        messages.info(request, _("This call is no longer assigned to you: take the next one from the queue."))
        return redirect(_calls_home(request.user))
    return _call_panel(request, tasks)


def _questionnaire_answers(data) -> dict[str, dict[str, str]]:
    """``answer-<task id>-<question index>`` fields as {task id: {index: answer}}; a field of any
    other shape (a hand-made request) is ignored."""
    answers: dict[str, dict[str, str]] = {}
    for key, value in data.items():
        parts = key.split("-")
        if len(parts) == 3 and parts[0] == "answer" and parts[1].isdecimal() and parts[2].isdecimal() and value.strip():
            answers.setdefault(parts[1], {})[parts[2]] = value.strip()[:500]
    return answers


def _booked_message(appointment) -> str:
    return _("Visit booked for %(day)s %(slot)s.") % {
        "day": appointment.date.isoformat(),
        "slot": f"{appointment.slot:%H:%M}",
    }


@login_required
@works_calls
@require_POST
def call_outcome(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = services.call_customer_for_user(user=request.user, customer_id=customer_id)
    form = OutcomeForm(request.POST)
    booking_form = None
    tasks = None
    if "show_slots" in request.POST or request.POST.get("outcome") == CallOutcome.BOOKED:
        tasks = services.task_current_call(user=request.user, customer_id=customer_id)
        if not tasks:
            messages.info(request, _("This call is no longer assigned to you: take the next one from the queue."))
            return redirect(_calls_home(request.user))
        booking_form = CallBookingForm(request.POST, customer=customer, tasks=tasks)
    if "show_slots" in request.POST:
        # "Show free slots" (works without JavaScript): the same page with the chosen day's slots,
        # every value kept, nothing recorded.
        kept = {name: request.POST[f"booking-{name}"] for name in CallBookingForm.base_fields
                if request.POST.get(f"booking-{name}")}  # fmt: skip
        booking_form = CallBookingForm(initial=kept, customer=customer, tasks=tasks)
        return _call_panel(request, tasks, form=OutcomeForm(initial=request.POST.dict()), booking_form=booking_form)
    booking = None
    if form.is_valid() and form.cleaned_data["outcome"] == CallOutcome.BOOKED:
        if not request.user.has_perm("customers.add_appointment"):
            raise PermissionDenied
        if booking_form.is_valid():
            data = booking_form.cleaned_data
            booking = services.CallBooking(
                vehicle=data["vehicle"], date=data["date"], slot=data["slot"], purpose=data["purpose"],
                advisor=data["advisor"], notes=data["notes"],
            )  # fmt: skip
        else:
            form.add_error(None, _("Complete the booking: vehicle, day and slot."))
    if not form.is_valid():
        tasks = tasks or services.task_current_call(user=request.user, customer_id=customer_id)
        return _call_panel(request, tasks, form=form, booking_form=booking_form)
    stores = _user_stores(request)
    try:
        recorded = services.call_outcome_record(
            user=request.user,
            customer_id=customer_id,
            outcome=form.cleaned_data["outcome"],
            answers=_questionnaire_answers(request.POST),
            satisfaction=form.cleaned_data["satisfaction"],
            is_dissatisfied=form.cleaned_data["is_dissatisfied"],
            notes=form.cleaned_data["notes"],
            callback_at=form.cleaned_data["callback_at"],
            booking=booking,
            stores=stores,
        )
    except ApplicationError as error:
        form.add_error(None, error.message)
        tasks = services.task_current_call(user=request.user, customer_id=customer_id)
        return _call_panel(request, tasks, form=form, booking_form=booking_form)
    called = recorded.tasks[0]
    saved = {
        "customer": called.customer,
        "outcome": called.get_outcome_display(),
        "complaint_url": _complaint_url(called, recorded.result_reference) if recorded.is_dissatisfied else "",
        "dissatisfied": recorded.is_dissatisfied,
        "is_assigned": recorded.is_assigned,
        "appointment": recorded.appointment,
    }
    next_tasks = recorded.next_tasks
    if request.htmx:
        return _queue_changed_panel(request, next_tasks, stores=stores, saved=saved)
    messages.success(request, _("Outcome saved."))
    if recorded.appointment is not None:
        messages.success(request, _booked_message(recorded.appointment))
    if next_tasks:
        return redirect("followups:call", customer_id=next_tasks[0].customer_id)
    if recorded.is_assigned:
        if saved["complaint_url"]:
            messages.warning(request, _("The customer is dissatisfied: log a complaint from the card."))
        return redirect("followups:mine")
    return redirect("followups:queue")


@login_required
@works_calls
@require_POST
def call_release(request: HttpRequest, customer_id: int) -> HttpResponse:
    current = services.task_current_call(user=request.user, customer_id=customer_id)
    is_assigned = any(task.assignee_id for task in current)
    services.task_release(user=request.user, customer_id=customer_id)
    if request.htmx:
        return _queue_changed_panel(request, [], extra={"released": True, "is_assigned": is_assigned})
    return redirect("followups:mine" if is_assigned else "followups:queue")


@login_required
@works_calls
@require_POST
def call_dial(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Dial the customer: through the CTI hook when FOLLOWUP_CTI_DIALER is set, else a tel: link.
    The full number leaves the server only here, and every dial is audited."""
    customer = services.call_customer_for_user(user=request.user, customer_id=customer_id)
    if not services.task_current_call(user=request.user, customer_id=customer_id):
        raise Http404
    number = customer.mobile or customer.landline
    audit_log_record(
        actor=request.user,
        action=AuditAction.VIEW_UNMASKED_PHONE,
        object_type="customers.customer",
        object_ids=[customer.pk],
        detail={"path": request.path, "purpose": "dial"},
    )
    if settings.FOLLOWUP_CTI_DIALER:
        import_string(settings.FOLLOWUP_CTI_DIALER)(agent=request.user, number=number, customer=customer)
        if request.htmx:
            return HttpResponse(_("Dialling through the telephone system…"))
        return redirect("followups:call", customer_id=customer_id)
    return TelRedirect(f"tel:{number}")


# --- my tasks ---------------------------------------------------------------------------------


@login_required
@permission_required("followups.work_own_tasks", raise_exception=True)
@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    """My tasks: today's calls assigned to the user (a manager: to the staff of the manager's
    stores), one row per customer, with search and pages."""
    today = timezone.localdate()
    search = request.GET.get("q", "").strip()[:100]
    page = Paginator(selectors.my_tasks_for_user(user=request.user, today=today, search=search), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    now = timezone.now()
    now_time = timezone.localtime(now).time()
    stores = {store.pk: store for store in user_active_stores(request.user)}
    labels = dict(RuleCode.choices)
    for row in page.object_list:
        store = stores.get(row["store_id"])
        row["callable"] = bool(store and selectors.call_windows_open(store, now_time)) and (
            row["callback"] is None or row["callback"] <= now
        )
        row["rules"] = [str(labels.get(code, code)) for code in row["codes"]]
        row["assignee_name"] = (
            f"{row['assignee__last_name']}{row['assignee__first_name']}".strip() or row["assignee__username"]
        )
    context = {
        "page": page,
        "search": search,
        "today": today,
        "shows_everyone": request.user.has_perm("followups.view_followup_reports"),
    }
    return render(request, "followups/mine.html", context)


@login_required
@permission_required("followups.work_own_tasks", raise_exception=True)
@require_POST
def mine_open(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Open the call to a customer of My tasks: claim the customer's assigned tasks, then the call
    page (the queue's own page, outcome form and scripts)."""
    customer_get_for_user(user=request.user, pk=customer_id)  # 404 outside the user's stores
    tasks = services.task_claim_assigned(user=request.user, customer_id=customer_id)
    if not tasks:
        messages.error(request, _("This call is not yours to make now: it was done or someone else has it open."))
        return redirect("followups:mine")
    return redirect("followups:call", customer_id=customer_id)


# --- rules, preview, reports ------------------------------------------------------------------


def _parse_date(value: str | None, default: datetime.date) -> tuple[datetime.date, str]:
    if not value:
        return default, ""
    try:
        return datetime.date.fromisoformat(value), ""
    except ValueError:
        return default, _("“%(value)s” is not a date (YYYY-MM-DD); showing %(default)s.") % {
            "value": value[:20],
            "default": default.isoformat(),
        }


@login_required
@permission_required("followups.view_followuprule", raise_exception=True)
@require_GET
def rules(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    queryset = selectors.rules_for_user(user=request.user)
    if search:
        queryset = queryset.filter(code__icontains=search) | queryset.filter(store__name__icontains=search)
    page = Paginator(queryset, 50).get_page(request.GET.get("page"))
    return render(request, "followups/rules.html", {"page": page, "search": search})


@login_required
@permission_required("followups.view_followuprule", raise_exception=True)
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = selectors.rule_get_for_user(user=request.user, pk=pk)
    can_change = request.user.has_perm("followups.change_followuprule")
    form = RuleForm(request.POST or None, instance=rule)
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        if form.is_valid():
            services.followup_rule_update(
                rule=selectors.rule_get_for_user(user=request.user, pk=pk), user=request.user, data=form.cleaned_data
            )
            messages.success(request, _("Rule saved."))
            return redirect("followups:rule_edit", pk=pk)
    history = rule.history.select_related("history_user").order_by("-history_date")[:20]
    context = {
        "rule": rule,
        "form": form,
        "can_change": can_change,
        "history": history,
        "signature": rule.store.sms_signature or rule.store.name,
        "opt_out": SMS_OPT_OUT_TEXT,
    }
    return render(request, "followups/rule_edit.html", context)


def _preview_day(data: QueryDict) -> tuple[datetime.date, str]:
    """The day of the queue preview (``date``, default tomorrow) and the message of a bad one."""
    return _parse_date(data.get("date"), timezone.localdate() + datetime.timedelta(days=1))


@login_required
@permission_required("followups.view_followup_reports", raise_exception=True)
@require_GET
def preview(request: HttpRequest) -> HttpResponse:
    """Tomorrow's queue (or ``?date=``'s): the counts kept in the cache, else the progress of their
    count, which the page polls (``preview_progress``) until they are there."""
    day, error = _preview_day(request.GET)
    shown = queue_preview.queue_preview_show(user=request.user, day=day)
    return render(request, "followups/preview.html", {"preview": shown, "day": day, "error": error})


@login_required
@permission_required("followups.view_followup_reports", raise_exception=True)
@require_GET
def preview_progress(request: HttpRequest) -> HttpResponse:
    """The preview's counts or their progress, polled by the page every second while counting."""
    day, _error = _preview_day(request.GET)
    shown = queue_preview.queue_preview_show(user=request.user, day=day)
    return render(request, "followups/partials/preview_counts.html", {"preview": shown, "day": day})


@login_required
@permission_required("followups.view_followup_reports", raise_exception=True)
@require_POST
def preview_recount(request: HttpRequest) -> HttpResponse:
    """The "count again" button (or "try again" after a failure), then the page with the progress."""
    day, _error = _preview_day(request.POST)
    queue_preview.queue_preview_recount(user=request.user, day=day)
    return redirect(f"{reverse('followups:preview')}?{urlencode({'date': day.isoformat()})}")


@login_required
@permission_required("followups.view_followup_reports", raise_exception=True)
@require_GET
def reports(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    start, start_error = _parse_date(request.GET.get("start"), today.replace(day=1))
    end, end_error = _parse_date(request.GET.get("end"), today)
    error = start_error or end_error
    if end < start:
        start, end, error = end, start, _("The end date was before the start date; they were swapped.")
    figures = selectors.followup_reports(user=request.user, start=start, end=end)
    completion, summary, funnel = figures["completion"], figures["summary"], figures["funnel"]
    chart = {
        "funnel_rules": [row["label"] for row in funnel["by_rule"]],
        "funnel": {step: [row[step] for row in funnel["by_rule"]] for step in ("reached", "booked", "kept", "orders")},
        "funnel_labels": {
            "reached": _("Reached"),
            "booked": _("Booked a visit"),
            "kept": _("Kept the visit"),
            "orders": _("Repair orders within 7 days"),
        },
        "rules": [row["label"] for row in completion["by_rule"]],
        "made": [row["made"] for row in completion["by_rule"]],
        "reached": [row["reached"] for row in completion["by_rule"]],
        "satisfied": [row["satisfied"] for row in completion["by_rule"]],
        "days": [row["at__date"].isoformat() for row in summary["daily"]],
        "daily_made": [row["made"] for row in summary["daily"]],
        "daily_reached": [row["reached"] for row in summary["daily"]],
        "satisfaction": summary["satisfaction"],
        "labels": {"made": _("Calls made"), "reached": _("Reached"), "satisfied": _("Satisfied (4–5)")},
    }
    assigned = selectors.assigned_open_by_person(user=request.user, today=today)
    for row in assigned:
        row["name"] = f"{row['assignee__last_name']}{row['assignee__first_name']}".strip() or row["assignee__username"]
    context = {"start": start, "end": end, "error": error, "completion": completion, "summary": summary,
               "chart": chart, "assigned": assigned, "funnel": funnel,
               "funnel_tables": [
                   {"name": "funnel-by-rule", "title": _("Per rule"), "heading": _("Rule"), "rows": funnel["by_rule"]},
                   {"name": "funnel-by-agent", "title": _("Per agent (who reached the owner)"), "heading": _("Agent"),
                    "rows": funnel["by_agent"]},
               ]}  # fmt: skip
    # The typed questionnaires' scores per satisfaction factor (followups/questionnaire_scores.py).
    context["factor_scores"] = questionnaire_factor_scores(user=request.user, start=start, end=end)
    return render(request, "followups/reports.html", context)


# --- SMS --------------------------------------------------------------------------------------


@login_required
@permission_required("followups.view_smsmessage", raise_exception=True)
@require_GET
def sms_list(request: HttpRequest) -> HttpResponse:
    day, error = _parse_date(request.GET.get("date"), timezone.localdate())
    search = request.GET.get("q", "").strip()[:100]
    tasks = selectors.sms_list_for_day(user=request.user, day=day, search=search)
    if request.GET.get("format") == "csv":
        if not request.user.has_perm("followups.export_sms_list"):
            raise PermissionDenied
        result = exports.sms_list_export(user=request.user, day=day, search=search)
        if isinstance(result, ExportNeedsApproval):
            query = urlencode({"date": day.isoformat(), "q": search})
            return export_approval_page(
                request,
                result,
                action=f"{reverse('followups:sms_export_request')}?{query}",
                cancel_url=f"{reverse('followups:sms')}?{query}",
            )
        return result.response()
    page = Paginator(tasks, 50).get_page(request.GET.get("page"))
    # The page shows each customer's mobile, whole for managers: one audit row for the page.
    phone_reveal_record(
        user=request.user,
        object_ids=[task.customer_id for task in page.object_list if task.customer.mobile],
        path=request.path,
    )
    context = {"page": page, "day": day, "error": error, "search": search}
    return render(request, "followups/sms_list.html", context)


@login_required
@permission_required("followups.export_sms_list", raise_exception=True)
@require_POST
def sms_export_request(request: HttpRequest) -> HttpResponse:
    """Ask a manager to approve the day's SMS list (?date=&q= as the list) holding cards needing it."""
    day, _error = _parse_date(request.GET.get("date"), timezone.localdate())
    search = request.GET.get("q", "").strip()[:100]
    query = urlencode({"date": day.isoformat(), "q": search})
    form = ExportRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, export_request_form_errors(form))
        return redirect(f"{reverse('followups:sms')}?{query}&format=csv")
    try:
        exports.sms_list_export_request(user=request.user, day=day, search=search, reason=form.cleaned_data["reason"])
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(f"{reverse('followups:sms')}?{query}")
    messages.success(request, _("Your export request was sent to the store's managers for approval."))
    return redirect("crm:export_requests")


@login_required
@permission_required("followups.export_sms_list", raise_exception=True)
@require_GET
def export_request_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The requester's one download of an approved SMS list; a second one is refused with a message."""
    return approved_export_download(
        request, pk, kind=exports.SMS_LIST_EXPORT_KIND, download=exports.sms_list_export_download
    )


def _token_ok(request: HttpRequest) -> bool:
    expected = settings.SMS_INBOUND_TOKEN
    given = request.headers.get("X-Sms-Token", "")
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


def _payload(request: HttpRequest) -> dict:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return request.POST.dict()


@csrf_exempt
@require_POST
def sms_inbound(request: HttpRequest) -> JsonResponse:
    """The provider's webhook for replies: {"mobile": "...", "text": "..."} with header X-Sms-Token."""
    if not _token_ok(request):
        return JsonResponse({"error": "forbidden"}, status=403)
    data = _payload(request)
    mobile, text = str(data.get("mobile", "")), str(data.get("text", ""))
    if not mobile or not text:
        return JsonResponse({"error": "mobile and text are required"}, status=400)
    try:
        reply = services.sms_inbound_receive(mobile=mobile, text=text)
    except ApplicationError as error:
        return JsonResponse({"error": str(error.message)}, status=400)
    return JsonResponse({"action": reply.action, "customer": reply.customer_id})


@csrf_exempt
@require_POST
def sms_delivery(request: HttpRequest) -> JsonResponse:
    """The provider's delivery report: {"key": "...", "delivered": true}."""
    if not _token_ok(request):
        return JsonResponse({"error": "forbidden"}, status=403)
    data = _payload(request)
    key = str(data.get("key", ""))
    if not key:
        return JsonResponse({"error": "key is required"}, status=400)
    delivered = data.get("delivered") in (True, "true", "1", 1)
    return JsonResponse({"updated": services.sms_delivery_report(key=key, delivered=delivered)})
