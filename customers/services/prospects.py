"""Prospects (潜在客户): recorded at a desk, moved through the sales pipeline, won by a delivery.

A prospect comes from a walk-in, a call, an online platform, an auto show or a referral, and is
worked by a sales consultant of its store: new → contacted → test drive booked → test drive done,
or lost with a reason (a lost one may be reopened). It is won only when a car is delivered in its
store to a customer with the prospect's mobile, 0 to 180 days after the prospect was recorded:
each car wins the earliest prospect, each prospect is won once (``prospects_win_for_deliveries``,
run after every vehicles import and by a delivery made at the sales desk).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.bulk import id_array
from crm.exceptions import ApplicationError
from crm.scoping import visible_store_ids
from customers.choices import ImportKind, ProspectLostReason, ProspectSource, ProspectStatus
from customers.dms.parsing import FieldError, parse_mobile
from customers.models import OPEN_PROSPECT_STATUSES, Customer, Prospect, Vehicle
from customers.selectors.prospects import prospect_consultants

WIN_WINDOW_DAYS = 180
NAME_LIMIT = 100
NOTE_LIMIT = 200
NOTES_LIMIT = 2000

# Where each status may go by hand. Won is reached only by a delivery; a won prospect never moves.
# A walk-in may drive the car on the spot (new → test drive done); a booked test drive that falls
# through goes back to contacted; reopening a lost prospect makes it contacted again.
PROSPECT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    ProspectStatus.NEW: (
        ProspectStatus.CONTACTED,
        ProspectStatus.TEST_DRIVE_BOOKED,
        ProspectStatus.TEST_DRIVE_DONE,
        ProspectStatus.LOST,
    ),
    ProspectStatus.CONTACTED: (ProspectStatus.TEST_DRIVE_BOOKED, ProspectStatus.TEST_DRIVE_DONE, ProspectStatus.LOST),
    ProspectStatus.TEST_DRIVE_BOOKED: (ProspectStatus.TEST_DRIVE_DONE, ProspectStatus.CONTACTED, ProspectStatus.LOST),
    ProspectStatus.TEST_DRIVE_DONE: (ProspectStatus.LOST,),
    ProspectStatus.LOST: (ProspectStatus.CONTACTED,),
    ProspectStatus.WON: (),
}


def _one_line(value) -> str:
    return " ".join(str(value or "").split())


def prospect_mobile_parse(value) -> str:
    """The prospect's mobile as 11 digits (+86, spaces, dashes, full-width digits all accepted), or
    ApplicationError with the message for staff."""
    try:
        mobile = parse_mobile(value)
    except FieldError:
        mobile = None
    if not mobile:
        raise ApplicationError(
            _("Enter the mobile of the prospect: a mainland mobile number of 11 digits, such as 138 0013 8000.")
        )
    return mobile


def _store_for(*, user, store):
    """The store of a new prospect: ``store`` if the user works there, else the user's one store."""
    visible = visible_store_ids(user)
    if store is not None:
        if visible is not None and store.pk not in visible:
            raise ApplicationError(_("You do not work at %(store)s.") % {"store": store.name})
        return store
    stores = list(user.stores.filter(is_active=True).order_by("code")[:2])
    if len(stores) != 1:
        raise ApplicationError(_("Choose the store the prospect came to."))
    return stores[0]


def prospect_consultant_check(consultant, store) -> None:
    """Refuse a consultant who is not an active sales consultant of the store (None: nobody yet)."""
    if consultant is not None and not prospect_consultants(store_ids=[store.pk]).filter(pk=consultant.pk).exists():
        raise ApplicationError(
            _("%(name)s is not a sales consultant of %(store)s.")
            % {"name": consultant.get_full_name() or consultant.username, "store": store.name}
        )


def _prospect_save(*, user, **fields) -> Prospect:
    """Save a checked prospect, recorded by ``user`` (kept in the history)."""
    prospect = Prospect(recorded_by=user, **fields)
    prospect.full_clean()
    prospect._history_user = user
    prospect.save()
    return prospect


