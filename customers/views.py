from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.api.pagination import CappedCountPaginator
from crm.exceptions import ApplicationError
from crm.masking import phone_reveal_record
from crm.scoping import sees_all_stores
from crm.selectors import export_request_get_for_user
from customers import exports, phone_search
from customers.card import card_panels, timeline_events
from customers.forms import (
    ConsentForm,
    CustomerEditForm,
    CustomerListForm,
    CustomerNoteForm,
    ErasureForm,
    ExportRequestForm,
    PhoneLookupForm,
    SearchForm,
    SegmentForm,
)
from customers.membership import membership_badge, membership_badges
from customers.models import Segment
from customers.satisfaction import customer_dissatisfied_since
from customers.segments import segment_count_for_user, segment_customers_for_user
from customers.selectors import (
    card_repair_orders,
    card_vehicles,
    customer_editable_fields,
    customer_get_for_user,
    customer_is_erased,
    customer_list_refine,
    customer_with_matched_vehicle,
    import_batch_get_for_user,
    segment_get_for_user,
    segment_queryset_for_user,
)
from customers.services import customer_note_add, customer_personal_data_export, customer_update, segment_save
from customers.timeline import customer_changes

PAGE_SIZE = 25


def _log_unmasked_view(request: HttpRequest, customers) -> None:
    """Every view of unmasked numbers is logged (who, when, which customers): one row per page."""
    ids = [customer.pk for customer in customers if customer.mobile or customer.landline]
    phone_reveal_record(user=request.user, object_ids=ids, path=request.path)


def _with_member_badges(customers) -> list:
    """The customers of a page, each with its ``member_badge`` (the club's, else the DMS's strings):
    one query for the whole page."""
    customers = list(customers)
    badges = membership_badges(customers=customers)
    for customer in customers:
        customer.member_badge = badges[customer.pk]
    return customers


def _search_text(request: HttpRequest) -> tuple[str, int]:
    """The search box's text and the response status: a refused input (a NUL character) shows the
    form's message and the unfiltered list with status 400, never a server error."""
    form = SearchForm(request.GET)
    search = form.search()
    if form.errors:
        messages.error(request, " ".join(form.errors["q"]))
        return search, 400
    return search, 200


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_GET
def customer_list(request: HttpRequest) -> HttpResponse:
    """The customer list and the search results of the search box on every page."""
    search, status = _search_text(request)
    list_form = CustomerListForm(request.GET, user=request.user)
    refine = list_form.choices()
    if list_form.errors:
        messages.error(request, " ".join(error for errors in list_form.errors.values() for error in errors))
        status = 400
    found = phone_search.customer_search(user=request.user, search=search, path=request.path)
    if found.message:
        messages.warning(request, found.message)
    customers = customer_with_matched_vehicle(customer_list_refine(found.customers, **refine), search=search)
    # A group's list holds a million cards: counted exactly up to a cap, estimated past it.
    paginator = CappedCountPaginator(customers, PAGE_SIZE)
    if found.count is not None and refine.get("store") is None:
        paginator.count = found.count  # counted once, for the search's audit row
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = _with_member_badges(page.object_list)
    _log_unmasked_view(request, page.object_list)
    context = {
        "page": page,
        "list_form": list_form,
        "search": search,
        "lookup_form": PhoneLookupForm(),
        "can_search_phone": request.user.has_perm("customers.search_by_phone"),
    }
    return render(request, "customers/customer_list.html", context, status=status)


@login_required
@permission_required("customers.search_by_phone", raise_exception=True)
@require_POST
def customer_phone_lookup(request: HttpRequest) -> HttpResponse:
    """Incoming call: the caller's full number comes in a POST body, never in a URL."""
    form = PhoneLookupForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter the caller's number."))
        return redirect("customers:list")
    found, refusal = phone_search.customer_phone_lookup(
        user=request.user, phone=form.cleaned_data["phone"], path=request.path, limit=PAGE_SIZE
    )
    if refusal:
        messages.error(request, refusal)
        return redirect("customers:list")
    if len(found) == 1:
        return redirect("customers:detail", found[0].pk)
    _log_unmasked_view(request, found)
    page = Paginator(found, PAGE_SIZE).get_page(1)
    page.object_list = _with_member_badges(page.object_list)
    if not found:
        messages.info(request, _("No customer has this number."))
    context = {"page": page, "search": "", "lookup_form": form, "can_search_phone": True}
    return render(request, "customers/customer_list.html", context)


