"""Club events: planning, invitations by phone, registration with a waiting list, the door check-in."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clubs.choices import EntryKind
from clubs.models import (
    Membership,
)
from clubs.services.ledger import points_credit
from clubs.services.referrals import _one_line
from crm.exceptions import ApplicationError
from crm.scoping import visible_store_ids
from customers.models import Customer
from customers.selectors import (
    MESSAGE_PLACEHOLDERS,
    customer_queryset_for_user,
    message_has_unpaired_brace,
    message_unknown_placeholders,
)

# --- club events ---------------------------------------------------------------------------------
#
# An event's places are counted under a row lock on the event: two desks registering the last place
# take turns, and the second goes to the waiting list. A cancellation (or a larger capacity) moves
# the waiting list up in the order people asked, while places are free. Checking in at the door
# happens once per customer and credits the event's points once to a member (points_credit with the
# reference "event:<id>", so a retry finds the entry it made).

EVENT_FIELDS = (
    "title", "kind", "starts_at", "ends_at", "place", "capacity", "segment", "points_for_attending",
    "invitation_template",
)  # fmt: skip
HOLDING_A_PLACE = ("registered", "attended")


def _event_check(event) -> None:
    from clubs.choices import EventKind

    event.title = _one_line(event.title)
    event.place = _one_line(event.place)
    if not event.title:
        raise ApplicationError(_("Enter the event's title."))
    if not event.place:
        raise ApplicationError(_("Enter where the event takes place."))
    if event.kind not in EventKind.values:
        raise ApplicationError(_("Choose one of the kinds of event."))
    if event.starts_at is None or event.ends_at is None:
        raise ApplicationError(_("Enter when the event starts and ends."))
    if event.ends_at <= event.starts_at:
        raise ApplicationError(_("The event must end after it starts."))
    if not isinstance(event.capacity, int) or event.capacity < 1:
        raise ApplicationError(_("An event has at least one place."))
    if unknown := message_unknown_placeholders(event.invitation_template):
        raise ApplicationError(
            _("The invitation text names %(unknown)s, which no message can fill in. Use %(known)s.")
            % {"unknown": "、".join(unknown), "known": " ".join(f"{{{name}}}" for name in MESSAGE_PLACEHOLDERS)}
        )
    if message_has_unpaired_brace(event.invitation_template):
        raise ApplicationError(_("A brace { or } has no pair: write fields as {name}."))
    if event.segment is not None and event.segment.store_id not in (None, event.store_id):
        raise ApplicationError(_("The segment belongs to another store."))
    try:
        event.full_clean()
    except ValidationError as error:
        raise ApplicationError(" ".join(error.messages)) from None


def _event_store_check(*, user, store) -> None:
    visible = visible_store_ids(user)
    if visible is not None and store.pk not in visible:
        raise ApplicationError(_("You cannot plan events for this store."))


@transaction.atomic
def event_create(*, user, store, title, kind, starts_at, ends_at, place, capacity, segment=None,
                 points_for_attending: int = 0, invitation_template: str = ""):  # fmt: skip
    """Plan an event of ``store`` (one of the user's): it ends after it starts, has at least one place."""
    from clubs.models import ClubEvent

    _event_store_check(user=user, store=store)
    event = ClubEvent(
        store=store, title=title, kind=kind, starts_at=starts_at, ends_at=ends_at, place=place, capacity=capacity,
        segment=segment, points_for_attending=points_for_attending, invitation_template=invitation_template or "",
        created_by=user,
    )  # fmt: skip
    _event_check(event)
    event._history_user = user
    event.save()
    return event


def _event_locked(event):
    from clubs.models import ClubEvent

    return ClubEvent.objects.select_for_update(of=("self",)).select_related("store").get(pk=event.pk)


def _places_taken(event) -> int:
    from clubs.models import EventRegistration

    return EventRegistration.objects.filter(event=event, status__in=HOLDING_A_PLACE).count()


def _promote_waiting(*, event, user, places: int) -> list:
    """Move the first ``places`` of the waiting list up (the event is locked by the caller)."""
    from clubs.choices import RegistrationStatus
    from clubs.models import EventRegistration

    if places <= 0:
        return []
    waiting = list(
        EventRegistration.objects.select_for_update()
        .filter(event=event, status=RegistrationStatus.WAITING)
        .order_by("registered_at", "id")[:places]
    )
    for registration in waiting:
        registration.status = RegistrationStatus.REGISTERED
        registration.updated_by = user
        registration.save(update_fields=["status", "updated_by", "updated_at"])
    return waiting


@transaction.atomic
def event_update(*, user, event, **fields):
    """Change an event's details. The capacity cannot go below the places already taken; a larger
    capacity moves the waiting list up."""
    unknown = set(fields) - set(EVENT_FIELDS)
    if unknown:
        raise ValueError(f"not event fields: {sorted(unknown)}")
    event = _event_locked(event)
    for name, value in fields.items():
        setattr(event, name, value)
    if event.invitation_template is None:
        event.invitation_template = ""
    _event_check(event)
    taken = _places_taken(event)
    if event.capacity < taken:
        raise ApplicationError(
            _("%(taken)s people hold a place already: the event needs at least %(taken)s places.") % {"taken": taken}
        )
    event._history_user = user
    event.save()
    _promote_waiting(event=event, user=user, places=event.capacity - taken)
    return event


def _event_customer(*, user, event, customer):
    """The customer, if the user may see them and they are a customer of the event's store. Without
    a user (a reply to the invitation SMS) the customer the reply was matched to."""
    found = (customer_queryset_for_user(user) if user is not None else Customer.objects).filter(pk=customer.pk).first()
    if found is None:
        raise ApplicationError(_("This customer is not one of your stores' customers."))
    if found.store_id != event.store_id:
        raise ApplicationError(
            _("%(name)s is a customer of another store: events are for the store's own customers.")
            % {"name": found.name}
        )
    return found


def _event_open_for_registration(event) -> None:
    if timezone.now() >= event.starts_at:
        raise ApplicationError(_("The event has started: registrations are closed; check people in at the door."))


@transaction.atomic
def event_invite(*, user, event, customer, source: str = "phone"):
    """Staff invited the customer (by phone): they go on the list as invited. Someone already on
    the list keeps their place; a cancelled registration becomes an invitation again."""
    from clubs.choices import RegistrationStatus
    from clubs.models import EventRegistration

    event = _event_locked(event)
    _event_open_for_registration(event)
    customer = _event_customer(user=user, event=event, customer=customer)
    now = timezone.now()
    registration = EventRegistration.objects.select_for_update().filter(event=event, customer=customer).first()
    if registration is None:
        return EventRegistration.objects.create(
            event=event, customer=customer, status=RegistrationStatus.INVITED, source=source, invited_at=now,
            updated_by=user,
        )  # fmt: skip
    if registration.status == RegistrationStatus.CANCELLED:
        registration.status = RegistrationStatus.INVITED
        registration.invited_at = now
        registration.updated_by = user
        registration.save(update_fields=["status", "invited_at", "updated_by", "updated_at"])
    return registration


@transaction.atomic
def event_register(*, user, event, customer, source: str = "phone"):
    """Register the customer: a place while there is one, else the end of the waiting list. The
    places are counted under a lock on the event, so two registrations racing for the last place
    leave exactly one registered. Someone already registered, waiting or attended stays as they are."""
    from clubs.choices import RegistrationSource, RegistrationStatus
    from clubs.models import EventRegistration

    if source not in RegistrationSource.values:
        raise ValueError(f"not a registration source: {source}")
    event = _event_locked(event)
    _event_open_for_registration(event)
    customer = _event_customer(user=user, event=event, customer=customer)
    registration = EventRegistration.objects.select_for_update().filter(event=event, customer=customer).first()
    if registration is not None and registration.status not in (
        RegistrationStatus.INVITED,
        RegistrationStatus.CANCELLED,
    ):
        return registration
    status = RegistrationStatus.REGISTERED if _places_taken(event) < event.capacity else RegistrationStatus.WAITING
    now = timezone.now()
    if registration is None:
        return EventRegistration.objects.create(
            event=event, customer=customer, status=status, source=source, registered_at=now, updated_by=user
        )
    registration.status = status
    registration.source = source
    registration.registered_at = now
    registration.cancelled_at = None
    registration.updated_by = user
    registration.save(update_fields=["status", "source", "registered_at", "cancelled_at", "updated_by", "updated_at"])
    return registration


@transaction.atomic
def event_cancel(*, user, registration):
    """Cancel a registration (or an invitation, or a place on the waiting list). A freed place
    goes to the first on the waiting list: exactly one moves up. Someone who came cannot cancel."""
    from clubs.choices import RegistrationStatus
    from clubs.models import EventRegistration

    event = _event_locked(registration.event)
    registration = EventRegistration.objects.select_for_update().get(pk=registration.pk)
    _event_customer(user=user, event=event, customer=registration.customer)
    if registration.status == RegistrationStatus.ATTENDED:
        raise ApplicationError(_("This customer has checked in already: the registration cannot be cancelled."))
    if registration.status == RegistrationStatus.CANCELLED:
        return registration
    if timezone.now() >= event.ends_at:
        raise ApplicationError(_("The event is over: its registrations no longer change."))
    freed = registration.status == RegistrationStatus.REGISTERED
    registration.status = RegistrationStatus.CANCELLED
    registration.cancelled_at = timezone.now()
    registration.updated_by = user
    registration.save(update_fields=["status", "cancelled_at", "updated_by", "updated_at"])
    if freed:
        _promote_waiting(event=event, user=user, places=min(1, event.capacity - _places_taken(event)))
    return registration


@transaction.atomic
def event_check_in(*, user, event, customer):
    """Check the customer in at the door, once: someone registered, waiting, invited or a walk-in
    (who joins the list as attended). A member earns the event's points once (ledger reference
    ``event:<id>``). Refused outside the event's days and for a second check-in."""
    from clubs.choices import RegistrationSource, RegistrationStatus
    from clubs.models import EventRegistration

    event = _event_locked(event)
    customer = _event_customer(user=user, event=event, customer=customer)
    now = timezone.now()
    today = timezone.localdate(now)
    if today < timezone.localdate(event.starts_at):
        raise ApplicationError(
            _("The event is on %(day)s: the door opens that day.")
            % {"day": f"{timezone.localtime(event.starts_at):%Y-%m-%d}"}
        )
    if today > timezone.localdate(event.ends_at):
        raise ApplicationError(_("The event is over: nobody can check in any more."))
    registration = EventRegistration.objects.select_for_update().filter(event=event, customer=customer).first()
    if registration is not None and registration.checked_in_at is not None:
        raise ApplicationError(
            _("%(name)s checked in already at %(time)s.")
            % {"name": customer.name, "time": f"{timezone.localtime(registration.checked_in_at):%H:%M}"}
        )
    if registration is None:
        registration = EventRegistration(event=event, customer=customer, source=RegistrationSource.DOOR)
    registration.status = RegistrationStatus.ATTENDED
    registration.checked_in_at = now
    registration.cancelled_at = None
    registration.updated_by = user
    membership = Membership.objects.filter(customer=customer).first()
    if membership is not None and event.points_for_attending > 0:
        registration.points_entry = points_credit(
            membership=membership,
            kind=EntryKind.ATTENDANCE,
            points=event.points_for_attending,
            on=today,
            reference=f"event:{event.pk}",
            note=event.title,
            user=user,
        )
    registration.save()
    return registration
