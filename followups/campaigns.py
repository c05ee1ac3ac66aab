"""SMS campaigns (营销短信, docs/followups.md "SMS campaigns"): writes, the recipients' SQL and the report.

A campaign is a draft until a manager approves it. Approval fixes, in one transaction and three
set-based statements whatever the number of recipients:

1. the recipients (``CampaignRecipient``): the campaign's audience after the exclusions, with the
   holdout chosen reproducibly — the recipients ordered by ``md5(campaign id || ':' || customer id)``,
   the first ceil(n × holdout % / 100) kept back. The same campaign gives the same holdout however
   often this runs;
2. one ``SmsMessage`` per recipient outside the holdout, keyed ``campaign-<campaign>-<customer>``
   (``ON CONFLICT DO NOTHING``), for the send day and not before the send time;
3. the recipients' link to their message.

The store's SMS batches (``followups.services.sms_send_batch``) then send them in the window,
throttled, as any other message: claimed with a lease, sent with the idempotency key. No Celery
task per message, and one message per recipient however often anything is retried.

Exclusions (the preview count, approval and, again, the batch before sending): opted out of SMS, no
valid mobile, an owner all of whose vehicles were sold on or scrapped, and the consent the kind needs:
a special-weather care message (a safety notice with the rescue line) goes under the service
consent, sent unless withdrawn, like a service reminder; every other kind (promotion, launch,
invitation, other) is marketing to a segment and needs marketing consent recorded as granted
(``customers.selectors.customer_sms_allowed_sql(require_grant=True)``).
"""

import datetime
import math
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.exceptions import ApplicationError
from crm.models import Store
from crm.scoping import scope_to_user_stores
from customers.choices import ConsentPurpose
from customers.segments import segment_customer_ids_sql
from customers.selectors import (
    CUSTOMER_TABLE,
    REPAIR_ORDER_TABLE,
    VEHICLE_TABLE,
    customer_has_active_vehicle_or_none_sql,
    customer_sms_allowed_sql,
    vehicle_is_active_sql,
)
from followups.choices import CampaignKind, CampaignStatus
from followups.defaults import SMS_OPT_OUT_TEXT
from followups.gateways import GatewayError, get_gateway
from followups.generation import MOBILE_PATTERN
from followups.models import Campaign, InboundSms, SmsMessage
from followups.placeholders import format_date, render_placeholders, render_placeholders_sql, template_errors

REPORT_DAYS = 30
Z_95 = 1.96


def campaign_consent_sql(kind_sql: str, *, alias: str = "cu") -> str:
    """Whether the customer row ``alias`` may get a campaign of the kind in the SQL expression
    ``kind_sql`` (a column or a literal): see the module's docstring. No parameters."""
    service = customer_sms_allowed_sql(purpose=ConsentPurpose.SERVICE, alias=alias)
    marketing = customer_sms_allowed_sql(purpose=ConsentPurpose.MARKETING, alias=alias, require_grant=True)
    return f"(CASE WHEN {kind_sql} = '{CampaignKind.SPECIAL_WEATHER.value}' THEN {service} ELSE {marketing} END)"


def queued_campaign_message_allowed_sql(*, message: str = "m", alias: str = "cu") -> str:
    """For the batch sender: whether the campaign message row ``message`` may still go to its
    customer ``alias`` (who opted out or withdrew consent since approval gets nothing)."""
    kind = f"(SELECT c.kind FROM followups_campaign c WHERE c.id = {message}.campaign_id)"
    return campaign_consent_sql(kind, alias=alias)


def _audience_sql(campaign: Campaign) -> tuple[str, dict]:
    """SELECT of the ``id`` of every customer the campaign would reach now (after the exclusions)."""
    params = {"store_id": campaign.store_id, "mobile_pattern": MOBILE_PATTERN}
    if campaign.segment_id:
        members_sql, members_params = segment_customer_ids_sql(
            segment=campaign.segment, store_id=campaign.store_id, prefix="seg"
        )
        params.update(members_params)
        audience = f"cu.id IN ({members_sql})"
    elif campaign.districts:
        params["districts"] = list(campaign.districts)
        audience = "cu.district = ANY(%(districts)s)"
    else:
        audience = "false"
    params["kind"] = campaign.kind
    sql = f"""
        SELECT cu.id FROM {CUSTOMER_TABLE} cu
        WHERE cu.store_id = %(store_id)s AND {audience}
          AND cu.mobile ~ %(mobile_pattern)s
          AND {campaign_consent_sql("%(kind)s::text")}
          AND {customer_has_active_vehicle_or_none_sql(alias="cu")}
    """
    return sql, params