def _card_context(request: HttpRequest, customer, *, note_form=None) -> dict:
    return {
        "customer": customer,
        "badge": membership_badge(customer),
        "dissatisfied_since": customer_dissatisfied_since(customer_id=customer.pk),
        "vehicles": card_vehicles(customer=customer),
        "repair_orders": card_repair_orders(customer=customer, limit=50),
        "panels": card_panels(user=request.user, customer=customer),
        "timeline": timeline_events(user=request.user, customer=customer),
        "changes": customer_changes(customer=customer),
        "note_form": note_form or CustomerNoteForm(),
        "can_edit": bool(customer_editable_fields(user=request.user)),
        "can_add_note": request.user.has_perm("customers.add_customernote"),
    }


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_GET
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = customer_get_for_user(user=request.user, pk=pk)
    _log_unmasked_view(request, [customer])
    return render(request, "customers/customer_detail.html", _card_context(request, customer))


@login_required
@permission_required("customers.change_customer", raise_exception=True)
@require_http_methods(["GET", "POST"])
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    customer = customer_get_for_user(user=request.user, pk=pk)
    form = CustomerEditForm(request.POST or None, instance=customer, user=request.user)
    if not form.phones_masked:
        _log_unmasked_view(request, [customer])  # the phone inputs hold the whole numbers
    if request.method == "POST" and form.is_valid():
        try:
            customer_update(customer=customer, user=request.user, data=form.changed_data_values())
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("The card was saved."))
            return redirect("customers:detail", customer.pk)
        customer.refresh_from_db()
    return render(request, "customers/customer_edit.html", {"customer": customer, "form": form})


@login_required
@permission_required("customers.add_customernote", raise_exception=True)
@require_POST
def customer_note_create(request: HttpRequest, pk: int) -> HttpResponse:
    customer = customer_get_for_user(user=request.user, pk=pk)
    form = CustomerNoteForm(request.POST)
    if form.is_valid():
        try:
            customer_note_add(customer=customer, user=request.user, text=form.cleaned_data["text"],
                              kind=form.cleaned_data["kind"])  # fmt: skip
        except ValidationError as error:
            form.add_error(None, error)
        else:
            form = CustomerNoteForm()
    context = _card_context(request, customer, note_form=form)
    if request.htmx:
        return render(request, "customers/partials/note_added.html", context)
    if form.is_bound and form.errors:
        _log_unmasked_view(request, [customer])  # the card is shown again, with its numbers
        return render(request, "customers/customer_detail.html", context, status=400)
    return redirect("customers:detail", customer.pk)


# --- segments --------------------------------------------------------------------------------


@login_required
@permission_required("customers.view_segment", raise_exception=True)
@require_GET
def segment_list(request: HttpRequest) -> HttpResponse:
    search, status = _search_text(request)
    segments = segment_queryset_for_user(request.user)
    if search:
        segments = segments.filter(name__icontains=search)
    page = Paginator(segments, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "customers/segment_list.html", {"page": page, "search": search}, status=status)


@login_required
@permission_required("customers.add_segment", raise_exception=True)
@require_http_methods(["GET", "POST"])
def segment_create(request: HttpRequest) -> HttpResponse:
    return _segment_form(request, Segment(created_by=request.user))


@login_required
@permission_required("customers.change_segment", raise_exception=True)
@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _segment_form(request, segment_get_for_user(user=request.user, pk=pk))


