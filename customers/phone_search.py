"""Searches by phone digits count as reveals: each is allowed by the rule of
customers.selectors.phone_query_refusal, counted against a daily quota per user
(settings.PHONE_SEARCH_DAILY_LIMIT) and audited (who, which digits, how many matches).

The quota is counted from the audit rows themselves (crm.audit.audit_count_today): it holds with
Redis down, and what was counted is what was logged."""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from crm.audit import audit_count_today, audit_log_record
from crm.choices import AuditAction
from customers.models import Customer
from customers.selectors import (
    PhoneQuery,
    customer_find_by_phone,
    customer_list_for_user,
    phone_query_parse,
    phone_query_refusal,
)

PHONE_SEARCH_PERMISSION = "customers.search_by_phone"


@dataclass(frozen=True)
class CustomerSearch:
    """A search's cards, how many there are when counted for the audit, and the message to show
    when its phone part was refused ('' otherwise)."""

    customers: QuerySet[Customer]
    count: int | None = None
    message: str = ""


def _audit_detail(query: PhoneQuery, *, path: str) -> dict:
    detail = {"digits": query.digits, "kind": query.kind, "path": path}
    if query.name:
        detail["name"] = query.name
    return detail


def _over_daily_limit(*, user, query: PhoneQuery, path: str) -> str:
    """The refusal message when the user has used up today's phone searches (and its audit row)."""
    limit = settings.PHONE_SEARCH_DAILY_LIMIT
    if audit_count_today(actor=user, action=AuditAction.PHONE_SEARCH) < limit:
        return ""
    audit_log_record(
        actor=user,
        action=AuditAction.PHONE_SEARCH_REFUSED,
        object_type="customers.customer",
        detail={**_audit_detail(query, path=path), "reason": "daily_limit", "limit": limit},
    )
    return _(
        "You have made %(limit)d searches by phone number today, the daily limit: search by name, plate or "
        "customer number, or ask a manager."
    ) % {"limit": limit}


def _record(*, user, query: PhoneQuery, path: str, customer_ids: list[int], count: int) -> None:
    audit_log_record(
        actor=user,
        action=AuditAction.PHONE_SEARCH,
        object_type="customers.customer",
        object_ids=customer_ids,
        detail={**_audit_detail(query, path=path), "matches": count},
    )


def customer_search(*, user, search: str, path: str, id_limit: int = 25) -> CustomerSearch:
    """The search box: the user's cards matching ``search``. When the text is a search by phone
    digits and the user may search by phone, the digits are checked (a whole number, a name with
    the last four digits, or 7+ digits for staff who see whole numbers), counted against the
    daily quota and audited with the number of matches (and the first ``id_limit`` of them)."""
    query = phone_query_parse(search) if user.has_perm(PHONE_SEARCH_PERMISSION) else None
    if query is None:
        return CustomerSearch(customers=customer_list_for_user(user=user, search=search))
    message = phone_query_refusal(user=user, query=query)
    if message:
        # Nothing is searched, nothing revealed; the attempt is kept: a run of them is someone probing.
        audit_log_record(
            actor=user,
            action=AuditAction.PHONE_SEARCH_REFUSED,
            object_type="customers.customer",
            detail={**_audit_detail(query, path=path), "reason": "part_of_a_number"},
        )
    else:
        message = _over_daily_limit(user=user, query=query, path=path)
    if message:
        return CustomerSearch(customers=customer_list_for_user(user=user, search=search), message=message)
    customers = customer_list_for_user(user=user, search=search, phone=query)
    count = customers.count()
    ids = list(customers.values_list("pk", flat=True)[:id_limit]) if count else []
    _record(user=user, query=query, path=path, customer_ids=ids, count=count)
    return CustomerSearch(customers=customers, count=count)


def customer_phone_lookup(*, user, phone: str, path: str, limit: int = 25) -> tuple[list[Customer], str]:
    """The incoming-call look-up of a whole number: its cards (at most ``limit``) and a refusal
    message ('' when allowed). Audited and counted like every search by phone digits."""
    query = phone_query_parse(phone)
    if query is None or not query.is_whole_number:
        return [], _("Enter the caller's whole number.")
    message = _over_daily_limit(user=user, query=query, path=path)
    if message:
        return [], message
    found = list(customer_find_by_phone(user=user, phone=query.digits)[:limit])
    _record(user=user, query=query, path=path, customer_ids=[card.pk for card in found], count=len(found))
    return found, ""
