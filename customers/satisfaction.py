"""The closed loop's one entry: every desk records a customer's satisfaction result here.

A call's score (follow-ups), a reply digit to a repair SMS (follow-ups), a delivery interview (the
sales desk) and a complaint closed with the customer's confirmation (complaints) each call
``satisfaction_result_record``. The result is stored once (``SatisfactionResult``, unique by its
``reference``) and, once the transaction commits, the registered listeners are told about it: the
complaints app opens a complaint for a dissatisfied result (or adds it to the customer's open one).
A listener is ``listener(result: SatisfactionResult) -> None``, registered in an app's
``AppConfig.ready()``:

    from customers.satisfaction import satisfaction_listener_register
    satisfaction_listener_register("complaints.open_for_dissatisfied", open_for_dissatisfied)

The listeners run in registration order, each in its own savepoint: one that raises is logged and
rolled back and neither undoes the result nor stops the others.

The customer is **dissatisfied** while the latest decisive (not neutral) result is dissatisfied
(``customer_is_dissatisfied``, ``DISSATISFIED_CUSTOMERS_SQL`` for set-based readers).
"""

import datetime
import logging
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.compiled_reads import compiled_read
from customers.choices import Department, SatisfactionVerdict
from customers.models import Customer, SatisfactionResult
from customers.satisfaction_figures import satisfaction_figures_add, satisfaction_result_credit

logger = logging.getLogger(__name__)

DISSATISFIED_SCORE = 2  # a score ≤ 2 of 5 is dissatisfied
SATISFIED_SCORE = 4  # a score ≥ 4 of 5 is satisfied

SatisfactionListener = Callable[[SatisfactionResult], None]
_listeners: dict[str, SatisfactionListener] = {}


def satisfaction_listener_register(name: str, listener: SatisfactionListener) -> None:
    """Tell ``listener`` about every new result (registering a name again replaces it in place)."""
    _listeners[name] = listener


def satisfaction_listener_unregister(name: str) -> None:
    _listeners.pop(name, None)


def satisfaction_listeners() -> list[tuple[str, SatisfactionListener]]:
    return list(_listeners.items())


def verdict_for_score(score: int | None) -> str:
    """The verdict of a 1–5 score: ≤ 2 dissatisfied, ≥ 4 satisfied, 3 (or no score) neither."""
    if score is None:
        return SatisfactionVerdict.NEUTRAL
    if score <= DISSATISFIED_SCORE:
        return SatisfactionVerdict.DISSATISFIED
    if score >= SATISFIED_SCORE:
        return SatisfactionVerdict.SATISFIED
    return SatisfactionVerdict.NEUTRAL


def _notify(result: SatisfactionResult) -> None:
    for name, listener in satisfaction_listeners():
        try:
            with transaction.atomic():
                listener(result)
        except Exception:
            logger.exception("satisfaction listener %s failed for result %s", name, result.pk)


def satisfaction_result_record(
    *,
    customer: Customer,
    department: str,
    source: str,
    reference: str,
    at: datetime.datetime,
    score: int | None = None,
    verdict: str | None = None,
    rule_code: str = "",
    statement: str = "",
    user=None,
) -> tuple[SatisfactionResult, bool]:
    """Record one result and tell the listeners once it commits. ``verdict`` defaults to the
    score's (``verdict_for_score``); pass it for a result without a score (不满意 ticked, a complaint
    closed "satisfied"). The result is credited to the customer's store, advisor and consultant of
    record on its local day, for good, and added to its month's figures in the same transaction
    (customers.satisfaction_figures). Recording the same ``reference`` again returns the stored row
    and ``created`` False, and tells nobody."""
    existing = SatisfactionResult.objects.filter(reference=reference).first()
    if existing is not None:
        return existing, False
    store_id, advisor, consultant = satisfaction_result_credit(customer_id=customer.pk, day=timezone.localdate(at))
    result = SatisfactionResult(
        customer=customer,
        at=at,
        score=score,
        verdict=verdict or verdict_for_score(score),
        department=department,
        source=source,
        rule_code=rule_code,
        statement=statement[:4000],
        reference=reference,
        recorded_by=user if getattr(user, "pk", None) else None,
        store_id=store_id,
        service_advisor=advisor,
        sales_consultant=consultant,
    )
    result.full_clean()
    try:
        with transaction.atomic():
            result.save()
            satisfaction_figures_add(result=result)
    except IntegrityError:  # recorded at the same moment by another request
        return SatisfactionResult.objects.get(reference=reference), False
    transaction.on_commit(lambda: _notify(result))
    return result, True


SATISFACTION_TABLE = SatisfactionResult._meta.db_table

# Customers whose latest decisive result is dissatisfied; ``%(as_of)s`` is a timestamp (results
# after it are not yet known). One row per customer: ``customer_id``, ``since`` (that result's time).
DISSATISFIED_CUSTOMERS_SQL = f"""
    SELECT latest.customer_id, latest.at AS since
    FROM (
        SELECT DISTINCT ON (sr.customer_id) sr.customer_id, sr.at, sr.verdict
        FROM {SatisfactionResult._meta.db_table} sr
        WHERE sr.verdict <> '{SatisfactionVerdict.NEUTRAL}' AND sr.at <= %(as_of)s
        ORDER BY sr.customer_id, sr.at DESC, sr.id DESC
    ) latest
    WHERE latest.verdict = '{SatisfactionVerdict.DISSATISFIED}'
"""


def customer_is_dissatisfied(*, customer_id: int) -> bool:
    """Whether the customer's latest decisive result is dissatisfied."""
    latest = (
        SatisfactionResult.objects.filter(customer_id=customer_id)
        .exclude(verdict=SatisfactionVerdict.NEUTRAL)
        .order_by("-at", "-id")
        .values_list("verdict", flat=True)
        .first()
    )
    return latest == SatisfactionVerdict.DISSATISFIED


# The follow-up rules whose results belong to the sales department (the delivery calls); every
# other rule's belong to service. A delivery interview is sales too (docs/closed-loop.md).
SALES_RULE_CODES = frozenset({"delivery_thanks", "delivery_day1_call"})


def department_for_rule(rule_code: str) -> str:
    """The department a result (or a complaint heard on a call) of ``rule_code`` belongs to."""
    return Department.SALES if rule_code in SALES_RULE_CODES else Department.SERVICE


def customer_dissatisfied_since(*, customer_id: int) -> datetime.datetime | None:
    """When the customer's current dissatisfied state began (the time of the latest decisive result,
    a dissatisfied one), or None when the customer is not dissatisfied."""
    found = compiled_read(("dissatisfied since",), _latest_decisive_result, customer_id=customer_id)
    if not found or found[0][0] != SatisfactionVerdict.DISSATISFIED:
        return None
    return found[0][1]


def _latest_decisive_result(*, customer_id: int):
    return (
        SatisfactionResult.objects.filter(customer_id=customer_id)
        .exclude(verdict=SatisfactionVerdict.NEUTRAL)
        .order_by("-at", "-id")
        .values_list("verdict", "at")[:1]
    )


def dissatisfied_alert(*, user, customer):
    """Card alert (customers/card.py): the customer is dissatisfied, since when."""
    from django.utils.translation import gettext as _

    from customers.card import CustomerAlert

    since = customer_dissatisfied_since(customer_id=customer.pk)
    if since is None:
        return []
    text = _("Dissatisfied customer since %(date)s: a later satisfied result or a complaint closed satisfied ends it.")
    return [CustomerAlert("dissatisfied", text % {"date": timezone.localtime(since).strftime("%Y-%m-%d")})]