def _segment_form(request: HttpRequest, segment: Segment) -> HttpResponse:
    form = SegmentForm(request.POST or None, instance=segment, user=request.user)
    if not sees_all_stores(request.user):
        # A segment without a store is the group's: only staff who see every store may make one.
        form.fields["store"].required = True
    if request.method == "POST" and form.is_valid():
        segment = segment_save(segment=form.instance, user=request.user)
        messages.success(request, _("The segment was saved."))
        return redirect("customers:segment_detail", segment.pk)
    count = None
    if request.method == "GET":
        count = segment_count_for_user(user=request.user, segment=segment)
    return render(request, "customers/segment_form.html", {"form": form, "segment": segment, "count": count})


@login_required
@permission_required("customers.view_segment", raise_exception=True)
@require_POST
def segment_count(request: HttpRequest) -> HttpResponse:
    """The live count of the segment form (htmx, on every change): the filters as they stand, not
    saved. A name still missing does not matter here; a bad filter value shows the form's message."""
    form = SegmentForm(request.POST, instance=Segment(), user=request.user)
    form.is_valid()
    bad_filters = sorted(name for name in form.errors if name not in ("name", "description"))
    count = None
    if not bad_filters:
        count = segment_count_for_user(user=request.user, segment=form.instance)
    return render(request, "customers/partials/segment_count.html", {"count": count, "bad_filters": bad_filters})


@login_required
@permission_required("customers.view_segment", raise_exception=True)
@require_GET
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    segment = segment_get_for_user(user=request.user, pk=pk)
    customers = segment_customers_for_user(user=request.user, segment=segment).select_related("store")
    paginator = Paginator(customers.order_by("customer_no"), PAGE_SIZE)
    # The count the segment form showed (one scan of the segment facts), not a count of the join.
    paginator.count = segment_count_for_user(user=request.user, segment=segment)
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = _with_member_badges(page.object_list)
    _log_unmasked_view(request, page.object_list)
    context = {
        "segment": segment,
        "page": page,
        "can_export": request.user.has_perm("customers.export_customers"),
    }
    return render(request, "customers/segment_detail.html", context)


@login_required
@permission_required("customers.export_customers", raise_exception=True)
@require_GET
def segment_export(request: HttpRequest, pk: int, file_format: str) -> HttpResponse:
    """The segment's file at once, or, when it holds cards needing a manager's approval (秘密 and
    above, key customers), the page asking for that approval."""
    if file_format not in exports.FILE_FORMATS:
        raise Http404
    segment = segment_get_for_user(user=request.user, pk=pk)
    result = exports.segment_export(segment=segment, user=request.user, file_format=file_format)
    if isinstance(result, exports.ExportNeedsApproval):
        return export_approval_page(
            request,
            result,
            action=reverse("customers:segment_export_request", args=[segment.pk, file_format]),
            cancel_url=reverse("customers:segment_detail", args=[segment.pk]),
            segment=segment,
            file_format=file_format,
        )
    return result.response()


def export_approval_page(request: HttpRequest, needed, *, action: str, cancel_url: str, **context) -> HttpResponse:
    """The page of an export needing a manager's approval (customers.exports.ExportNeedsApproval):
    how many rows need it and the form asking for it, posted to ``action``."""
    context = {
        **context,
        "label": needed.label,
        "row_count": needed.row_count,
        "approval_row_count": needed.approval_row_count,
        "action": action,
        "cancel_url": cancel_url,
        "form": ExportRequestForm(),
    }
    return render(request, "customers/export_request.html", context)


def export_request_form_errors(form: ExportRequestForm) -> str:
    return " ".join(error for errors in form.errors.values() for error in errors)