@transaction.atomic
def prospect_create(
    *,
    user,
    name: str,
    mobile: str,
    source: str,
    intended_model: str = "",
    consultant=None,
    store=None,
    notes: str = "",
    recorded_on: datetime.date | None = None,
) -> Prospect:
    """Record a prospect of ``store`` (or the user's one store). The mobile is normalised;
    ``consultant`` is a sales consultant of the store, or None for the store's queue (not assigned
    yet). Refused (ApplicationError) for a bad mobile or source, a future date, or a mobile that
    already has an open prospect in the store (which the message names). Kept in the history."""
    name = _one_line(name)
    if not name:
        raise ApplicationError(_("Enter the name of the prospect."))
    if len(name) > NAME_LIMIT:
        raise ApplicationError(_("The name of the prospect is at most 100 characters."))
    mobile = prospect_mobile_parse(mobile)
    model = _one_line(intended_model)
    if len(model) > NAME_LIMIT:
        raise ApplicationError(_("The intended model is at most 100 characters."))
    if source not in ProspectSource.values:
        raise ApplicationError(_("Choose where the prospect came from."))
    notes = str(notes or "").strip()
    if len(notes) > NOTES_LIMIT:
        raise ApplicationError(_("The notes are at most 2000 characters."))
    today = timezone.localdate()
    recorded_on = recorded_on or today
    if recorded_on > today:
        raise ApplicationError(_("A prospect cannot be dated in the future."))
    store = _store_for(user=user, store=store)
    prospect_consultant_check(consultant, store)
    with connection.cursor() as cursor:
        # Two desks recording one mobile at once: the second waits, then finds the first.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"customers.prospect:{store.pk}:{mobile}"])
    existing = (
        Prospect.objects.filter(store=store, mobile=mobile, status__in=OPEN_PROSPECT_STATUSES)
        .select_related("consultant")
        .order_by("recorded_on", "id")
        .first()
    )
    if existing is not None:
        raise ApplicationError(
            _("This mobile is already an open prospect of the store: %(name)s, recorded on %(date)s (%(consultant)s).")
            % {
                "name": existing.name,
                "date": existing.recorded_on.isoformat(),
                "consultant": (existing.consultant.get_full_name() or existing.consultant.username)
                if existing.consultant
                else _("not assigned yet"),
            },
            extra={"prospect_id": existing.pk},
        )
    return _prospect_save(
        user=user, store=store, name=name, mobile=mobile, intended_model=model, source=source,
        consultant=consultant, notes=notes, recorded_on=recorded_on,
    )  # fmt: skip


@transaction.atomic
def prospect_advance(*, user, prospect: Prospect, status: str, lost_reason: str = "", lost_note: str = "") -> Prospect:
    """Move a prospect to ``status`` along ``PROSPECT_TRANSITIONS``; lost needs a reason
    (``ProspectLostReason``, the note says more). Won is set only by a delivery. Refused with a
    message otherwise; kept in the history."""
    if status == ProspectStatus.WON:
        raise ApplicationError(
            _("A prospect is won only when a car is delivered to their mobile: the delivery marks it.")
        )
    if status not in ProspectStatus.values:
        raise ApplicationError(_("Choose one of the statuses."))
    note = _one_line(lost_note)
    if len(note) > NOTE_LIMIT:
        raise ApplicationError(_("The note on the loss is at most 200 characters."))
    if status == ProspectStatus.LOST:
        if lost_reason not in ProspectLostReason.values:
            raise ApplicationError(_("Say why the prospect was lost."))
    else:
        lost_reason, note = "", ""
    prospect = Prospect.objects.select_for_update().get(pk=prospect.pk)
    if status not in PROSPECT_TRANSITIONS[prospect.status]:
        if prospect.status == ProspectStatus.WON:
            raise ApplicationError(
                _("This prospect is won (the car was delivered on %(date)s): its status no longer changes.")
                % {"date": prospect.won_on.isoformat() if prospect.won_on else "—"}
            )
        raise ApplicationError(
            _("A prospect cannot go from “%(current)s” to “%(status)s”.")
            % {"current": prospect.get_status_display(), "status": ProspectStatus(status).label}
        )
    prospect.status = status
    prospect.lost_reason = lost_reason
    prospect.lost_note = note
    prospect.full_clean()
    prospect._history_user = user
    prospect.save(update_fields=["status", "lost_reason", "lost_note", "updated_at"])
    return prospect


@transaction.atomic
def prospect_assign(*, user, prospect: Prospect, consultant) -> Prospect:
    """Give a prospect to a sales consultant of its store (None: back to the store's queue). A won
    prospect keeps the consultant who sold the car. Kept in the history."""
    prospect = Prospect.objects.select_for_update().select_related("store").get(pk=prospect.pk)
    if prospect.status == ProspectStatus.WON:
        raise ApplicationError(_("This prospect is won: its sales consultant no longer changes."))
    prospect_consultant_check(consultant, prospect.store)
    if prospect.consultant_id == (consultant.pk if consultant else None):
        return prospect
    prospect.consultant = consultant
    prospect._history_user = user
    prospect.save(update_fields=["consultant", "updated_at"])
    return prospect


# --- won by a delivery -----------------------------------------------------------------------------

PROSPECT = Prospect._meta.db_table
PROSPECT_HISTORY = Prospect.history.model._meta.db_table
_CUSTOMER = Customer._meta.db_table
_VEHICLE = Vehicle._meta.db_table
_OPEN_SQL = ", ".join(f"'{status}'" for status in OPEN_PROSPECT_STATUSES)