# --- reads ------------------------------------------------------------------------------------


def campaigns_for_user(*, user, search: str = "", status: str = ""):
    campaigns = scope_to_user_stores(Campaign.objects.select_related("store", "segment", "created_by"), user)
    search = " ".join((search or "").split())
    if search:
        campaigns = campaigns.filter(name__icontains=search)
    if status in CampaignStatus.values:
        campaigns = campaigns.filter(status=status)
    return campaigns.order_by("-send_at", "-id")


def campaign_get_for_user(*, user, pk) -> Campaign:
    from django.http import Http404

    try:
        return campaigns_for_user(user=user).get(pk=pk)
    except (Campaign.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def campaign_recipients_preview(*, campaign: Campaign) -> int:
    """How many customers the campaign would reach now, after the exclusions (holdout included)."""
    sql, params = _audience_sql(campaign)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) audience", params)
        return cursor.fetchone()[0]


# --- writes -----------------------------------------------------------------------------------

_FIELDS = ("name", "kind", "segment", "districts", "template", "send_at", "holdout_percent")


def _check(campaign: Campaign) -> None:
    from django.core.exceptions import ValidationError

    if not campaign.name.strip():
        raise ApplicationError(_("Give the campaign a name."))
    if campaign.segment_id is None and not campaign.districts:
        raise ApplicationError(_("Choose a segment."))
    if campaign.segment_id and campaign.segment.store_id not in (None, campaign.store_id):
        raise ApplicationError(_("The segment belongs to another store."))
    if not 0 <= campaign.holdout_percent <= 50:
        raise ApplicationError(_("The holdout is between 0 and 50 %."))
    try:
        campaign.full_clean()
    except ValidationError as error:
        raise ApplicationError(
            " ".join(message for messages in error.message_dict.values() for message in messages)
        ) from None


def campaign_create(*, user, store: Store, **data) -> Campaign:
    """A draft campaign; nothing is sent before a manager approves it."""
    campaign = Campaign(store=store, created_by=user, status=CampaignStatus.DRAFT)
    for name, value in data.items():
        if name not in _FIELDS:
            raise TypeError(name)
        setattr(campaign, name, value)
    _check(campaign)
    campaign._history_user = user
    campaign.save()
    return campaign


def campaign_update(*, user, campaign: Campaign, **data) -> Campaign:
    """Change a draft; an approved campaign is fixed."""
    if campaign.status != CampaignStatus.DRAFT:
        raise ApplicationError(_("Only a draft can be changed."))
    for name, value in data.items():
        if name not in _FIELDS:
            raise TypeError(name)
        setattr(campaign, name, value)
    _check(campaign)
    campaign._history_user = user
    campaign.save()
    return campaign


def _sample_values(*, campaign: Campaign, user) -> dict[str, str]:
    return {
        "name": user.get_full_name() or user.get_username(),
        "plate": "",
        "model": "",
        "points": "",
        "date": format_date(timezone.localdate(campaign.send_at)),
        "time": "",
        "store": campaign.store.name,
        "store_phone": campaign.store.phone,
        "holiday": "",
        "event": "",
    }


def campaign_sample_text(*, campaign: Campaign, user) -> str:
    """The message as the author's own test copy reads (their name in ``{name}``)."""
    store = campaign.store
    signature = store.sms_signature or store.name
    body = render_placeholders(campaign.template, _sample_values(campaign=campaign, user=user))
    return f"【{signature}】{body}{SMS_OPT_OUT_TEXT}"


def campaign_test_send(*, user, campaign: Campaign, gateway=None) -> str:
    """Send the message once to the author's own mobile (the user's phone), through the gateway; it
    is not a recipient and not counted. Returns the mobile it went to."""
    mobile = re.sub(r"\D", "", user.phone or "")
    if not re.fullmatch(MOBILE_PATTERN, mobile):
        raise ApplicationError(
            _("Your profile has no mobile number to send a test to: ask an administrator to add it.")
        )
    gateway = gateway or get_gateway()
    try:
        gateway.send(
            key=f"campaign-test-{campaign.pk}-{uuid.uuid4().hex}",
            mobile=mobile,
            text=campaign_sample_text(campaign=campaign, user=user),
        )
    except GatewayError as error:
        raise ApplicationError(
            _("The SMS gateway did not take the test message: %(error)s") % {"error": error}
        ) from error
    return mobile


