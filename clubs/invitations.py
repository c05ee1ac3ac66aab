"""The club's part of the follow-ups: the ``event_notice`` invitation SMS and the ``Y`` that answers it.

Both are registered in ``ClubsConfig.ready()`` through the registries customers keeps for the
domain apps (``customers.rule_builders``, ``customers.sms_replies``), so the club never imports
follow-ups:

- ``event_invitations`` (the ``event_notice`` rule builder): for every event of the rule's stores
  with a target segment and a start day at R − the rule's offset (7 days before it by default), the
  segment's customers of the event's store, one SELECT per event joined by UNION ALL. The task's detail
  names the event (``event_id``, ``event``: the ``{event}`` placeholder) and carries the event's own
  invitation text when it has one (``sms_template``, sent instead of the rule's); its subject date is
  the event's day (``{date}``).
- ``event_sign_up`` (a reply handler asked before follow-ups' own RSVP): ``Y``/``YES``/``是`` whose
  latest message sent to the mobile, in the last 14 days, is an event invitation registers the
  reply's customer for that event (a place, else the waiting list), and the reply is an RSVP.
"""

import datetime
import logging

from django.utils import timezone

from clubs.models import ClubEvent
from clubs.services import event_register
from crm.exceptions import ApplicationError
from customers.choices import ReplyAction
from customers.rule_builders import Candidates
from customers.segments import segment_customer_ids_sql
from customers.selectors import CUSTOMER_TABLE
from customers.sms_replies import Reply, ReplyClaim

logger = logging.getLogger(__name__)

EVENT_NOTICE = "event_notice"
RSVP_WORDS = {"Y", "YES", "是"}
INVITATION_WINDOW = datetime.timedelta(days=14)


def event_invitations(rule, rule_dates: list[datetime.date]) -> Candidates | None:
    """The customers to invite on the rule dates: the target segments of the events of the rule's
    stores that start ``-rule.offset_days`` days after one of them, each segment read in the event's
    store."""
    start_days = {rule_date - datetime.timedelta(days=rule.offset_days): rule_date for rule_date in rule_dates}
    events = list(
        ClubEvent.objects.filter(store_id__in=rule.store_ids, segment__isnull=False)
        .filter(starts_at__date__in=list(start_days))
        .select_related("segment")
        .order_by("starts_at", "pk")
    )
    if not events:
        return None
    selects, params = [], {}
    for number, event in enumerate(events):
        start_day = timezone.localtime(event.starts_at).date()
        rule_date = start_days[start_day]
        members_sql, members_params = segment_customer_ids_sql(
            segment=event.segment, store_id=event.store_id, prefix=f"e{number}", today=rule_date
        )
        params.update(members_params)
        params.update({
            f"r{number}": rule_date, f"d{number}": start_day, f"t{number}": event.title, f"id{number}": event.pk,
            f"s{number}": event.invitation_template, f"st{number}": event.store_id,
        })  # fmt: skip
        selects.append(
            f"""
            SELECT cu.store_id, cu.id AS customer_id, NULL::bigint AS vehicle_id, cu.id AS unit_id,
                   %(r{number})s::date AS rule_date, %(d{number})s::date AS subject_date,
                   jsonb_build_object('event_id', %(id{number})s::bigint, 'event', %(t{number})s::text,
                                      'sms_template', %(s{number})s::text) AS detail
            FROM {CUSTOMER_TABLE} cu
            WHERE cu.store_id = %(st{number})s AND cu.id IN ({members_sql})
            """
        )
    return Candidates(" UNION ALL ".join(selects), params)


def event_sign_up(reply: Reply) -> ReplyClaim | None:
    """``Y`` after an event invitation (the latest message to the mobile, within 14 days) registers
    the customer for that event. A reply the event can no longer take (it has started, the customer
    is another store's) is still an RSVP, recorded as such, without a registration."""
    message = reply.last_message
    if reply.word not in RSVP_WORDS or message is None or message.code != EVENT_NOTICE:
        return None
    if reply.received_at - message.sent_at > INVITATION_WINDOW or reply.customer is None:
        return None
    event = ClubEvent.objects.filter(pk=(message.detail or {}).get("event_id")).first()
    if event is None:
        return None
    try:
        event_register(user=None, event=event, customer=reply.customer, source="sms")
    except ApplicationError as error:
        logger.info("RSVP of customer %s to event %s not registered: %s", reply.customer.pk, event.pk, error.message)
    return ReplyClaim(action=ReplyAction.RSVP)
