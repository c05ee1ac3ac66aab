"""Cards and vehicles made by hand at the desks (docs/desk.md): a provisional customer number until
the DMS import adopts the card, the duplicate warning, the VIN's check digit."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from crm.exceptions import ApplicationError
from crm.scoping import visible_store_ids
from customers.models import Customer, Vehicle
from customers.selectors.cards import customer_likely_duplicates, vehicle_with_vin
from customers.vin import vin_normalise, vin_problem

# What a desk may write on a new card and a new vehicle (never the DMS's own: member card, points,
# the DMS's creation date; nor the flags, which managers set on the card afterwards).
CUSTOMER_CREATE_FIELDS = (
    "name", "gender", "birthday", "mobile", "landline", "email", "employer", "job_title", "province", "city",
    "district", "address", "source", "income_band", "interests", "preferred_channel", "preferred_contact_time",
)  # fmt: skip
VEHICLE_CREATE_FIELDS = (
    "vin", "plate_no", "brand", "series", "model", "color", "delivery_date", "sales_consultant", "invoice_price",
    "warranty_end", "insurer", "insurance_expiry", "inspection_due",
)  # fmt: skip
_VEHICLE_TEXT_FIELDS = ("plate_no", "brand", "series", "model", "color", "sales_consultant", "insurer")
PROVISIONAL_PREFIX = "CRM"


class LikelyDuplicate(ApplicationError):
    """The new card looks like one the store has: ``customers`` are the existing cards the user sees."""

    def __init__(self, customers: list[Customer]):
        super().__init__(_("This customer may already have a card in this store."))
        self.customers = customers


class VinTaken(ApplicationError):
    """The VIN is already in the CRM: ``vehicle`` is its row (the caller decides what to show)."""

    def __init__(self, vehicle: Vehicle):
        super().__init__(_("A vehicle with this VIN is already in the CRM."))
        self.vehicle = vehicle


def provisional_customer_no(*, store) -> str:
    """The next provisional number, ``CRM-<store code>-<6 digits>``, from a database sequence: two
    desks creating cards at the same moment never get the same one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('customers_provisional_no_seq')")
        number = cursor.fetchone()[0]
    return f"{PROVISIONAL_PREFIX}-{store.code}-{number:06d}"


def _check_store(*, user, store, permission: str) -> None:
    if not user.has_perm(permission):
        raise PermissionDenied(permission)
    visible = visible_store_ids(user)
    if visible is not None and store.pk not in visible:
        raise PermissionDenied(_("This store is not one of yours."))


def customer_create(*, user, store, data: dict, duplicates_confirmed: bool = False) -> Customer:
    """Make a provisional card in ``store`` from the desk's ``data`` (CUSTOMER_CREATE_FIELDS). A card
    of the store with the same mobile, or the same name and birthday, stops it with LikelyDuplicate
    unless ``duplicates_confirmed``. Kept in the card's history ("created in the CRM", the user)."""
    from customers.services import customer_save

    _check_store(user=user, store=store, permission="customers.add_customer")
    refused = sorted(set(data) - set(CUSTOMER_CREATE_FIELDS))
    if refused:
        raise PermissionDenied(", ".join(refused))
    values = {name: (value.strip() if isinstance(value, str) else value) for name, value in data.items()}
    if not values.get("name"):
        raise ValidationError({"name": _("Enter the customer's name.")})
    if not duplicates_confirmed:
        duplicates = customer_likely_duplicates(
            user=user, store=store, mobile=values.get("mobile") or "", name=values["name"],
            birthday=values.get("birthday"),
        )  # fmt: skip
        if duplicates:
            raise LikelyDuplicate(duplicates)
    with transaction.atomic():
        customer = Customer(store=store, is_provisional=True, customer_no=provisional_customer_no(store=store))
        for name, value in values.items():
            setattr(customer, name, "" if value is None and name not in ("birthday",) else value)
        customer.full_clean()
        customer._change_reason = "created in the CRM"
        customer_save(customer=customer, user=user)
    return customer


def vehicle_create(*, user, customer: Customer, data: dict) -> Vehicle:
    """Add a vehicle (VEHICLE_CREATE_FIELDS) to a card the user may see, in the card's store. The VIN
    must be valid (check digit) and new to the CRM (VinTaken otherwise). Kept in its history."""
    from customers.selectors import customer_queryset_for_user
    from customers.services import vehicle_save

    _check_store(user=user, store=customer.store, permission="customers.add_vehicle")
    if not customer_queryset_for_user(user).filter(pk=customer.pk).exists():
        raise PermissionDenied(_("This customer is not one of your stores' customers."))
    refused = sorted(set(data) - set(VEHICLE_CREATE_FIELDS))
    if refused:
        raise PermissionDenied(", ".join(refused))
    values = {name: (value.strip() if isinstance(value, str) else value) for name, value in data.items()}
    vin = vin_normalise(values.get("vin") or "")
    problem = vin_problem(vin)
    if problem:
        raise ValidationError({"vin": problem})
    values["vin"] = vin
    with transaction.atomic():
        existing = vehicle_with_vin(vin=vin)
        if existing is not None:
            raise VinTaken(existing)
        vehicle = Vehicle(customer=customer, store=customer.store)
        for name, value in values.items():
            setattr(vehicle, name, "" if value is None and name in _VEHICLE_TEXT_FIELDS else value)
        vehicle.full_clean(validate_unique=False)
        vehicle._change_reason = "created in the CRM"
        try:
            with transaction.atomic():
                vehicle_save(vehicle=vehicle, user=user)
        except IntegrityError:
            # Another desk saved the same VIN a moment ago: the unique key decided.
            raise VinTaken(vehicle_with_vin(vin=vin)) from None
    return vehicle