_RECIPIENTS_SQL = """
    INSERT INTO followups_campaignrecipient (campaign_id, customer_id, is_holdout, message_id)
    SELECT %(campaign_id)s, ranked.id, ranked.position <= ceil(ranked.total * %(holdout)s / 100.0), NULL
    FROM (
        SELECT audience.id,
               row_number() OVER (ORDER BY md5(%(campaign_id)s::text || ':' || audience.id::text), audience.id)
                   AS position,
               count(*) OVER () AS total
        FROM ({audience}) audience
    ) ranked
    ON CONFLICT (campaign_id, customer_id) DO NOTHING
"""

_MESSAGES_TEMPLATE = r"""
    WITH made AS (
        INSERT INTO followups_smsmessage
            (task_id, campaign_id, idempotency_key, store_id, customer_id, code, mobile, body, send_date,
             not_before, status, send_attempts, gateway_message_id, delivery_status, error, created_at)
        SELECT NULL, r.campaign_id, 'campaign-' || r.campaign_id || '-' || r.customer_id, s.id, cu.id, '',
               cu.mobile,
               '【' || COALESCE(NULLIF(s.sms_signature, ''), s.name) || '】' || {rendered} || %(opt_out)s,
               %(send_day)s, %(not_before)s, 'queued', 0, '', 'unknown', '', now()
        FROM followups_campaignrecipient r
        JOIN {customer_table} cu ON cu.id = r.customer_id
        JOIN {store_table} s ON s.id = %(store_id)s
        CROSS JOIN (SELECT %(send_day)s::date AS subject_date, '{{}}'::jsonb AS detail) t
        LEFT JOIN LATERAL (
            SELECT lv.plate_no, lv.series FROM {vehicle_table} lv
            WHERE lv.customer_id = cu.id AND {active}
            ORDER BY lv.delivery_date DESC NULLS LAST, lv.id DESC LIMIT 1
        ) v ON true
        WHERE r.campaign_id = %(campaign_id)s AND NOT r.is_holdout AND r.message_id IS NULL
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id, customer_id
    )
    UPDATE followups_campaignrecipient r SET message_id = made.id
    FROM made WHERE r.campaign_id = %(campaign_id)s AND r.customer_id = made.customer_id
"""

_MESSAGES_SQL = _MESSAGES_TEMPLATE.format(
    rendered=render_placeholders_sql("%(template)s::text", task="t", store="s", customer="cu", vehicle="v"),
    customer_table=CUSTOMER_TABLE,
    store_table=Store._meta.db_table,
    vehicle_table=VEHICLE_TABLE,
    active=vehicle_is_active_sql(alias="lv"),
)


def campaign_prepare(*, campaign: Campaign, now: datetime.datetime | None = None) -> tuple[int, int]:
    """Fix the recipients with their holdout and queue the messages of the others, set-based; safe to
    run again (nothing new, the same holdout). Returns (recipients made, messages made)."""
    now = now or timezone.now()
    send_at = max(campaign.send_at, now)
    audience, params = _audience_sql(campaign)
    params.update({"campaign_id": campaign.pk, "holdout": campaign.holdout_percent})
    with connection.cursor() as cursor:
        cursor.execute(_RECIPIENTS_SQL.format(audience=audience), params)
        recipients = cursor.rowcount
        cursor.execute(
            _MESSAGES_SQL,
            {"campaign_id": campaign.pk, "store_id": campaign.store_id, "template": campaign.template,
             "opt_out": SMS_OPT_OUT_TEXT, "send_day": timezone.localdate(send_at), "not_before": send_at},
        )  # fmt: skip
        messages = cursor.rowcount
    return recipients, messages


def _may_approve(user) -> bool:
    return user.has_perm("followups.approve_campaign")


