"""The customers app's own sources of the card timeline (registered in CustomersConfig):
repair-order visits, deliveries, notes, card changes and DMS imports that changed the card."""

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from crm.compiled_reads import compiled_read
from customers.card import TimelineEvent
from customers.models import Customer, CustomerConsent, CustomerNote, RepairOrder
from customers.selectors import card_vehicles

HISTORY_LIMIT = 50


def visits(*, user, customer):
    for order in compiled_read(("timeline visits",), _settled_orders, customer_id=customer.pk):
        yield TimelineEvent.on_day(
            order.settle_date,
            kind="visit",
            title=_("Service visit: %(type)s") % {"type": order.get_repair_type_display() or "—"},
            detail=f"{order.ro_no} · {order.vehicle.plate_no or order.vehicle.vin} · ¥{order.total_amount or 0}",
            actor=order.service_advisor,
        )


def _settled_orders(*, customer_id: int) -> QuerySet[RepairOrder]:
    return (
        RepairOrder.objects.filter(vehicle__customer_id=customer_id, settle_date__isnull=False)
        .select_related("vehicle")
        .order_by("-settle_date")[:100]
    )


def deliveries(*, user, customer):
    for vehicle in card_vehicles(customer=customer):
        if vehicle.delivery_date is None:
            continue
        yield TimelineEvent.on_day(
            vehicle.delivery_date,
            kind="delivery",
            title=_("Delivery: %(car)s") % {"car": f"{vehicle.brand} {vehicle.series}".strip()},
            detail=vehicle.plate_no or vehicle.vin,
            actor=vehicle.sales_consultant,
        )


def notes(*, user, customer):
    for note in compiled_read(("timeline notes",), _notes_of, customer_id=customer.pk):
        yield TimelineEvent(
            at=note.created_at,
            kind="note",
            title=note.get_kind_display(),
            detail=note.text,
            actor=note.author.get_full_name() or note.author.username if note.author else "",
        )


def _notes_of(*, customer_id: int) -> QuerySet[CustomerNote]:
    return CustomerNote.objects.filter(customer_id=customer_id).select_related("author")[:100]


def card_changes(*, user, customer):
    """Edits of the card and imports that changed it, with old → new."""
    for change in customer_changes(customer=customer):
        if change.get("kind") == "consent":
            yield TimelineEvent(at=change["at"], kind="consent", title=change["title"], detail=change["detail"],
                                actor=change["user"])  # fmt: skip
            continue
        if change["type"] == "+":
            continue
        detail = "; ".join(f"{item['field']}: {item['old']} → {item['new']}" for item in change["changes"])
        if change["reason"].startswith("Adopted by DMS import"):
            # A card made in the CRM taken over by the DMS (docs/desk.md): the reason names the batch
            # and the provisional number.
            yield TimelineEvent(at=change["at"], kind="import", title=_("Card adopted by a DMS import"),
                                detail=f"{change['reason']}; {detail}", actor=change["user"])  # fmt: skip
            continue
        is_import = change["reason"].startswith("DMS import")
        yield TimelineEvent(
            at=change["at"],
            kind="import" if is_import else "change",
            title=change["reason"] if is_import else _("Card changed"),
            detail="; ".join(f"{item['field']}: {item['old']} → {item['new']}" for item in change["changes"]),
            actor=change["user"],
        )


def customer_changes(*, customer, limit: int = HISTORY_LIMIT) -> list[dict]:
    """The card's history, newest first: who, when, why, and each field's old → new value. Read once
    per card object (the card shows it and its timeline lists it: one request, one object)."""
    read = customer.__dict__.setdefault("_card_changes", {})
    if limit not in read:
        read[limit] = _customer_changes(customer=customer, limit=limit)
    return read[limit]


def _customer_changes(*, customer, limit: int) -> list[dict]:
    from crm.masking import mask_phone

    def build(*, customer_id: int) -> QuerySet:
        return (
            Customer.history.filter(id=customer_id).select_related("history_user").order_by("-history_id")[: limit + 1]
        )

    records = compiled_read(("card history", limit), build, customer_id=customer.pk)
    changes = []
    for newer, older in zip(records, [*records[1:], None], strict=False):
        if len(changes) == limit:
            break
        items = []
        if older is not None:
            for delta in newer.diff_against(older).changes:
                field = customer._meta.get_field(delta.field)
                old, new = delta.old, delta.new
                if delta.field in ("mobile", "landline"):
                    old, new = mask_phone(old), mask_phone(new)
                items.append({"field": str(field.verbose_name), "old": old if old not in (None, "") else "—",
                              "new": new if new not in (None, "") else "—"})  # fmt: skip
            if not items:
                continue
        user = newer.history_user
        changes.append({
            "at": newer.history_date, "type": newer.history_type, "reason": newer.history_change_reason or "",
            "user": (user.get_full_name() or user.username) if user else "", "changes": items,
        })  # fmt: skip
    changes.extend(consent_changes(customer=customer, limit=limit))
    changes.sort(key=lambda change: change["at"], reverse=True)
    return changes[:limit]


def consent_changes(*, customer, limit: int = HISTORY_LIMIT) -> list[dict]:
    """The customer's consent changes (customers.CustomerConsent's history), newest first, as entries
    of the card's change history: purpose, old → new state, how, who and the note."""

    records = compiled_read(("consent changes",), _consent_records, customer_id=customer.pk)
    previous: dict[str, bool] = {}
    changes = []
    for record in records:
        purpose = record.get_purpose_display()
        state = _("Granted") if record.is_granted else _("Withdrawn")
        old = previous.get(record.purpose)
        previous[record.purpose] = record.is_granted
        user = record.history_user
        detail = " · ".join(part for part in [record.get_source_display(), record.note] if part)
        changes.append({
            "at": record.history_date, "type": "~", "kind": "consent", "reason": _("Consent"),
            "user": (user.get_full_name() or user.username) if user else "",
            "title": (_("Consent granted: %(purpose)s") if record.is_granted
                      else _("Consent withdrawn: %(purpose)s")) % {"purpose": purpose},
            "detail": detail,
            "changes": [{"field": purpose, "old": "—" if old is None else (_("Granted") if old else _("Withdrawn")),
                         "new": f"{state} ({detail})" if detail else state}],
        })  # fmt: skip
    return changes[::-1][:limit]


def _consent_records(*, customer_id: int) -> QuerySet:
    return CustomerConsent.history.filter(customer_id=customer_id).select_related("history_user").order_by("history_id")