def _history_columns(prefix: str = "") -> str:
    """The prospect's columns its history table copies (the history's own columns aside)."""
    own = {"history_id", "history_date", "history_change_reason", "history_type", "history_user_id"}
    return ", ".join(
        f"{prefix}{field.column}" for field in Prospect.history.model._meta.concrete_fields if field.column not in own
    )


def _win(*, through: datetime.date, store_ids, customer_ids, vehicle_id) -> list[int]:
    conditions, params = [], {"through": through, "window": WIN_WINDOW_DAYS}
    if store_ids is not None:
        conditions.append("p.store_id = ANY(%(stores)s)")
        params["stores"] = list(store_ids)
    if customer_ids is not None:
        conditions.append("c.id = ANY(%(customers)s::bigint[])")
        params["customers"] = id_array(customer_ids)
    if vehicle_id is not None:
        conditions.append("v.id = %(vehicle)s")
        params["vehicle"] = vehicle_id
    where = "".join(f" AND {condition}" for condition in conditions)
    with connection.cursor() as cursor:
        # One matching at a time: two at once could both give one car to two prospects.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('customers.prospects_win'))")
        cursor.execute(
            f"""
            WITH pairs AS (
                SELECT p.id AS prospect_id, v.id AS vehicle_id, v.customer_id, v.delivery_date, p.recorded_on
                FROM {PROSPECT} p
                JOIN {_CUSTOMER} c ON c.mobile = p.mobile
                JOIN {_VEHICLE} v ON v.customer_id = c.id AND v.store_id = p.store_id
                WHERE p.won_vehicle_id IS NULL AND p.status IN ({_OPEN_SQL}) AND p.mobile <> ''
                  AND v.delivery_date <= %(through)s AND v.delivery_date >= p.recorded_on
                  AND v.delivery_date <= p.recorded_on + %(window)s
                  AND NOT EXISTS (SELECT 1 FROM {PROSPECT} w WHERE w.won_vehicle_id = v.id){where}
            ), per_vehicle AS (
                SELECT DISTINCT ON (vehicle_id) * FROM pairs ORDER BY vehicle_id, recorded_on, prospect_id
            ), per_prospect AS (
                SELECT DISTINCT ON (prospect_id) * FROM per_vehicle ORDER BY prospect_id, delivery_date, vehicle_id
            ), won AS (
                UPDATE {PROSPECT} p SET won_vehicle_id = w.vehicle_id, won_customer_id = w.customer_id,
                       won_on = w.delivery_date, status = '{ProspectStatus.WON.value}', lost_reason = '',
                       lost_note = '', updated_at = now()
                FROM per_prospect w WHERE p.id = w.prospect_id
                RETURNING p.*
            ), logged AS (
                INSERT INTO {PROSPECT_HISTORY} ({_history_columns()}, history_date, history_change_reason,
                                                history_type)
                SELECT {_history_columns("w.")}, now(), 'won by a delivery', '~' FROM won w
            )
            SELECT id FROM won ORDER BY id
            """,
            params,
        )
        return [row[0] for row in cursor.fetchall()]


@transaction.atomic
def prospects_win_for_deliveries(
    *,
    store_ids: Iterable[int] | None,
    through: datetime.date,
    customer_ids: Iterable[int] | None = None,
) -> list[int]:
    """Win the open prospects of ``store_ids`` (None: every store) whose mobile is a customer's who
    took delivery of a car in the prospect's store on or before ``through``, 0 to 180 days after the
    prospect was recorded: each car wins the earliest prospect (then the lowest id), each prospect
    is won once, with its earliest car. ``customer_ids`` narrows the buyers (an import's touched
    customers). Set-based; running it again changes nothing. Each win is a line of the prospect's
    history. Returns the ids of the prospects won."""
    return _win(
        through=through,
        store_ids=None if store_ids is None else list(store_ids),
        customer_ids=None if customer_ids is None else list(customer_ids),
        vehicle_id=None,
    )


@transaction.atomic
def win_prospects_after_delivery(event) -> None:
    """Delivery listener (customers/deliveries.py): the car delivered at the sales desk wins the
    earliest open prospect with the buyer's mobile."""
    prospects_win_for_vehicle(vehicle_id=event.vehicle_id)


def prospects_win_for_vehicle(*, vehicle_id: int) -> list[int]:
    """Win the earliest open prospect matching this car's delivery (a delivery made at the sales
    desk): the rules of ``prospects_win_for_deliveries``, for one car. Returns the ids won."""
    return _win(through=timezone.localdate(), store_ids=None, customer_ids=None, vehicle_id=vehicle_id)


