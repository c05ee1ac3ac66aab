"""Follow-ups' contacts for the retention dashboard's "won back by" (customers/contacts.py): a call
that reached the customer (reached, or ended in a booked visit), at the call attempt's time, by its
agent, for its task's rule; and an SMS the gateway reported delivered, at its sending time, for its
rule, or its campaign when it is a campaign message."""

import datetime
from collections.abc import Iterable

from customers.contacts import ContactSql
from followups.choices import REACHED_OUTCOMES, DeliveryStatus, RuleCode, SmsStatus
from followups.models import CallAttempt, Campaign, FollowupTask, SmsMessage

# A call that ended in a booked visit reached the customer too.
REACHED_SQL = ", ".join(f"'{outcome}'" for outcome in sorted(REACHED_OUTCOMES))


def calls_reached(store_ids: list[int] | None, start: datetime.datetime, end: datetime.datetime) -> ContactSql:
    store_filter = "AND t.store_id = ANY(%(store_ids)s)" if store_ids is not None else ""
    sql = f"""
        SELECT ca.customer_id, ca.at, 'call' AS kind, t.code AS rule_code,
               NULL::bigint AS campaign_id, ca.agent_id::bigint AS agent_id
        FROM {CallAttempt._meta.db_table} ca JOIN {FollowupTask._meta.db_table} t ON t.id = ca.task_id
        WHERE ca.outcome IN ({REACHED_SQL}) AND ca.at >= %(start)s AND ca.at < %(end)s {store_filter}
    """
    return ContactSql(sql, {"start": start, "end": end, "store_ids": store_ids})


def sms_delivered(store_ids: list[int] | None, start: datetime.datetime, end: datetime.datetime) -> ContactSql:
    store_filter = "AND m.store_id = ANY(%(store_ids)s)" if store_ids is not None else ""
    sql = f"""
        SELECT m.customer_id, m.sent_at AS at,
               CASE WHEN m.campaign_id IS NULL THEN 'sms' ELSE 'campaign' END AS kind,
               m.code AS rule_code, m.campaign_id::bigint AS campaign_id, NULL::bigint AS agent_id
        FROM {SmsMessage._meta.db_table} m
        WHERE m.status = '{SmsStatus.SENT.value}' AND m.delivery_status = '{DeliveryStatus.DELIVERED.value}'
          AND m.sent_at >= %(start)s AND m.sent_at < %(end)s {store_filter}
    """
    return ContactSql(sql, {"start": start, "end": end, "store_ids": store_ids})


def campaign_names(ids: Iterable[int]) -> dict[int, str]:
    return dict(Campaign.objects.filter(pk__in=list(ids)).values_list("pk", "name"))


def rule_names() -> dict[str, str]:
    return {code: str(label) for code, label in RuleCode.choices}


def register_followups_contact_sources() -> None:
    from customers.contacts import contact_source_register

    contact_source_register("followups.calls_reached", calls_reached, rule_labels=rule_names)
    contact_source_register("followups.sms_delivered", sms_delivered, campaign_labels=campaign_names)