@login_required
@permission_required("customers.export_customers", raise_exception=True)
@require_POST
def segment_export_request(request: HttpRequest, pk: int, file_format: str) -> HttpResponse:
    if file_format not in exports.FILE_FORMATS:
        raise Http404
    segment = segment_get_for_user(user=request.user, pk=pk)
    form = ExportRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, export_request_form_errors(form))
        return redirect("customers:segment_export", segment.pk, file_format)
    try:
        exports.segment_export_request(
            segment=segment, user=request.user, file_format=file_format, reason=form.cleaned_data["reason"]
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("customers:segment_detail", segment.pk)
    messages.success(request, _("Your export request was sent to the store's managers for approval."))
    return redirect("crm:export_requests")


def approved_export_download(request: HttpRequest, pk: int, *, kind: str, download) -> HttpResponse:
    """The requester's one download of an approved export of ``kind``: ``download(user=,
    export_request=)`` is the owning app's service; a second download is refused with a message.
    The export views of every app answer through this one helper."""
    export_request = export_request_get_for_user(user=request.user, pk=pk)
    if export_request.kind != kind:
        raise Http404
    try:
        return download(user=request.user, export_request=export_request).response()
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("crm:export_requests")


@login_required
@permission_required("customers.export_customers", raise_exception=True)
@require_GET
def export_request_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The requester's one download of an approved segment export."""
    return approved_export_download(
        request, pk, kind=exports.SEGMENT_EXPORT_KIND, download=exports.segment_export_download
    )


# --- DMS import (admin pages' helpers) -------------------------------------------------------


@login_required
@permission_required("customers.import_dms", raise_exception=True)
@require_GET
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    batch = import_batch_get_for_user(user=request.user, pk=pk)
    return render(request, "customers/partials/import_progress.html", {"batch": batch})


@login_required
@permission_required("customers.import_dms", raise_exception=True)
@require_GET
def import_errors_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The rejected rows of an import, UTF-8 with BOM, fixable and re-importable."""
    batch = import_batch_get_for_user(user=request.user, pk=pk)
    try:
        return exports.import_errors_export(batch=batch, user=request.user).response()
    except ApplicationError:
        raise Http404 from None


# --- personal data (PIPL): consent, the customer's data on request, erasure --------------------


@login_required
@permission_required("customers.record_consent", raise_exception=True)
@require_POST
def customer_consent_record(request: HttpRequest, pk: int) -> HttpResponse:
    from customers.services import customer_consent_record as record

    customer = customer_get_for_user(user=request.user, pk=pk)
    form = ConsentForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            text = " ".join(errors)
            messages.error(request, _("%(field)s: %(errors)s") % {"field": label, "errors": text} if label else text)
        return render(request, "customers/customer_detail.html", _card_context(request, customer), status=400)
    try:
        record(customer=customer, user=request.user, **form.cleaned_data)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return render(request, "customers/customer_detail.html", _card_context(request, customer), status=400)
    messages.success(request, _("The consent was recorded."))
    return redirect("customers:detail", customer.pk)


@login_required
@permission_required("customers.export_personal_data", raise_exception=True)
@require_GET
def customer_personal_data_download(request: HttpRequest, pk: int) -> HttpResponse:
    """Everything the CRM holds about one customer, as one JSON file (audited)."""
    customer = customer_get_for_user(user=request.user, pk=pk)
    content = customer_personal_data_export(customer=customer, user=request.user)
    response = HttpResponse(content, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="customer-{customer.pk}-personal-data.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@permission_required("customers.erase_customer", raise_exception=True)
@require_http_methods(["GET", "POST"])
def customer_erase(request: HttpRequest, pk: int) -> HttpResponse:
    """Erase a customer at their request: the customer number typed again and a reason."""
    from customers.services import customer_erase as erase

    customer = customer_get_for_user(user=request.user, pk=pk)
    if customer_is_erased(customer=customer):
        messages.info(request, _("This customer was already erased: nothing was changed."))
        return redirect("customers:detail", customer.pk)
    form = ErasureForm(request.POST or None, customer=customer)
    if request.method == "POST" and form.is_valid():
        try:
            erase(customer=customer, user=request.user, reason=form.cleaned_data["reason"])
        except ApplicationError as error:  # erased by someone else meanwhile
            messages.info(request, error.message)
            return redirect("customers:detail", customer.pk)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The customer was erased."))
            return redirect("customers:detail", customer.pk)
    status = 400 if form.is_bound else 200
    return render(request, "customers/customer_erase.html", {"customer": customer, "form": form}, status=status)