def win_prospects_after_import(event) -> None:
    """Import listener: after a vehicles import, the touched customers' deliveries win prospects."""
    if event.kind != ImportKind.VEHICLES or not event.customer_ids:
        return
    prospects_win_for_deliveries(store_ids=None, through=timezone.localdate(), customer_ids=event.customer_ids)


# --- the club's referrals (保客转介绍): a referral is the attribution of its prospect ------------------
#
# The club records who referred a prospect (and credits the points); the prospect is the pipeline.
# The referral pages keep their own stages (new, contacted, test drive, lost, won by the club's
# nightly run); these services keep the referral's prospect in step, with its history.

REFERRAL_STAGE_STATUS = {
    "new": ProspectStatus.NEW,
    "contacted": ProspectStatus.CONTACTED,
    "test_drive": ProspectStatus.TEST_DRIVE_DONE,
    "lost": ProspectStatus.LOST,
    "won": ProspectStatus.WON,
}


@transaction.atomic
def prospect_create_for_referral(
    *, user, store, name: str, mobile: str, intended_model: str, source: str, consultant, recorded_on: datetime.date
) -> Prospect:
    """The prospect of a referral the club has just checked and is recording: every referral is a
    prospect of its own (two owners referring one number are both kept, the earliest wins), so an
    open prospect of the same mobile does not refuse it. Kept in the history."""
    return _prospect_save(
        user=user, store=store, name=name, mobile=prospect_mobile_parse(mobile), intended_model=intended_model,
        source=source, consultant=consultant, recorded_on=recorded_on,
    )  # fmt: skip


@transaction.atomic
def prospect_stage_from_referral(*, user, prospect: Prospect, stage: str, lost_reason: str = "") -> Prospect:
    """Set the prospect of a referral to the referral's stage (the referral pages' move, which the
    club's service has allowed): test drive is test drive done, a lost referral's reason is the note.
    A won prospect does not move. Kept in the history."""
    prospect = Prospect.objects.select_for_update().get(pk=prospect.pk)
    status = REFERRAL_STAGE_STATUS[stage]
    if prospect.status == ProspectStatus.WON or status == ProspectStatus.WON:
        return prospect
    reason, note = (ProspectLostReason.OTHER, _one_line(lost_reason)[:NOTE_LIMIT]) if status == "lost" else ("", "")
    if (prospect.status, prospect.lost_reason, prospect.lost_note) == (status, reason, note):
        return prospect
    prospect.status, prospect.lost_reason, prospect.lost_note = status, reason, note
    prospect.full_clean()
    prospect._history_user = user
    prospect.save(update_fields=["status", "lost_reason", "lost_note", "updated_at"])
    return prospect


def prospects_win_referred(*, wins: Iterable[tuple[int, int, int, datetime.date]]) -> list[int]:
    """Win the prospects of the referrals the club's nightly run has won: ``wins`` are (prospect id,
    car id, buyer id, delivery date). A prospect already won (by a delivery matched here first) or a
    car that already won another prospect is left as it is. Set-based; each win a history line.
    Returns the ids of the prospects won."""
    wins = [(int(p), int(v), int(c), d) for p, v, c, d in wins]
    if not wins:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('customers.prospects_win'))")
        cursor.execute(
            f"""
            WITH wins AS (
                SELECT DISTINCT ON (vehicle_id) * FROM unnest(%(prospects)s::bigint[], %(vehicles)s::bigint[],
                                                          %(customers)s::bigint[], %(days)s::date[])
                       AS t(prospect_id, vehicle_id, customer_id, won_on)
                ORDER BY vehicle_id, prospect_id
            ), won AS (
                UPDATE {PROSPECT} p SET won_vehicle_id = w.vehicle_id, won_customer_id = w.customer_id,
                       won_on = w.won_on, status = '{ProspectStatus.WON.value}', lost_reason = '', lost_note = '',
                       updated_at = now()
                FROM wins w
                WHERE p.id = w.prospect_id AND p.won_vehicle_id IS NULL
                  AND NOT EXISTS (SELECT 1 FROM {PROSPECT} x WHERE x.won_vehicle_id = w.vehicle_id)
                RETURNING p.*
            ), logged AS (
                INSERT INTO {PROSPECT_HISTORY} ({_history_columns()}, history_date, history_change_reason,
                                                history_type)
                SELECT {_history_columns("w.")}, now(), 'won by a referral sale', '~' FROM won w
            )
            SELECT id FROM won ORDER BY id
            """,
            {
                "prospects": [win[0] for win in wins],
                "vehicles": [win[1] for win in wins],
                "customers": [win[2] for win in wins],
                "days": [win[3] for win in wins],
            },
        )
        return [row[0] for row in cursor.fetchall()]
