"""Segments (客户细分): the filters a segment may hold, their validation, and the one query that
counts and lists its customers.

Every filter reads the segment facts (CustomerStats, one narrow row per customer: the card's
traits, the vehicles' brands / series / models, last visit L as docs/followups.md defines it, 12-month
spend and visits, the value third per store), kept by ``customer_stats_refresh`` after every import
and nightly, and by ``customer_stats_refresh_for_customers`` after a card edit. Lifecycle reads the
customer's newest vehicle: new (delivered < 1 year ago), in / out of warranty (its warranty end,
else delivery + 2 years), replacement window (delivered 3–5 years ago).
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.calendar import add_months
from crm.scoping import scope_to_user_stores
from customers.choices import Gender, IncomeBand
from customers.models import Customer, CustomerStats, Vehicle
from customers.selectors import customer_queryset_for_user, restricted_customers_visible_to, sees_every_level

AGE_BANDS = {
    "under_30": (_("Under 30"), 0, 29),
    "30_39": (_("30–39"), 30, 39),
    "40_49": (_("40–49"), 40, 49),
    "50_59": (_("50–59"), 50, 59),
    "60_plus": (_("60 and over"), 60, 200),
}
LIFECYCLE = {
    "new": _("New (delivered less than a year ago)"),
    "in_warranty": _("In warranty"),
    "out_of_warranty": _("Out of warranty"),
    "replacement": _("Replacement window (3–5 years)"),
}
ACTIVITY = {
    "active": _("Active (back within 6 months)"),
    "dormant": _("Dormant (6–12 months)"),
    "lost": _("Lost (more than 12 months)"),
}
VALUE = {"top": _("Top third"), "middle": _("Middle third"), "low": _("Low third")}
TIERS = ["普通", "银卡", "金卡", "钻石", "终身VIP"]
# The largest values CustomerStats.spend_12m (numeric(14, 2)) and visits_12m (integer) hold.
SPEND_DIGITS, SPEND_DECIMALS = 14, 2
MAX_SPEND = Decimal("999999999999.99")
MAX_VISITS = 2147483647


def _multiple(label, choices) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label, choices=list(choices), required=False, widget=forms.CheckboxSelectMultiple
    )


def _words(label, help_text) -> forms.CharField:
    return forms.CharField(label=label, required=False, max_length=300, help_text=help_text)


def definition_fields() -> dict[str, forms.Field]:
    """The filters of a segment, as form fields (their cleaned values make the JSON definition)."""
    comma = _("Separate several with commas.")
    return {
        "genders": _multiple(_("Gender"), [(value, label) for value, label in Gender.choices if value]),
        "age_bands": _multiple(_("Age"), [(key, label) for key, (label, _low, _high) in AGE_BANDS.items()]),
        "income_bands": _multiple(_("Income"), [(value, label) for value, label in IncomeBand.choices if value]),
        "sources": _words(_("Source"), comma),
        "brands": _words(_("Vehicle brand"), comma),
        "series": _words(_("Vehicle series"), comma),
        "models": _words(_("Vehicle model"), comma),
        "districts": _words(_("District"), comma),
        "lifecycle": _multiple(_("Lifecycle"), LIFECYCLE.items()),
        "activity": _multiple(_("Activity"), ACTIVITY.items()),
        "value": _multiple(pgettext_lazy("what the customer is worth", "Value"), VALUE.items()),
        # Bounded as the facts store them (numeric(14, 2), integer): a larger minimum was a database
        # error on every count of the segment.
        "min_spend_12m": forms.DecimalField(
            label=_("Spend in 12 months at least (¥)"),
            required=False,
            min_value=0,
            max_value=MAX_SPEND,
            max_digits=SPEND_DIGITS,
            decimal_places=SPEND_DECIMALS,
        ),
        "min_visits_12m": forms.IntegerField(
            label=_("Visits in 12 months at least"), required=False, min_value=0, max_value=MAX_VISITS
        ),
        "member_tiers": _multiple(_("Membership tier"), [(tier, tier) for tier in TIERS]),
    }


def definition_from_cleaned(cleaned: dict) -> dict:
    """The JSON definition: only the filters that are set, lists of words split on commas."""
    definition: dict = {}
    for name, value in cleaned.items():
        if value in (None, "", []):
            continue
        if isinstance(value, str):
            words = [word.strip() for word in value.replace("，", ",").split(",") if word.strip()]
            if words:
                definition[name] = words
        elif isinstance(value, Decimal):
            definition[name] = str(value)
        else:
            definition[name] = list(value) if isinstance(value, (list, tuple)) else value
    return definition


def definition_as_form_initial(definition: dict) -> dict:
    return {name: ", ".join(value) if name in WORD_FILTERS else value for name, value in definition.items()}


WORD_FILTERS = ("sources", "brands", "series", "models", "districts")


def segment_condition(definition: dict, *, today: datetime.date | None = None) -> Q:
    """The one definition of a segment, as a condition on the segment facts (CustomerStats): filters
    AND together, the options of one filter OR together. Count, list and export all use it.

    Time-relative filters (age, lifecycle, activity) compare the stored dates with ``today``, the
    day the segment is counted, never the day the facts were refreshed."""
    today = today or timezone.localdate()
    condition = Q()
    if genders := definition.get("genders"):
        condition &= Q(gender__in=genders)
    if bands := definition.get("age_bands"):
        ages = Q()
        for band in bands:
            _label, low, high = AGE_BANDS[band]
            ages |= Q(birthday__gt=add_months(today, -12 * (high + 1)), birthday__lte=add_months(today, -12 * low))
        condition &= ages
    if incomes := definition.get("income_bands"):
        condition &= Q(income_band__in=incomes)
    if sources := definition.get("sources"):
        condition &= Q(source__in=sources)
    if districts := definition.get("districts"):
        condition &= Q(district__in=districts)
    if tiers := definition.get("member_tiers"):
        condition &= Q(member_tier__in=tiers)
    vehicle_filter = Q()
    for name, column in (("brands", "brand"), ("series", "series"), ("models", "model")):
        if values := definition.get(name):
            condition &= Q(**{f"vehicle_{name}__overlap": values})
            vehicle_filter &= Q(**{f"{column}__in": values})
    if len(vehicle_filter) > 1:
        # Brand and series (or model) are of one and the same car: the arrays narrow, this decides.
        condition &= Q(Exists(Vehicle.objects.filter(vehicle_filter, customer=OuterRef("customer_id"))))
    if stages := definition.get("lifecycle"):
        lifecycle = Q()
        if "new" in stages:
            lifecycle |= Q(latest_delivery__gt=add_months(today, -12))
        if "in_warranty" in stages:
            lifecycle |= Q(warranty_end__gte=today)
        if "out_of_warranty" in stages:
            lifecycle |= Q(warranty_end__lt=today)
        if "replacement" in stages:
            lifecycle |= Q(latest_delivery__gte=add_months(today, -60), latest_delivery__lte=add_months(today, -36))
        condition &= lifecycle
    if states := definition.get("activity"):
        six, twelve = add_months(today, -6), add_months(today, -12)
        activity = Q()
        if "active" in states:
            activity |= Q(last_visit__gte=six)
        if "dormant" in states:
            activity |= Q(last_visit__lt=six, last_visit__gte=twelve)
        if "lost" in states:
            activity |= Q(last_visit__lt=twelve)
        condition &= activity
    if thirds := definition.get("value"):
        condition &= Q(value_tier__in=thirds)
    if (spend := definition.get("min_spend_12m")) is not None:
        condition &= _at_least("spend_12m", _number(spend), MAX_SPEND)
    if (visits := definition.get("min_visits_12m")) is not None:
        condition &= _at_least("visits_12m", _number(visits), MAX_VISITS)
    return condition


def _number(value) -> Decimal:
    """A stored minimum as a Decimal; NaN for anything that is not a number (a definition saved
    before the form bounded its fields)."""
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal("NaN")


def _at_least(column: str, minimum: Decimal, largest: Decimal) -> Q:
    # No stored value reaches a minimum past the column's range, infinity or NaN: nobody matches,
    # and the database is never asked to compare a number it cannot hold.
    if not minimum.is_finite() or minimum > largest:
        return Q(pk__in=[])
    return Q(**{f"{column}__gte": minimum})


def segment_filter(queryset: QuerySet, definition: dict, *, today: datetime.date | None = None) -> QuerySet:
    """Apply a segment definition to a queryset of segment facts, or of customers (those whose facts
    match)."""
    condition = segment_condition(definition, today=today)
    if queryset.model is CustomerStats:
        return queryset.filter(condition)
    return queryset.filter(pk__in=CustomerStats.objects.filter(condition).values("customer_id"))


def _facts_in_scope(*, user, segment) -> QuerySet[CustomerStats]:
    facts = scope_to_user_stores(CustomerStats.objects.all(), user)
    if segment.store_id:
        facts = facts.filter(store_id=segment.store_id)
    return facts


def _restricted_visible_ids(user):
    """The 绝密 / 机密 cards this user may see (customers.selectors, the one visibility rule)."""
    return restricted_customers_visible_to(user).values("pk")


def segment_count_for_user(*, user, segment, today: datetime.date | None = None) -> int:
    """The live count of a segment, equal to the length of its list: the cards that are not
    restricted (an index-only scan of one of CustomerStats' partial indexes), plus the 绝密 / 机密
    cards the user may see (a look-up of the few through the restricted index)."""
    if not user.is_authenticated:
        return 0
    facts = _facts_in_scope(user=user, segment=segment).filter(segment_condition(segment.definition or {}, today=today))
    count = facts.filter(is_restricted=False).count()
    restricted = facts.filter(is_restricted=True)
    if not sees_every_level(user):
        restricted = restricted.filter(customer_id__in=_restricted_visible_ids(user))
    return count + restricted.count()


def segment_customers_for_user(*, user, segment, today: datetime.date | None = None) -> QuerySet[Customer]:
    """The customers of a segment the user may see (list and export): the cards whose facts match,
    within the user's scope read from the cards themselves as well. The level rule is applied once,
    on the cards: repeated on the facts, its subquery of visible restricted cards sat in every facts
    look-up and its estimated cost sent a list's first page to parallel workers (5 ms became 33 ms
    for a 100,000-card segment)."""
    facts = _facts_in_scope(user=user, segment=segment).filter(segment_condition(segment.definition or {}, today=today))
    customers = customer_queryset_for_user(user)
    if segment.store_id:
        # The facts' store is the card's: said on the cards too, a page walks the store's cards in
        # customer-number order (customer_store_no_idx), not every card of the group checking each
        # one's facts (a 6,436-card segment of one store among a million: 56,000 cards walked).
        customers = customers.filter(store_id=segment.store_id)
    return customers.filter(pk__in=facts.values("customer_id"))


def segment_customer_ids_sql(*, segment, store_id: int, prefix: str, today: datetime.date | None = None):
    """The segment's customers of one store as SQL for set-based work of another app (an event's
    invitations): ``(sql, params)``, a SELECT of ``customer_id`` whose parameters are named
    ``%(<prefix>_<n>)s`` so that it can be spliced into a statement with named parameters. Every
    customer of the store whose facts match, whoever reads it (the caller scopes)."""
    if not prefix.isidentifier():
        raise ValueError(f"not a parameter prefix: {prefix!r}")
    facts = CustomerStats.objects.filter(store_id=store_id).filter(
        segment_condition(segment.definition or {}, today=today)
    )
    sql, params = facts.values("customer_id").query.sql_with_params()
    names = iter(range(len(params)))
    named = re.sub(r"(?<!%)%s", lambda _match: f"%({prefix}_{next(names)})s", sql)
    return named, {f"{prefix}_{index}": value for index, value in enumerate(params)}
