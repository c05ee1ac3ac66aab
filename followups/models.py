"""Follow-up rules per store, the tasks generated from them, call attempts and SMS."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from crm.masking import mask_phone
from crm.models import Store, TimeStampedModel
from customers.choices import ReplyAction
from followups.choices import (
    REACHED_OUTCOMES,
    SMS_CODE_CHOICES,
    CallOutcome,
    CampaignKind,
    CampaignStatus,
    Channel,
    DeliveryStatus,
    RuleCode,
    SmsStatus,
    TaskStatus,
    WorkedBy,
)
from followups.placeholders import template_errors


class FollowupRule(TimeStampedModel):
    """One rule of docs/followups.md for one store: on/off, offset, channel, priority, script, questionnaire
    and SMS template. Managers edit it; every change is kept in the history."""

    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="followup_rules")
    code = models.CharField(_("rule"), max_length=40, choices=RuleCode.choices)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    offset_days = models.IntegerField(
        _("offset (days)"), default=0, help_text=_("Days added to the rule's base date (negative: before it).")
    )
    offset_months = models.PositiveSmallIntegerField(
        _("offset (months)"), default=0, help_text=_("Months after the last visit (points expiry).")
    )
    interval_days = models.PositiveSmallIntegerField(
        _("maintenance interval (days)"), default=180, help_text=_("Maintenance due: longest interval.")
    )
    distance_km = models.PositiveIntegerField(
        _("maintenance distance (km)"), default=5000, help_text=_("Maintenance due: distance between services.")
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    priority = models.PositiveSmallIntegerField(_("priority"), default=5, help_text=_("1 is called first."))
    script = models.TextField(_("call script"), blank=True)
    questionnaire = models.JSONField(
        _("questionnaire"),
        default=list,
        blank=True,
        help_text=_(
            'The questions asked on the call, each {"text", "type"} with type score, yes_no, choice or text; '
            'a choice question lists its "choices", a score question may name its satisfaction "factor".'
        ),
    )
    sms_template = models.TextField(
        _("SMS template"),
        blank=True,
        help_text=_("Fields: {name} {plate} {model} {date} {store} {store_phone} {holiday} {points}"),
    )
    worked_by = models.CharField(
        _("worked by"),
        max_length=20,
        choices=WorkedBy.choices,
        default=WorkedBy.QUEUE,
        help_text=_(
            "Phone rules only. A person's tasks appear in their own list (My tasks); with no such member of "
            "staff in the store, the task goes to the call centre's queue."
        ),
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["store", "code"]
        verbose_name = _("follow-up rule")
        verbose_name_plural = _("follow-up rules")
        constraints = [
            models.UniqueConstraint(
                fields=["store", "code"],
                name="followuprule_store_code_unique",
                violation_error_message=_("The store already has this rule."),
            ),
            models.CheckConstraint(
                condition=Q(priority__range=(1, 9)),
                name="followuprule_priority_range",
                violation_error_message=_("Priority is between 1 and 9."),
            ),
            models.CheckConstraint(
                condition=Q(interval_days__gte=1) & Q(distance_km__gte=1),
                name="followuprule_maintenance_positive",
                violation_error_message=_("Maintenance interval and distance must be positive."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store.code} {self.get_code_display()}"

    @property
    def parameters(self) -> tuple[str, ...]:
        """The parameters (offset_days, offset_months, interval_days, distance_km) this rule's builder
        reads: the others change nothing (customers.rule_builders)."""
        from customers.rule_builders import rule_parameters

        return rule_parameters(self.code)

    def clean(self) -> None:
        # A template naming a field no message fills ({unknown}, {Name}, {姓名}) would reach customers
        # with the braces in it: refused on every way in (the rule page, the admin, the service).
        from followups.placeholders import template_errors
        from followups.questionnaires import questionnaire_errors

        # Every question has a known type and its text, a choice question its options.
        if errors := questionnaire_errors(self.questionnaire):
            raise ValidationError({"questionnaire": errors})
        if self.sms_template and (errors := template_errors(self.sms_template)):
            raise ValidationError({"sms_template": errors})
        if self.worked_by != WorkedBy.QUEUE and self.channel != Channel.PHONE:
            raise ValidationError(
                {"worked_by": _("Only a phone rule can be worked by a person: an SMS is sent by the system.")}
            )


class FollowupTask(models.Model):
    """A call or an SMS due to one unit (a vehicle or a customer) for one rule date R.

    ``queue_date`` is Q of docs/followups.md and never changes; ``work_date`` starts at Q and moves when
    an unanswered call rolls over or the customer asks to be called back.
    """

    # FK indexes the unique key and followuptask_customer_idx already cover are left out: the
    # generation of a greeting day inserts one row per owner.
    rule = models.ForeignKey(
        FollowupRule, verbose_name=_("rule"), on_delete=models.PROTECT, related_name="tasks", db_index=False
    )
    code = models.CharField(_("rule code"), max_length=40, choices=RuleCode.choices)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="followup_tasks",
        db_index=False,
    )
    vehicle = models.ForeignKey(
        "customers.Vehicle",
        verbose_name=_("vehicle"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="followup_tasks",
        db_index=False,  # followuptask_vehicle_idx, without the customer-level rows
    )
    unit_id = models.BigIntegerField(_("unit"), help_text=_("The vehicle ID for vehicle rules, else the customer ID."))
    rule_date = models.DateField(_("rule date"))
    queue_date = models.DateField(_("queue date"))
    work_date = models.DateField(_("work date"))
    subject_date = models.DateField(_("subject date"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    priority = models.PositiveSmallIntegerField(_("priority"), default=5)
    status = models.CharField(_("status"), max_length=20, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("claimed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    callback_at = models.DateTimeField(_("call back at"), null=True, blank=True)
    outcome = models.CharField(_("last outcome"), max_length=20, choices=CallOutcome.choices, blank=True)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # followuptask_assignee_idx, open tasks only
        help_text=_("The member of staff who works the task; empty: the call centre's queue."),
    )

    class Meta:
        ordering = ["work_date", "priority", "id"]
        verbose_name = _("follow-up task")
        verbose_name_plural = _("follow-up tasks")
        permissions = [
            ("work_call_queue", _("Can work the call queue")),
            ("view_followup_reports", _("Can see follow-up reports and the queue preview")),
            ("export_sms_list", _("Can download the day's SMS list")),
            ("work_own_tasks", _("Can work the follow-up tasks assigned to them")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "unit_id", "rule_date"],
                name="followuptask_rule_unit_date_unique",
                violation_error_message=_("This unit already has a task of this rule for this date."),
            ),
        ]
        indexes = [
            # The call queue's claim walks this index in the queue's order (selectors.QUEUE_ORDER).
            models.Index(
                fields=["priority", "work_date", "customer", "id"],
                name="followuptask_queue_order_idx",
                condition=Q(status="open", channel="phone"),
            ),
            # An agent's stores' open phone tasks (none of the other stores'): the queue page's list
            # and figures read them from the index alone, no visit of the table's rows; and an agent
            # of one store claims the first of them in the queue's order (QUEUE_ORDER after the store).
            models.Index(
                fields=["store", "priority", "work_date", "customer", "id"],
                include=["callback_at", "assignee", "claimed_by", "claimed_at"],
                name="followuptask_store_queue_idx",
                condition=Q(status="open", channel="phone"),
            ),
            # "Done today" on the queue page: a range from local midnight to the next, of the whole
            # group (a group's agent) or of the agent's stores (the store first: a store's agents
            # no longer read the rest of the group's day, which grows through the day).
            models.Index(
                fields=["completed_at"], name="followuptask_completed_idx", condition=Q(completed_at__isnull=False)
            ),
            models.Index(
                fields=["store", "completed_at"],
                name="followuptask_store_done_idx",
                condition=Q(completed_at__isnull=False),
            ),
            models.Index(fields=["queue_date", "code"], name="followuptask_queue_date_idx"),
            models.Index(fields=["customer", "status"], name="followuptask_customer_idx"),
            models.Index(fields=["vehicle"], name="followuptask_vehicle_idx", condition=Q(vehicle__isnull=False)),
            models.Index(fields=["claimed_by"], name="followuptask_claimed_idx", condition=Q(claimed_by__isnull=False)),
            # My tasks, and the nightly release of departed staff's tasks, read the open assigned ones.
            models.Index(
                fields=["assignee", "work_date"],
                name="followuptask_assignee_idx",
                condition=Q(status="open", assignee__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_code_display()} {self.rule_date} #{self.pk}"


class CallAttempt(models.Model):
    """One task's part of one call: several tasks of a customer worked as one call share ``call_key``."""

    task = models.ForeignKey(
        FollowupTask, verbose_name=_("task"), on_delete=models.CASCADE, related_name="attempts_made"
    )
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="call_attempts"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("agent"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    call_key = models.UUIDField(_("call"))
    at = models.DateTimeField(_("at"), db_index=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=CallOutcome.choices)
    answers = models.JSONField(_("answers"), default=dict, blank=True)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True, blank=True)
    is_dissatisfied = models.BooleanField(_("dissatisfied"), default=False)
    notes = models.TextField(_("notes"), blank=True)
    callback_at = models.DateTimeField(_("call back at"), null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("call attempt")
        verbose_name_plural = _("call attempts")
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__range=(1, 5)),
                name="callattempt_satisfaction_range",
                violation_error_message=_("Satisfaction is between 1 and 5."),
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "at"], name="callattempt_customer_at_idx"),
            # The follow-up reports list a period's dissatisfied calls, newest first.
            models.Index(fields=["at"], name="callattempt_dissatisfied_idx", condition=Q(is_dissatisfied=True)),
            # The reports' funnel: a period's reaching calls (covering: read without the rows) and,
            # per task, whether one came before (followups.selectors.call_funnel_report).
            models.Index(
                fields=["at"],
                include=["task", "agent", "id"],
                name="callattempt_reach_at_idx",
                condition=Q(outcome__in=REACHED_OUTCOMES),
            ),
            models.Index(
                fields=["task", "at", "id"],
                name="callattempt_task_reach_idx",
                condition=Q(outcome__in=REACHED_OUTCOMES),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_outcome_display()}"