@transaction.atomic
def campaign_approve(
    *, user, campaign: Campaign, now: datetime.datetime | None = None, own: bool = False
) -> tuple[int, int]:
    """A manager's approval (four eyes: not the author's own, except a quick care message, ``own``):
    fixes the recipients and queues the messages. Returns (recipients, messages)."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update(of=("self",)).select_related("store", "segment").get(pk=campaign.pk)
    if not _may_approve(user):
        raise ApplicationError(_("Only a manager may approve a campaign."))
    if campaign.status != CampaignStatus.DRAFT:
        raise ApplicationError(_("This campaign is not a draft waiting for approval."))
    if campaign.created_by_id == user.pk and not own:
        raise ApplicationError(_("Another manager must approve your campaign (four eyes)."))
    errors = template_errors(campaign.template)
    if errors:
        raise ApplicationError(" ".join(errors))
    result = campaign_prepare(campaign=campaign, now=now)
    campaign.status = CampaignStatus.APPROVED
    campaign.approved_by = user
    campaign.approved_at = now
    campaign._history_user = user
    campaign.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
    return result


@transaction.atomic
def campaign_cancel(*, user, campaign: Campaign) -> int:
    """Stop a campaign: a draft is dropped, an approved one's unsent messages are cancelled. Returns
    how many messages were cancelled."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status in (CampaignStatus.SENT, CampaignStatus.CANCELLED):
        raise ApplicationError(_("This campaign can no longer be cancelled."))
    cancelled = SmsMessage.objects.filter(campaign=campaign, status="queued").update(
        status="cancelled", lease_until=None
    )
    campaign.status = CampaignStatus.CANCELLED
    campaign._history_user = user
    campaign.save(update_fields=["status", "updated_at"])
    return cancelled


def campaign_statuses_refresh(*, store_id: int) -> int:
    """After a batch: a campaign whose messages started going out is ``sending``, one with none left
    to send is ``sent``. One statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE followups_campaign c SET status = CASE
                WHEN EXISTS (SELECT 1 FROM followups_smsmessage m
                             WHERE m.campaign_id = c.id AND m.status IN ('queued', 'sending')) THEN 'sending'
                ELSE 'sent' END, updated_at = now()
            WHERE c.store_id = %(store_id)s AND c.status IN ('approved', 'sending')
              AND EXISTS (SELECT 1 FROM followups_smsmessage m WHERE m.campaign_id = c.id AND m.status <> 'queued')
            """,
            {"store_id": store_id},
        )
        return cursor.rowcount


def quick_care_send(
    *, user, store: Store, districts: list[str], template: str, send_at: datetime.datetime | None = None,
    name: str = "",
) -> tuple[Campaign, int]:  # fmt: skip
    """A special-weather care message (特殊天气关怀) to the owners of ``districts``, created and
    approved by the manager at once (care is urgent and not an experiment: no holdout). It still
    goes out only in the SMS window and never to who opted out. Returns (campaign, messages)."""
    if not _may_approve(user):
        raise ApplicationError(_("Only a manager may send a care message."))
    districts = sorted({" ".join(str(district).split()) for district in districts or []} - {""})
    if not districts:
        raise ApplicationError(_("Choose at least one district."))
    now = timezone.now()
    with transaction.atomic():
        campaign = campaign_create(
            user=user, store=store, name=name or _("Special-weather care %(date)s") % {"date": format_date(
                timezone.localdate(now))},
            kind=CampaignKind.SPECIAL_WEATHER, segment=None, districts=districts, template=template,
            send_at=send_at or now, holdout_percent=0,
        )  # fmt: skip
        _recipients, messages = campaign_approve(user=user, campaign=campaign, now=now, own=True)
    campaign.refresh_from_db()
    return campaign, messages


# --- the report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupFigures:
    size: int
    came_back: int
    spend: Decimal
    sent: int
    delivered: int

    @property
    def share(self) -> float | None:
        return self.came_back / self.size if self.size else None

    @property
    def share_percent(self) -> float | None:
        return self.came_back * 100 / self.size if self.size else None


@dataclass(frozen=True)
class CampaignReport:
    sent_group: GroupFigures
    holdout: GroupFigures
    first_day: datetime.date
    last_day: datetime.date
    replies: int
    opt_outs: int
    rsvps: int
    lift: float | None
    lift_low: float | None
    lift_high: float | None


def lift_interval(*, returned_1: int, n_1: int, returned_2: int, n_2: int) -> tuple[float, float, float] | None:
    """p1 − p2 with its 95 % confidence interval (two-proportion normal approximation):
    diff ± 1.96·sqrt(p1(1−p1)/n1 + p2(1−p2)/n2). None when a group is empty."""
    if not n_1 or not n_2:
        return None
    p_1, p_2 = returned_1 / n_1, returned_2 / n_2
    diff = p_1 - p_2
    margin = Z_95 * math.sqrt(p_1 * (1 - p_1) / n_1 + p_2 * (1 - p_2) / n_2)
    return diff, diff - margin, diff + margin


