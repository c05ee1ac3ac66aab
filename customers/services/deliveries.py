"""The sales desk's delivery (交车, docs/desk.md): the buyer's card (found or new), the car, the
consultant, how the buyer came and who referred them, consent by purpose; then, on commit, the apps'
listeners (customers.deliveries)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.choices import ConsentPurpose, ConsentSource, DeliverySource
from customers.deliveries import DeliveryRecorded, delivery_listeners_notify
from customers.models import Customer, Delivery
from customers.selectors.cards import staff_display_name, store_sales_staff, store_staff
from customers.services.cards import customer_create, vehicle_create

REFERRAL_SOURCES = {
    DeliverySource.OWNER_REFERRAL: "customer",
    DeliverySource.STAFF_REFERRAL: "staff",
}


@dataclass(frozen=True)
class DeliveryConsent:
    """What the buyer said at the desk about one purpose: granted or not, and the note (the wording
    the buyer agreed to). ``None`` for a purpose means "not asked"."""

    is_granted: bool
    note: str = ""


def _check_dates(vehicle_data: dict, delivered_on: datetime.date) -> None:
    today = timezone.localdate()
    errors = {}
    if delivered_on > today:
        errors["delivery_date"] = _("A delivery cannot be dated in the future.")
    for field, message in (
        ("insurance_expiry", _("The insurance expires before the delivery date: check the date.")),
        ("warranty_end", _("The warranty ends before the delivery date: check the date.")),
    ):
        value = vehicle_data.get(field)
        if value is not None and value < delivered_on:
            errors[field] = message
    if errors:
        raise ValidationError(errors)


def delivery_record(
    *,
    user,
    store,
    vehicle_data: dict,
    consultant,
    source: str,
    customer: Customer | None = None,
    customer_data: dict | None = None,
    duplicates_confirmed: bool = False,
    referrer_customer: Customer | None = None,
    referrer_staff=None,
    service_consent: DeliveryConsent | None = None,
    marketing_consent: DeliveryConsent | None = None,
) -> Delivery:
    """Record a car handed over at the desk, in one transaction: the buyer's card (``customer``, one
    the user sees in ``store``, or a new provisional card from ``customer_data``), the vehicle
    (``vehicle_data``, its ``delivery_date`` the delivery's day, its sales consultant the
    consultant's name), the Delivery row and the consents (source "at the desk"). Once committed,
    the apps' delivery listeners run. Raises PermissionDenied, ValidationError (a field's message),
    LikelyDuplicate or VinTaken; nothing is saved then."""
    from customers.selectors import customer_queryset_for_user

    if not user.has_perm("customers.add_delivery"):
        raise PermissionDenied("customers.add_delivery")
    if (customer is None) == (customer_data is None):
        raise ValidationError(_("Choose the buyer's card or enter a new customer."))
    if source not in DeliverySource.values:
        raise ValidationError({"source": _("Choose how the buyer came.")})
    delivered_on = vehicle_data.get("delivery_date")
    if delivered_on is None:
        raise ValidationError({"delivery_date": _("Enter the delivery date.")})
    _check_dates(vehicle_data, delivered_on)
    if not store_sales_staff(store=store).filter(pk=consultant.pk).exists():
        raise ValidationError({"consultant": _("The consultant must be a sales consultant or manager of this store.")})
    referral = REFERRAL_SOURCES.get(source)
    if referral == "customer":
        referrer_staff = None
        if referrer_customer is None:
            raise ValidationError({"referrer_customer": _("Choose the customer who referred the buyer.")})
        if not customer_queryset_for_user(user).filter(pk=referrer_customer.pk, store_id=store.pk).exists():
            raise ValidationError({"referrer_customer": _("The referrer must be a customer of this store.")})
    elif referral == "staff":
        referrer_customer = None
        if referrer_staff is None:
            raise ValidationError({"referrer_staff": _("Choose the member of staff who referred the buyer.")})
        if not store_staff(store=store).filter(pk=referrer_staff.pk).exists():
            raise ValidationError({"referrer_staff": _("The referrer must be a member of staff of this store.")})
    else:
        referrer_customer = referrer_staff = None
    with transaction.atomic():
        if customer is None:
            customer = customer_create(user=user, store=store, data=customer_data,
                                       duplicates_confirmed=duplicates_confirmed)  # fmt: skip
        elif not customer_queryset_for_user(user).filter(pk=customer.pk, store_id=store.pk).exists():
            raise PermissionDenied(_("This customer is not one of your stores' customers."))
        if referrer_customer is not None and referrer_customer.pk == customer.pk:
            raise ValidationError({"referrer_customer": _("A buyer cannot refer themselves.")})
        vehicle = vehicle_create(
            user=user, customer=customer,
            data={**vehicle_data, "sales_consultant": staff_display_name(consultant)},
        )  # fmt: skip
        delivery = Delivery(
            vehicle=vehicle, customer=customer, store=store, consultant=consultant, source=source,
            referrer_customer=referrer_customer, referrer_staff=referrer_staff, delivered_on=delivered_on,
            recorded_by=user,
        )  # fmt: skip
        delivery.full_clean()
        delivery._history_user = user
        delivery.save()
        _record_consents(user=user, customer=customer, service=service_consent, marketing=marketing_consent)
        delivery_listeners_notify(
            DeliveryRecorded(
                delivery_id=delivery.pk, vehicle_id=vehicle.pk, customer_id=customer.pk, store_id=store.pk,
                consultant_id=consultant.pk, source=source,
                referrer_customer_id=referrer_customer.pk if referrer_customer else None,
                referrer_staff_id=referrer_staff.pk if referrer_staff else None, delivered_on=delivered_on,
                recorded_by_id=user.pk,
            )
        )  # fmt: skip
    return delivery


def _record_consents(*, user, customer, service: DeliveryConsent | None, marketing: DeliveryConsent | None) -> None:
    from customers.services import customer_consent_record

    for purpose, consent in ((ConsentPurpose.SERVICE, service), (ConsentPurpose.MARKETING, marketing)):
        if consent is None:
            continue
        customer_consent_record(customer=customer, user=user, purpose=purpose, is_granted=consent.is_granted,
                                source=ConsentSource.DESK, note=consent.note)  # fmt: skip
