"""Writes of complaints: intake with routing and SLA clocks, the timeline, closing and reopening,
attachments, and the breach check that escalates each breach exactly once."""

import datetime
import logging
from pathlib import PurePath
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from complaints.choices import (
    ActionKind,
    BreachKind,
    Channel,
    ClockMode,
    Confirmation,
    Department,
    Origin,
    Severity,
    Status,
)
from complaints.models import (
    Complaint,
    ComplaintAction,
    ComplaintAttachment,
    ComplaintType,
    Escalation,
    StoreComplaintSettings,
)
from complaints.sla import add_business_minutes, add_calendar_minutes
from crm.choices import Role
from crm.exceptions import ApplicationError
from crm.models import Store
from crm.selectors import working_calendar
from crm.tasks import enqueue_on_commit
from customers.choices import SatisfactionSource, SatisfactionVerdict
from customers.models import Customer, SatisfactionResult
from customers.satisfaction import department_for_rule, satisfaction_result_record

logger = logging.getLogger(__name__)

# Attachments: what a photo of a scratch, a call recording or a scanned letter can be.
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENT_TYPES = {
    ".jpg": {"image/jpeg"},
    ".jpeg": {"image/jpeg"},
    ".png": {"image/png"},
    ".webp": {"image/webp"},
    ".pdf": {"application/pdf"},
    ".txt": {"text/plain"},
    ".docx": {"application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    ".xlsx": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    ".mp3": {"audio/mpeg"},
    ".m4a": {"audio/mp4", "audio/x-m4a", "audio/m4a"},
    ".wav": {"audio/wav", "audio/x-wav", "audio/wave"},
    ".amr": {"audio/amr"},
    ".mp4": {"video/mp4"},
}


# --- store settings and clocks -------------------------------------------------------------------


def store_complaint_settings(*, store: Store) -> StoreComplaintSettings:
    """The store's settings, created with the defaults (1 hour, 24 hours, calendar) if missing."""
    store_settings, _created = StoreComplaintSettings.objects.select_related(
        "sales_manager", "service_manager", "general_manager"
    ).get_or_create(store=store)
    return store_settings


def complaint_due_at(*, store_settings: StoreComplaintSettings, start: datetime.datetime, minutes: int):
    """When a clock of ``minutes`` started at ``start`` runs out, in the store's clock mode."""
    if store_settings.clock_mode == ClockMode.CALENDAR:
        return add_calendar_minutes(start, minutes)
    local_zone = ZoneInfo(settings.TIME_ZONE)
    first_day = start.astimezone(local_zone).date()
    calendar = working_calendar(first_day=first_day, last_day=first_day + datetime.timedelta(days=120))
    return add_business_minutes(
        start,
        minutes,
        day_start=store_settings.business_day_start,
        day_end=store_settings.business_day_end,
        is_working_day=calendar.is_working_day,
        timezone=local_zone,
    )


def _close_minutes(store_settings: StoreComplaintSettings) -> int:
    return store_settings.close_hours * 60


# --- attachments ----------------------------------------------------------------------------------


def attachment_validate(uploaded_file) -> None:
    """Refuse a file of a type not on the list, a content type that does not match its name, or
    one over 10 MB, with a message that says which rule and which file."""
    name = uploaded_file.name or ""
    extension = PurePath(name).suffix.lower()
    allowed_types = ATTACHMENT_TYPES.get(extension)
    if allowed_types is None:
        raise ValidationError(
            _("“%(name)s” is not an accepted file type. Accepted: %(types)s.")
            % {"name": name, "types": ", ".join(sorted(ext.lstrip(".") for ext in ATTACHMENT_TYPES))}
        )
    content_type = (getattr(uploaded_file, "content_type", "") or "").split(";")[0].strip().lower()
    if content_type not in allowed_types:
        raise ValidationError(
            _("“%(name)s” says it is %(content_type)s, which does not match its name.")
            % {"name": name, "content_type": content_type or "?"}
        )
    if uploaded_file.size > ATTACHMENT_MAX_BYTES:
        raise ValidationError(
            _("“%(name)s” is %(size).1f MB; attachments may be at most 10 MB.")
            % {"name": name, "size": uploaded_file.size / 1024 / 1024}
        )


@transaction.atomic
def complaint_attachment_add(*, actor, complaint: Complaint, uploaded_file) -> ComplaintAttachment:
    try:
        attachment_validate(uploaded_file)
    except ValidationError as error:
        raise ApplicationError(error.messages[0]) from None
    attachment = ComplaintAttachment(
        complaint=complaint,
        original_name=PurePath(uploaded_file.name).name[:200],
        content_type=uploaded_file.content_type,
        size=uploaded_file.size,
        uploaded_by=actor,
    )
    attachment.file.save(PurePath(uploaded_file.name).name, uploaded_file, save=False)
    attachment.full_clean()
    attachment.save()
    return attachment


# --- intake ---------------------------------------------------------------------------------------


@transaction.atomic
def complaint_create(
    *,
    actor,
    customer,
    store: Store | None = None,
    vehicle=None,
    channel: str,
    department: str,
    complaint_type: ComplaintType,
    severity: str,
    description: str,
    staff_concerned=None,
    staff_concerned_name: str = "",
    followup_task_id: int | None = None,
    origin: str = Origin.DESK,
    origin_reference: str = "",
    attachments=(),
    received_at: datetime.datetime | None = None,
) -> Complaint:
    """Log a complaint: route it to the department's manager, start both clocks and e-mail the
    manager (copy to the general manager) as soon as the transaction commits. ``origin`` and
    ``origin_reference`` say where in the CRM it was logged from (the call task, the result…)."""
    store = store or customer.store
    if vehicle is not None and vehicle.customer_id != customer.pk:
        raise ApplicationError(_("The vehicle does not belong to this customer."))
    if not complaint_type.is_active:
        raise ApplicationError(_("This complaint type is no longer in use."))
    for uploaded_file in attachments:
        try:
            attachment_validate(uploaded_file)
        except ValidationError as error:
            raise ApplicationError(error.messages[0]) from None
    received_at = received_at or timezone.now()
    store_settings = store_complaint_settings(store=store)
    complaint = Complaint(
        store=store,
        customer=customer,
        vehicle=vehicle,
        channel=channel,
        department=department,
        complaint_type=complaint_type,
        severity=severity,
        staff_concerned=staff_concerned,
        staff_concerned_name=staff_concerned_name,
        description=description,
        received_at=received_at,
        assigned_manager=store_settings.manager_for(department) or store_settings.general_manager,
        response_due_at=complaint_due_at(
            store_settings=store_settings, start=received_at, minutes=store_settings.response_minutes
        ),
        close_due_at=complaint_due_at(
            store_settings=store_settings, start=received_at, minutes=_close_minutes(store_settings)
        ),
        followup_task_id=followup_task_id,
        origin=origin,
        origin_reference=origin_reference,
        created_by=actor,
    )
    complaint.full_clean()
    complaint._history_user = actor
    complaint.save()
    ComplaintAction.objects.create(
        complaint=complaint, kind=ActionKind.LOGGED, actor=actor, at=received_at, reference=origin_reference
    )
    for uploaded_file in attachments:
        complaint_attachment_add(actor=actor, complaint=complaint, uploaded_file=uploaded_file)

    # Broker down: the complaint is saved all the same, ``notification.queued`` says so after the
    # commit and the minutely sweep sends the notice once the broker is back. (Tasks are queued by
    # name: complaints.tasks imports this module.)
    complaint.notification = enqueue_on_commit("complaints.tasks.complaint_notify_manager", complaint.pk)
    return complaint


# --- working a complaint --------------------------------------------------------------------------


def _locked(complaint: Complaint) -> Complaint:
    return Complaint.objects.select_for_update().get(pk=complaint.pk)


@transaction.atomic
def complaint_record_action(*, actor, complaint: Complaint, kind: str, note: str = "") -> ComplaintAction:
    """Add a step to the timeline. The first step is the manager's response: it stops the
    response clock and puts the complaint in progress."""
    if kind not in ActionKind.working_kinds():
        raise ApplicationError(_("Choose what was done: acknowledged, contacted, solution, compensation or resolved."))
    complaint = _locked(complaint)
    if complaint.is_closed:
        raise ApplicationError(_("This complaint is closed: reopen it before adding to it."))
    if kind in (ActionKind.SOLUTION_PROPOSED, ActionKind.COMPENSATION, ActionKind.RESOLVED) and not note.strip():
        raise ApplicationError(_("Say what was proposed, given or done in the note."))
    now = timezone.now()
    action = ComplaintAction(complaint=complaint, kind=kind, note=note.strip(), actor=actor, at=now)
    action.full_clean()
    action.save()
    if complaint.first_response_at is None or complaint.status == Status.OPEN:
        complaint.first_response_at = complaint.first_response_at or now
        complaint.status = Status.IN_PROGRESS
        complaint._history_user = actor
        complaint.save(update_fields=["first_response_at", "status", "updated_at"])
    return action


@transaction.atomic
def complaint_close(
    *, actor, complaint: Complaint, resolution: str, confirmation: str, confirmation_note: str = ""
) -> Complaint:
    """Close with the resolution and the customer's confirmation taken on the callback."""
    complaint = _locked(complaint)
    if complaint.is_closed:
        raise ApplicationError(_("This complaint is already closed."))
    if not (resolution or "").strip():
        raise ApplicationError(_("Write the resolution before closing the complaint."))
    if confirmation not in Confirmation.values:
        raise ApplicationError(
            _(
                "The complaint cannot be closed without the customer's confirmation: call the customer back "
                "and record whether they are satisfied."
            )
        )
    now = timezone.now()
    complaint.status = Status.CLOSED
    complaint.closed_at = now
    complaint.first_response_at = complaint.first_response_at or now
    complaint.resolution = resolution.strip()
    complaint.customer_confirmation = confirmation
    complaint.confirmation_note = (confirmation_note or "").strip()
    complaint.full_clean()
    complaint._history_user = actor
    complaint.save()
    note = f"{Confirmation(confirmation).label}. {complaint.confirmation_note}".strip()
    ComplaintAction.objects.create(complaint=complaint, kind=ActionKind.CLOSED, note=note, actor=actor, at=now)
    # The customer's word on the callback is a satisfaction result of its own (docs/closed-loop.md):
    # "not satisfied" keeps (or makes) the customer dissatisfied, "satisfied" ends it. One per
    # closing: a reopened and closed again complaint records its n-th closing.
    satisfaction_result_record(
        customer=complaint.customer,
        department=complaint.department,
        source=SatisfactionSource.COMPLAINT_CLOSE,
        reference=f"complaintclose:{complaint.pk}:{complaint.reopened_count}",
        at=now,
        verdict=(
            SatisfactionVerdict.SATISFIED
            if confirmation == Confirmation.SATISFIED
            else SatisfactionVerdict.DISSATISFIED
        ),
        statement=note,
        user=actor,
    )
    return complaint


def complaint_default_department(*, user, origin: str = Origin.DESK, rule_code: str = "") -> str:
    """The department a complaint starts in (a manager may correct it): a call's is its rule's
    (``department_for_rule``), a delivery's or a delivery interview's is sales; one logged at a desk
    is the desk's: sales for a sales consultant, service for everyone else (advisors, agents)."""
    if origin in (Origin.CALL, Origin.SMS_REPLY) and rule_code:
        return department_for_rule(rule_code)
    if origin in (Origin.DELIVERY, Origin.DELIVERY_INTERVIEW):
        return Department.SALES
    return Department.SALES if getattr(user, "role", None) == Role.SALES_CONSULTANT else Department.SERVICE


@transaction.atomic
def complaint_department_change(*, actor, complaint: Complaint, department: str) -> Complaint:
    """A manager corrects the department: the complaint goes to the new department's manager (the
    general manager when it has none), who is told as at intake; the timeline says from what to what,
    by whom and when, and the complaint's history keeps the change. The clocks do not restart."""
    if department not in Department.values:
        raise ApplicationError(_("Choose the department: sales or service."))
    complaint = _locked(complaint)
    if complaint.is_closed:
        raise ApplicationError(_("This complaint is closed: reopen it before changing its department."))
    if complaint.department == department:
        raise ApplicationError(_("The complaint is already with this department."))
    store_settings = store_complaint_settings(store=complaint.store)
    previous = complaint.department
    now = timezone.now()
    complaint.department = department
    complaint.assigned_manager = store_settings.manager_for(department) or store_settings.general_manager
    complaint.notified_at = None
    complaint.notify_lease_until = None
    complaint.full_clean()
    complaint._history_user = actor
    complaint.save()
    with translation.override(settings.LANGUAGE_CODE):
        note = _("Department changed from %(old)s to %(new)s.") % {
            "old": Department(previous).label,
            "new": Department(department).label,
        }
    ComplaintAction.objects.create(
        complaint=complaint, kind=ActionKind.DEPARTMENT_CHANGED, note=note, actor=actor, at=now
    )
    complaint.notification = enqueue_on_commit("complaints.tasks.complaint_notify_manager", complaint.pk)
    return complaint


# --- the closed loop ------------------------------------------------------------------------------

_CHANNEL_FOR_SOURCE = {
    SatisfactionSource.CALL: Channel.SATISFACTION_CALLBACK,
    SatisfactionSource.SMS_REPLY: Channel.SMS,
    SatisfactionSource.DELIVERY_INTERVIEW: Channel.IN_STORE,
}
_ORIGIN_FOR_SOURCE = {
    SatisfactionSource.CALL: Origin.CALL,
    SatisfactionSource.SMS_REPLY: Origin.SMS_REPLY,
    SatisfactionSource.DELIVERY_INTERVIEW: Origin.DELIVERY_INTERVIEW,
}
# The type a complaint opened by a result starts with (a manager may change it): the store's list
# is admin-edited, so the first active type of the department, else the first general one.
_DEFAULT_TYPE_FOR_DEPARTMENT = {Department.SALES: "交车流程", Department.SERVICE: "维修质量"}
_FALLBACK_TYPE = "其他"


def _type_for_result(department: str) -> ComplaintType:
    types = ComplaintType.objects.filter(is_active=True)
    found = (
        types.filter(name=_DEFAULT_TYPE_FOR_DEPARTMENT.get(department, "")).first()
        or types.filter(department=department).order_by("sort_order", "name").first()
        or types.filter(department="").order_by("sort_order", "name").first()
    )
    if found is None:
        # Every type switched off: the complaint is not lost, it is filed as 其他 (turned back on).
        logger.warning("no active complaint type for a dissatisfied result: using 其他")
        found, _created = ComplaintType.objects.update_or_create(
            name=_FALLBACK_TYPE, defaults={"is_active": True, "department": ""}
        )
    return found


def result_statement(result: SatisfactionResult) -> str:
    """A result as a complaint's statement: where and when it was recorded, the score or verdict,
    then its answers and notes."""
    with translation.override(settings.LANGUAGE_CODE):
        head = _("%(source)s on %(date)s: %(verdict)s") % {
            "source": SatisfactionSource(result.source).label,
            "date": timezone.localtime(result.at).strftime("%Y-%m-%d %H:%M"),
            "verdict": (
                _("score %(score)s of 5") % {"score": result.score}
                if result.score is not None
                else SatisfactionVerdict(result.verdict).label
            ),
        }
    return f"{head}\n{result.statement}".strip()


@transaction.atomic
def complaint_open_for_result(*, result: SatisfactionResult) -> Complaint | ComplaintAction | None:
    """The closed loop (docs/closed-loop.md): a dissatisfied result opens a complaint at once for its
    department, its statement as the description; a customer with an open complaint has the result
    added to it instead (the oldest open one). Results of a complaint's own closing, and results
    not dissatisfied, do nothing. Safe to call twice for one result: it is handled once."""
    if result.verdict != SatisfactionVerdict.DISSATISFIED or result.source == SatisfactionSource.COMPLAINT_CLOSE:
        return None
    # One result at a time per customer: two dissatisfied results at the same moment (a call and an
    # SMS reply) must not open two complaints.
    Customer.objects.select_for_update().filter(pk=result.customer_id).values_list("pk", flat=True).first()
    if (
        Complaint.objects.filter(origin_reference=result.reference).exists()
        or ComplaintAction.objects.filter(reference=result.reference).exists()
    ):
        return None
    open_complaint = (
        Complaint.objects.select_for_update()
        .filter(customer_id=result.customer_id)
        .exclude(status=Status.CLOSED)
        .order_by("received_at", "id")
        .first()
    )
    statement = result_statement(result)
    if open_complaint is not None:
        action = ComplaintAction(
            complaint=open_complaint,
            kind=ActionKind.RESULT_ADDED,
            note=statement[:2000],
            actor=result.recorded_by,
            at=result.at,
            reference=result.reference,
        )
        action.full_clean()
        action.save()
        return action
    complaint_type = _type_for_result(result.department)
    customer = result.customer
    return complaint_create(
        actor=result.recorded_by,
        customer=customer,
        channel=_CHANNEL_FOR_SOURCE.get(result.source, Channel.IN_STORE),
        department=result.department,
        complaint_type=complaint_type,
        severity=Severity.MEDIUM,
        description=statement[:5000],
        origin=_ORIGIN_FOR_SOURCE.get(result.source, Origin.DESK),
        origin_reference=result.reference,
        received_at=result.at,
    )


def open_for_dissatisfied(result: SatisfactionResult) -> None:
    """The listener registered in ``ComplaintsConfig.ready`` (customers.satisfaction)."""
    complaint_open_for_result(result=result)


@transaction.atomic
def complaint_reopen(*, actor, complaint: Complaint, reason: str) -> Complaint:
    """Reopen a closed complaint: a new closing clock starts now (the response already came)."""
    complaint = _locked(complaint)
    if not complaint.is_closed:
        raise ApplicationError(_("Only a closed complaint can be reopened."))
    if not (reason or "").strip():
        raise ApplicationError(_("Say why the complaint is reopened."))
    now = timezone.now()
    store_settings = store_complaint_settings(store=complaint.store)
    complaint.status = Status.IN_PROGRESS
    complaint.closed_at = None
    complaint.customer_confirmation = ""
    complaint.confirmation_note = ""
    complaint.reopened_count += 1  # the row is locked (select_for_update)
    complaint.close_due_at = max(
        complaint_due_at(store_settings=store_settings, start=now, minutes=_close_minutes(store_settings)),
        complaint.response_due_at,
    )
    complaint._history_user = actor
    complaint.save()
    ComplaintAction.objects.create(
        complaint=complaint, kind=ActionKind.REOPENED, note=reason.strip(), actor=actor, at=now
    )
    return complaint


# --- e-mail ---------------------------------------------------------------------------------------


def complaint_url(complaint: Complaint) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("complaints:detail", args=[complaint.pk])


def _address(user) -> list[str]:
    return [user.email] if user is not None and user.email else []


def _send(*, subject: str, template: str, context: dict, to: list[str], cc: list[str]) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        body = render_to_string(template, context)
        message = EmailMessage(subject=str(subject), body=body, to=to, cc=cc)
        message.send(fail_silently=False)


def _email_lease_until(now: datetime.datetime) -> datetime.datetime:
    return now + datetime.timedelta(seconds=settings.COMPLAINT_EMAIL_LEASE_SECONDS)


def _lease_free(field: str, now: datetime.datetime) -> Q:
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": now})


def complaint_notify_manager_send(*, complaint_id: int) -> bool:
    """E-mail the responsible manager, copy to the general manager: at least once, and in practice
    exactly once. A run first leases the notice (a conditional update: two runs never send at the
    same time), sends, and only then marks it notified. A run that fails gives the lease back; a
    worker that dies mid-send leaves it to lapse (COMPLAINT_EMAIL_LEASE_SECONDS), and the sweep
    sends again. Returns whether this run sent it."""
    now = timezone.now()
    claimed = (
        Complaint.objects.filter(_lease_free("notify_lease_until", now), pk=complaint_id, notified_at__isnull=True)
        .update(notify_lease_until=_email_lease_until(now))
    )  # fmt: skip
    if not claimed:
        return False
    mine = Complaint.objects.filter(pk=complaint_id, notified_at__isnull=True)
    try:
        complaint = Complaint.objects.select_related(
            "store", "customer", "vehicle", "complaint_type", "assigned_manager", "staff_concerned"
        ).get(pk=complaint_id)
        store_settings = store_complaint_settings(store=complaint.store)
        to = _address(complaint.assigned_manager)
        cc = [address for address in _address(store_settings.general_manager) if address not in to]
        if not to and cc:
            to, cc = cc, []
        if not to:
            logger.warning("complaint %s: no manager with an e-mail address to notify", complaint_id)
            mine.update(notified_at=timezone.now(), notify_lease_until=None)
            return False
        with translation.override(settings.LANGUAGE_CODE):
            subject = _("New complaint #%(number)s: %(customer)s, %(department)s, reply by %(due)s") % {
                "number": complaint.pk,
                "customer": complaint.customer.name,
                "department": complaint.get_department_display(),
                "due": timezone.localtime(complaint.response_due_at).strftime("%Y-%m-%d %H:%M"),
            }
        _send(
            subject=subject,
            template="complaints/email/intake.txt",
            context={"complaint": complaint, "url": complaint_url(complaint)},
            to=to,
            cc=cc,
        )
    except Exception:
        mine.update(notify_lease_until=None)
        raise
    mine.update(notified_at=timezone.now(), notify_lease_until=None)
    return True


@transaction.atomic
def complaints_flag_breaches(*, now: datetime.datetime | None = None) -> list[int]:
    """Record every breached clock as an Escalation row (once per complaint, breach, level and
    reopening: INSERT … ON CONFLICT DO NOTHING) and queue one e-mail per new row on commit.

    Safe to run twice and concurrently: the second run inserts nothing and sends nothing.
    Returns the IDs of the escalations created by this run.
    """
    now = now or timezone.now()
    created_ids: list[int] = []
    breach_conditions = {
        BreachKind.RESPONSE: ("c.response_due_at", "c.first_response_at IS NULL AND c.response_due_at <= %s"),
        BreachKind.CLOSE: ("c.close_due_at", "c.close_due_at <= %s"),
    }
    with connection.cursor() as cursor:
        for kind, (due_column, condition) in breach_conditions.items():
            cursor.execute(
                f"""
                INSERT INTO complaints_escalation (complaint_id, kind, level, cycle, due_at, created_at, recipients)
                SELECT c.id, %s, 1, c.reopened_count, {due_column}, %s, ''
                FROM complaints_complaint c
                WHERE c.status <> 'closed' AND {condition}
                ON CONFLICT (complaint_id, kind, level, cycle) DO NOTHING
                RETURNING id
                """,
                [kind.value, now, now],
            )
            created_ids.extend(row[0] for row in cursor.fetchall())
    if created_ids:
        escalations = Escalation.objects.filter(pk__in=created_ids)
        ComplaintAction.objects.bulk_create(
            ComplaintAction(
                complaint_id=escalation.complaint_id,
                kind=ActionKind.ESCALATED,
                note=str(BreachKind(escalation.kind).label),
                at=now,
            )
            for escalation in escalations
        )
        for escalation_id in created_ids:
            enqueue_on_commit("complaints.tasks.escalation_send", escalation_id)
    return created_ids


def complaints_unnotified(
    *, now: datetime.datetime, older_than: datetime.datetime, since: datetime.datetime
) -> list[int]:
    """Complaints logged between ``since`` and ``older_than`` whose manager notice has not gone out
    and is not being sent (no lease, or one that lapsed): the broker was down at intake, SMTP was
    down past the retries, or the worker died mid-send. To send again."""
    return list(
        Complaint.objects.filter(
            _lease_free("notify_lease_until", now),
            notified_at__isnull=True,
            created_at__gte=since,
            created_at__lte=older_than,
        ).values_list("pk", flat=True)
    )


def escalations_unsent(*, now: datetime.datetime, older_than: datetime.datetime) -> list[int]:
    """Escalations whose e-mail has not gone out and is not being sent: to send again."""
    return list(
        Escalation.objects.filter(
            _lease_free("send_lease_until", now), sent_at__isnull=True, created_at__lte=older_than
        ).values_list("pk", flat=True)
    )


def escalation_send_email(*, escalation_id: int) -> bool:
    """E-mail the next level (the general manager and the store's escalation addresses, copy to
    the responsible manager): leased, sent, then marked sent, as complaint_notify_manager_send."""
    now = timezone.now()
    claimed = Escalation.objects.filter(
        _lease_free("send_lease_until", now), pk=escalation_id, sent_at__isnull=True
    ).update(send_lease_until=_email_lease_until(now))
    if not claimed:
        return False
    mine = Escalation.objects.filter(pk=escalation_id, sent_at__isnull=True)
    try:
        escalation = Escalation.objects.select_related(
            "complaint__store", "complaint__customer", "complaint__assigned_manager", "complaint__complaint_type"
        ).get(pk=escalation_id)
        complaint = escalation.complaint
        store_settings = store_complaint_settings(store=complaint.store)
        to = _address(store_settings.general_manager) + store_settings.escalation_addresses()
        cc = [address for address in _address(complaint.assigned_manager) if address not in to]
        if not to:
            to, cc = cc, []
        mine.update(recipients=", ".join(to + cc)[:500])
        if not to:
            logger.warning("escalation %s: nobody with an e-mail address to escalate to", escalation_id)
            mine.update(sent_at=timezone.now(), send_lease_until=None)
            return False
        with translation.override(settings.LANGUAGE_CODE):
            subject = _("Overdue complaint #%(number)s: %(breach)s (%(store)s)") % {
                "number": complaint.pk,
                "breach": BreachKind(escalation.kind).label,
                "store": complaint.store.name,
            }
        _send(
            subject=subject,
            template="complaints/email/escalation.txt",
            context={"complaint": complaint, "escalation": escalation, "url": complaint_url(complaint)},
            to=to,
            cc=cc,
        )
    except Exception:
        mine.update(send_lease_until=None)
        raise
    mine.update(sent_at=timezone.now(), send_lease_until=None)
    return True