_REPORT_SQL = f"""
    WITH r AS (
        SELECT rc.customer_id, rc.is_holdout, m.status, m.delivery_status
        FROM followups_campaignrecipient rc LEFT JOIN followups_smsmessage m ON m.id = rc.message_id
        WHERE rc.campaign_id = %(campaign_id)s
    ), back AS (
        SELECT v.customer_id, sum(coalesce(ro.total_amount, 0)) AS spend
        FROM {REPAIR_ORDER_TABLE} ro JOIN {VEHICLE_TABLE} v ON v.id = ro.vehicle_id
        WHERE v.customer_id IN (SELECT customer_id FROM r)
          AND coalesce(ro.open_date, ro.settle_date) BETWEEN %(first)s AND %(last)s
        GROUP BY v.customer_id
    )
    SELECT r.is_holdout, count(*), count(back.customer_id), coalesce(sum(back.spend), 0),
           count(*) FILTER (WHERE r.status = 'sent'), count(*) FILTER (WHERE r.delivery_status = 'delivered')
    FROM r LEFT JOIN back ON back.customer_id = r.customer_id
    GROUP BY r.is_holdout
"""


def campaign_report(*, campaign: Campaign) -> CampaignReport:
    """Sent and holdout alike: size, how many came back (a repair order opened — settled when it has
    no open date — from the day after the send day through 30 days later), their spend, messages
    sent and delivered; the replies to the campaign's messages (opt-outs, Y); and the lift (the
    difference of the shares that came back) with its 95 % interval. Two queries."""
    send_day = timezone.localdate(campaign.send_at)
    first, last = send_day + datetime.timedelta(days=1), send_day + datetime.timedelta(days=REPORT_DAYS)
    groups = {True: GroupFigures(0, 0, Decimal("0"), 0, 0), False: GroupFigures(0, 0, Decimal("0"), 0, 0)}
    with connection.cursor() as cursor:
        cursor.execute(_REPORT_SQL, {"campaign_id": campaign.pk, "first": first, "last": last})
        for is_holdout, size, came_back, spend, sent, delivered in cursor.fetchall():
            groups[is_holdout] = GroupFigures(size, came_back, Decimal(spend), sent, delivered)
        cursor.execute(
            f"""
            SELECT count(*), count(*) FILTER (WHERE i.action = 'opt_out'),
                   count(*) FILTER (WHERE i.action = 'rsvp' OR upper(btrim(i.text)) IN ('Y', 'YES', '是'))
            FROM {InboundSms._meta.db_table} i JOIN followups_smsmessage m ON m.id = i.in_reply_to_id
            WHERE m.campaign_id = %(campaign_id)s
            """,
            {"campaign_id": campaign.pk},
        )
        replies, opt_outs, rsvps = cursor.fetchone()
    sent_group, holdout = groups[False], groups[True]
    lift = lift_interval(
        returned_1=sent_group.came_back, n_1=sent_group.size, returned_2=holdout.came_back, n_2=holdout.size
    )
    return CampaignReport(
        sent_group=sent_group, holdout=holdout, first_day=first, last_day=last, replies=replies,
        opt_outs=opt_outs, rsvps=rsvps, lift=lift[0] if lift else None, lift_low=lift[1] if lift else None,
        lift_high=lift[2] if lift else None,
    )  # fmt: skip


# --- the pages' reads -------------------------------------------------------------------------


def campaign_recipients(*, campaign: Campaign):
    """The campaign's recipients with their message's status and delivery and their latest reply to
    it (opt-out, Y, …), holdout last; one query per page."""
    from django.db.models import OuterRef, Subquery

    from followups.models import CampaignRecipient

    latest_reply = InboundSms.objects.filter(in_reply_to=OuterRef("message_id")).order_by("-received_at", "-id")
    return (
        CampaignRecipient.objects.filter(campaign=campaign)
        .select_related("customer", "message")
        .annotate(
            reply_action=Subquery(latest_reply.values("action")[:1]),
            reply_text=Subquery(latest_reply.values("text")[:1]),
        )
        .order_by("is_holdout", "customer__customer_no", "id")
    )


def districts_for_user(*, user) -> list[str]:
    """The districts of the customers of the user's stores (the quick care page's choices), read
    from the segment facts' (store, district) index."""
    from customers.models import CustomerStats

    facts = scope_to_user_stores(CustomerStats.objects.all(), user)
    return list(facts.exclude(district="").values_list("district", flat=True).distinct().order_by("district"))