class SmsMessage(models.Model):
    """One SMS of one task. ``idempotency_key`` is unique: a retried batch never makes a second one,
    and the gateway receives the key so a resend after a crash is recognised."""

    task = models.OneToOneField(
        FollowupTask, verbose_name=_("task"), null=True, blank=True, on_delete=models.SET_NULL, related_name="sms"
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, unique=True)
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="sms_messages"
    )
    code = models.CharField(_("rule code"), max_length=40, choices=SMS_CODE_CHOICES, blank=True)
    mobile = models.CharField(_("mobile"), max_length=11)
    body = models.TextField(_("text"))
    send_date = models.DateField(_("send date"))
    status = models.CharField(_("status"), max_length=20, choices=SmsStatus.choices, default=SmsStatus.QUEUED)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    send_attempts = models.PositiveSmallIntegerField(_("send attempts"), default=0)
    gateway_message_id = models.CharField(_("gateway message ID"), max_length=100, blank=True)
    delivery_status = models.CharField(
        _("delivery status"), max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.UNKNOWN
    )
    error = models.CharField(_("error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    campaign = models.ForeignKey(
        "followups.Campaign",
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )
    not_before = models.DateTimeField(
        _("not before"),
        null=True,
        blank=True,
        help_text=_("A campaign's send time, or the next sending window: not handed over earlier."),
    )
    appointment = models.ForeignKey(
        "customers.Appointment",
        verbose_name=_("appointment"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The booking an appointment confirmation is about (a reply Y/N answers it)."),
    )

    class Meta:
        ordering = ["-send_date", "id"]
        verbose_name = _("SMS message")
        verbose_name_plural = _("SMS messages")
        indexes = [
            models.Index(fields=["store", "send_date", "status"], name="smsmessage_store_day_idx"),
            models.Index(fields=["mobile", "sent_at"], name="smsmessage_mobile_idx"),
            # The minutely resume sweep looks for lapsed leases among the few messages being sent.
            models.Index(fields=["lease_until"], name="smsmessage_sending_lease_idx", condition=Q(status="sending")),
            # ... and for due messages still queued in a store where no batch is sending.
            models.Index(fields=["send_date"], name="smsmessage_queued_idx", condition=Q(status="queued")),
        ]

    def __str__(self) -> str:
        # Shown in the admin's titles and pickers: never the whole number.
        return f"{mask_phone(self.mobile)} {self.send_date} {self.get_status_display()}"

    @property
    def detail(self) -> dict:
        """The detail of the task the message was sent for (an invitation's event, …): what a reply
        handler reads of it (customers.sms_replies.SentMessage)."""
        if self.task_id:
            return self.task.detail or {}
        # A booking's confirmation has no task: it names its appointment.
        return {"appointment_id": self.appointment_id} if self.appointment_id else {}


class InboundSms(models.Model):
    """A reply received from the gateway, and what it did (opt-out, satisfaction, RSVP)."""

    mobile = models.CharField(_("mobile"), max_length=20)
    text = models.CharField(_("text"), max_length=500)
    received_at = models.DateTimeField(_("received at"), db_index=True)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sms_replies",
    )
    in_reply_to = models.ForeignKey(
        SmsMessage, verbose_name=_("in reply to"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(_("action"), max_length=30, choices=ReplyAction.choices, default=ReplyAction.NONE)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("SMS reply")
        verbose_name_plural = _("SMS replies")

    def __str__(self) -> str:
        return f"{mask_phone(self.mobile)} {self.text[:20]}"


class GenerationRun(models.Model):
    """A rule of a store generated for a date D: the beat job catches up from the last one."""

    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+")
    code = models.CharField(_("rule code"), max_length=40, choices=RuleCode.choices)
    date = models.DateField(_("generation date"))
    created_count = models.PositiveIntegerField(_("tasks made"), default=0)
    finished_at = models.DateTimeField(_("finished at"), auto_now=True)

    class Meta:
        ordering = ["-date", "store", "code"]
        verbose_name = _("generation run")
        verbose_name_plural = _("generation runs")
        constraints = [
            models.UniqueConstraint(
                fields=["store", "code", "date"],
                name="generationrun_store_code_date_unique",
                violation_error_message=_("This rule was already generated for this date."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.store_id} {self.code} {self.date}"


class Campaign(TimeStampedModel):
    """An SMS campaign (营销短信): one template sent to a segment of a store's customers (or, for a
    special-weather care message, to the owners of chosen districts) once a manager approved it.
    Approval fixes the recipients and the holdout (``CampaignRecipient``) and queues the messages
    (``SmsMessage`` with this campaign) that the store's SMS batches send in the window."""

    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=CampaignKind.choices, default=CampaignKind.PROMOTION)
    segment = models.ForeignKey(
        "customers.Segment",
        verbose_name=_("segment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    districts = models.JSONField(_("districts"), default=list, blank=True)
    template = models.TextField(
        _("text"),
        help_text=_("Fields: {name} {plate} {model} {date} {store} {store_phone} {points}"),
    )
    send_at = models.DateTimeField(_("send at"))
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout (%)"), default=10, help_text=_("Share of the recipients not sent, to measure the effect.")
    )
    status = models.CharField(_("status"), max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-send_at", "-id"]
        verbose_name = _("SMS campaign")
        verbose_name_plural = _("SMS campaigns")
        permissions = [("approve_campaign", _("Can approve an SMS campaign"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(holdout_percent__lte=50),
                name="campaign_holdout_percent_range",
                violation_error_message=_("The holdout is between 0 and 50 %."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = template_errors(self.template)
        if errors:
            raise ValidationError({"template": errors})

    def save(self, *args, **kwargs) -> None:
        # Placeholders are checked whenever a campaign is saved, whichever way (form, API, admin, shell).
        self.clean()
        super().save(*args, **kwargs)


class CampaignRecipient(models.Model):
    """A customer a campaign reached when it was approved: sent a message, or kept in the holdout."""

    # The unique (campaign, customer) key indexes the campaign.
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    is_holdout = models.BooleanField(_("holdout"), default=False)
    message = models.ForeignKey(
        SmsMessage, verbose_name=_("message"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("campaign recipient")
        verbose_name_plural = _("campaign recipients")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer"],
                name="campaignrecipient_unique",
                violation_error_message=_("The customer is already a recipient of this campaign."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.customer_id}"


class FollowupDayCalls(models.Model):
    """The follow-up reports' call figures of one local day, store (the task's), rule and agent:
    every call attempt of every customer, whatever the card's level (the report takes away live
    the calls to the cards the reader may not see). Rebuilt, never edited by hand:
    followups/report_figures.py refreshes a day and store after each recorded call, and the nightly
    followups-rebuild-report-figures rebuilds the recent days from scratch."""

    day = models.DateField(_("day"))
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+")
    code = models.CharField(_("rule code"), max_length=40)
    # No constraint to the user: a departed agent's figures stay, as their calls do.
    agent_id = models.BigIntegerField(_("agent"), null=True, blank=True)
    made = models.PositiveIntegerField(_("calls made"), default=0)
    reached = models.PositiveIntegerField(_("reached"), default=0)
    satisfied = models.PositiveIntegerField(_("satisfied"), default=0)
    dissatisfied = models.PositiveIntegerField(_("dissatisfied"), default=0)
    outcomes = models.JSONField(_("calls per outcome"), default=dict, blank=True)
    score_1 = models.PositiveIntegerField(default=0)
    score_2 = models.PositiveIntegerField(default=0)
    score_3 = models.PositiveIntegerField(default=0)
    score_4 = models.PositiveIntegerField(default=0)
    score_5 = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("calls of a day")
        verbose_name_plural = _("calls of a day")
        constraints = [
            # A recorded call adds to its row (INSERT … ON CONFLICT): one row per key, no agent too.
            models.UniqueConstraint(
                fields=["day", "store", "code", "agent_id"], name="daycalls_key_unique", nulls_distinct=False
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.store_id} {self.code} {self.agent_id}: {self.made}"


class FollowupDayTasks(models.Model):
    """The tasks due (by queue date) of one day, store and rule, for the follow-up reports: every
    task of every customer (the report takes away the cards the reader may not see). The generation
    adds what it made (followups/report_figures.py); the nightly rebuild recounts the recent days."""

    day = models.DateField(_("day"))
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+")
    code = models.CharField(_("rule code"), max_length=40)
    due = models.PositiveIntegerField(_("tasks due"), default=0)

    class Meta:
        verbose_name = _("tasks due of a day")
        verbose_name_plural = _("tasks due of a day")
        constraints = [
            models.UniqueConstraint(fields=["day", "store", "code"], name="daytasks_day_store_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.store_id} {self.code}: {self.due}"
