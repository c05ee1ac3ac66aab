"""The SMS side of service appointments (docs/appointments.md, "Messages"): the confirmation sent
when a visit is booked, what a cancelled or finished booking does to its pending reminder, and the
Y / N replies that confirm or cancel a booking.

The appointments live in customers; follow-ups hears of them through the appointment listeners
(``customers.appointment_events``) and answers replies through the reply handlers
(``customers.sms_replies``), both registered in ``FollowupsConfig.ready``.
"""

import datetime
import logging

from django.db import connection
from django.utils import timezone

from crm.exceptions import ApplicationError
from customers.appointment_events import AppointmentEvent, AppointmentEventKind
from customers.choices import AppointmentSource, AppointmentStatus, ReplyAction
from customers.models import Appointment
from customers.selectors import CUSTOMER_TABLE, card_placeholder_values
from customers.services.appointments import appointment_cancel, appointment_confirm
from customers.sms_replies import Reply, ReplyClaim
from followups.choices import APPOINTMENT_CONFIRMATION, APPOINTMENT_MESSAGE_CODES, RuleCode, SmsStatus, TaskStatus
from followups.defaults import APPOINTMENT_CONFIRMATION_TEMPLATE, SMS_OPT_OUT_TEXT
from followups.generation import MOBILE_PATTERN
from followups.models import FollowupTask, SmsMessage
from followups.placeholders import format_date, render_placeholders
from followups.selectors import sms_allowed_sql
from followups.services import sms_window_next_start

logger = logging.getLogger(__name__)

CONFIRM_WORDS = {"Y", "YES", "是", "确认"}
CANCEL_WORDS = {"N", "NO", "否", "取消"}
# A Y / N answers an appointment message sent at most this long before it.
APPOINTMENT_REPLY_WINDOW = datetime.timedelta(days=3)
_FINISHED = {
    AppointmentEventKind.CANCELLED,
    AppointmentEventKind.NO_SHOW,
    AppointmentEventKind.ARRIVED,
    AppointmentEventKind.RESCHEDULED,
}


def _may_receive(customer_id: int) -> bool:
    """The customer has a mainland mobile and may get a service message (not opted out, service
    consent not withdrawn): the rule every reminder follows."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {CUSTOMER_TABLE} cu WHERE cu.id = %s AND cu.mobile ~ %s AND {sms_allowed_sql('%s')}",
            [customer_id, MOBILE_PATTERN, APPOINTMENT_CONFIRMATION],
        )
        return cursor.fetchone() is not None


def appointment_confirmation_queue(*, appointment: Appointment, now: datetime.datetime | None = None):
    """Queue the confirmation SMS of a booking (any source but a walk-in), held to the sending
    window: the store's next SMS batch sends it. None when the customer gets no SMS. Safe twice:
    one message per booking and slot (a rescheduled booking is confirmed again)."""
    if appointment.source == AppointmentSource.WALK_IN or appointment.status not in (
        AppointmentStatus.BOOKED,
        AppointmentStatus.CONFIRMED,
    ):
        return None
    if not _may_receive(appointment.customer_id):
        return None
    now = now or timezone.now()
    not_before = sms_window_next_start(now)
    store, customer = appointment.store, appointment.customer
    values = {
        **card_placeholder_values(customer=customer, vehicle=appointment.vehicle),
        "date": format_date(appointment.date),
        "time": f"{appointment.slot:%H:%M}",
        "store": store.name,
        "store_phone": store.phone,
        "holiday": "",
        "event": "",
    }
    body = f"【{store.sms_signature or store.name}】" + render_placeholders(APPOINTMENT_CONFIRMATION_TEMPLATE, values)
    message, _created = SmsMessage.objects.get_or_create(
        idempotency_key=f"appointment-{appointment.pk}-{appointment.date:%Y%m%d}-{appointment.slot:%H%M}",
        defaults={
            "store": store,
            "customer": customer,
            "code": APPOINTMENT_CONFIRMATION,
            "mobile": customer.mobile,
            "body": body + SMS_OPT_OUT_TEXT,
            "send_date": timezone.localdate(not_before or now),
            "not_before": not_before,
            "appointment": appointment,
        },
    )
    return message


def appointment_messages_withdraw(*, appointment_id: int) -> int:
    """A booking cancelled, missed, kept or moved: its reminder not sent yet is closed and its queued
    messages (confirmation, reminder) are cancelled. Returns how many messages were cancelled."""
    reminder_ids = list(
        FollowupTask.objects.filter(
            code=RuleCode.APPOINTMENT_REMINDER, unit_id=appointment_id, status=TaskStatus.OPEN
        ).values_list("pk", flat=True)
    )
    if reminder_ids:
        FollowupTask.objects.filter(pk__in=reminder_ids, status=TaskStatus.OPEN).update(
            status=TaskStatus.CLOSED, completed_at=timezone.now()
        )
    queued = SmsMessage.objects.filter(status=SmsStatus.QUEUED, code__in=APPOINTMENT_MESSAGE_CODES)
    return (queued.filter(appointment_id=appointment_id) | queued.filter(task_id__in=reminder_ids)).update(
        status=SmsStatus.CANCELLED, lease_until=None
    )


def appointment_messages_listener(event: AppointmentEvent) -> None:
    """The appointment listener (customers/appointment_events.py): a booking gets its confirmation;
    a cancelled, missed, kept or moved one loses what was still to be sent (a moved one is then
    confirmed again for its new slot)."""
    if event.kind in _FINISHED:
        appointment_messages_withdraw(appointment_id=event.appointment_id)
    if event.kind in (AppointmentEventKind.BOOKED, AppointmentEventKind.RESCHEDULED):
        appointment = (
            Appointment.objects.select_related("store", "customer", "vehicle").filter(pk=event.appointment_id).first()
        )
        if appointment is not None:
            appointment_confirmation_queue(appointment=appointment)


# --- Y / N ------------------------------------------------------------------------------------


def _answered_appointment(reply: Reply) -> Appointment | None:
    message = reply.last_message
    if message is None or message.code not in APPOINTMENT_MESSAGE_CODES:
        return None
    if reply.received_at - message.sent_at > APPOINTMENT_REPLY_WINDOW:
        return None
    appointment_id = (message.detail or {}).get("appointment_id")
    if not appointment_id:
        return None
    return Appointment.objects.filter(pk=appointment_id).first()


def appointment_reply_handler(reply: Reply) -> ReplyClaim | None:
    """Y (是, 确认) confirms and N (否, 取消) cancels the booking of the latest message sent to the
    mobile, when that message is an appointment's (the confirmation or the reminder) sent in the
    last 3 days; a later event invitation takes the Y instead. A booking no longer booked or
    confirmed (cancelled, arrived, missed) is left as it is."""
    if reply.word not in CONFIRM_WORDS and reply.word not in CANCEL_WORDS:
        return None
    appointment = _answered_appointment(reply)
    if appointment is None or appointment.status not in (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED):
        return None
    try:
        if reply.word in CONFIRM_WORDS:
            appointment_confirm(user=None, appointment=appointment)
            return ReplyClaim(action=ReplyAction.APPOINTMENT_CONFIRMED)
        appointment_cancel(user=None, appointment=appointment, reason="sms_reply")
        return ReplyClaim(action=ReplyAction.APPOINTMENT_CANCELLED)
    except ApplicationError:  # changed in between (checked in at this moment): nothing to do
        logger.info("reply %s left appointment %s as it is", reply.word, appointment.pk)
        return None
