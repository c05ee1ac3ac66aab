"""Won back by (docs/retention.md): the customers won back in a month and the contact that did it.

A customer is won back in month M when they were dormant or lost at the end of M - 1 and are active
at the end of M (the snapshots of customers.states). Their return is their first visit in M: the
first settled repair order or delivery of the month (a repair order before a delivery the same
day, then the lowest id); ``revenue`` is that repair order's total (0 for a delivery). The return
is attributed to the last contact that reached the customer from the start of the day 30 days
before the return up to the end of the day of the return, local time — ``at >= (D - 30 days)
00:00`` and ``at < (D + 1 day) 00:00`` — from every registered contact source
(customers/contacts.py); the latest wins (ties: by kind, rule, campaign, agent). No contact: blank.

Written set-based with the snapshots (``customer_states_build``), one DELETE and one INSERT … SELECT
per run of months, so a backfill and the nightly runs give the same rows.
"""

import datetime

from django.conf import settings

from crm.calendar import add_months, local_midnight
from customers.choices import CustomerState
from customers.contacts import contacts_sql
from customers.models import CustomerMonthState, CustomerWinBack
from customers.selectors import REPAIR_ORDER_TABLE, VEHICLE_TABLE

WIN_BACK_TABLE = CustomerWinBack._meta.db_table
SNAPSHOT_TABLE = CustomerMonthState._meta.db_table
#: A contact counts when it reached the customer at most this many days before the return day.
ATTRIBUTION_DAYS = 30

_RETURNS_SQL = f"""
WITH back AS (
    SELECT cur.customer_id, cur.store_id, cur.month, cur.last_visit,
           (cur.month + interval '1 month')::date AS next_month
    FROM {SNAPSHOT_TABLE} cur
    JOIN {SNAPSHOT_TABLE} prev
        ON prev.customer_id = cur.customer_id AND prev.month = (cur.month - interval '1 month')::date
    WHERE cur.month BETWEEN %(first)s AND %(last)s
      AND cur.state = '{CustomerState.ACTIVE.value}'
      AND prev.state IN ('{CustomerState.DORMANT.value}', '{CustomerState.LOST.value}')
)
SELECT b.customer_id, b.store_id, b.month, COALESCE(v.visit_date, b.last_visit) AS returned_on,
       v.repair_order_id, COALESCE(v.revenue, 0) AS revenue
FROM back b
LEFT JOIN LATERAL (
    SELECT visits.visit_date, visits.repair_order_id, visits.revenue
    FROM (
        SELECT ro.settle_date AS visit_date, ro.id AS repair_order_id, COALESCE(ro.total_amount, 0) AS revenue,
               0 AS delivery_last
        FROM {REPAIR_ORDER_TABLE} ro JOIN {VEHICLE_TABLE} rv ON rv.id = ro.vehicle_id
        WHERE rv.customer_id = b.customer_id AND ro.settle_date >= b.month AND ro.settle_date < b.next_month
        UNION ALL
        SELECT dv.delivery_date, NULL, 0, 1
        FROM {VEHICLE_TABLE} dv
        WHERE dv.customer_id = b.customer_id AND dv.delivery_date >= b.month AND dv.delivery_date < b.next_month
    ) visits
    ORDER BY visits.visit_date, visits.delivery_last, visits.repair_order_id
    LIMIT 1
) v ON true
"""

_COLUMNS = (
    "customer_id, store_id, month, returned_on, repair_order_id, revenue, "
    "contact_kind, contact_rule_code, contact_campaign_id, contact_agent_id, contact_at"
)


def win_backs_sql(*, first: datetime.date, last: datetime.date) -> tuple[str, dict]:
    """The SELECT of the win-back rows (``_COLUMNS``) of the months ``first`` .. ``last`` (first
    days of their months) from their snapshots and the month before's, and its params."""
    params = {"first": first, "last": last, "tz": settings.TIME_ZONE, "days": ATTRIBUTION_DAYS}
    contacts = contacts_sql(
        store_ids=None,
        start=local_midnight(first - datetime.timedelta(days=ATTRIBUTION_DAYS)),
        end=local_midnight(add_months(last, 1)),
    )
    if contacts is None:
        contact_join = (
            "LEFT JOIN LATERAL (SELECT NULL::text AS kind, NULL::text AS rule_code, NULL::bigint AS campaign_id, "
            "NULL::bigint AS agent_id, NULL::timestamptz AS at) c ON false"
        )
    else:
        contact_sql, contact_params = contacts
        params.update(contact_params)
        contact_join = f"""
        LEFT JOIN LATERAL (
            SELECT contact.kind, contact.rule_code, contact.campaign_id, contact.agent_id, contact.at
            FROM ({contact_sql}) contact
            WHERE contact.customer_id = r.customer_id
              AND contact.at >= (r.returned_on - %(days)s)::timestamp AT TIME ZONE %(tz)s
              AND contact.at < (r.returned_on + 1)::timestamp AT TIME ZONE %(tz)s
            ORDER BY contact.at DESC, contact.kind, contact.rule_code, contact.campaign_id, contact.agent_id
            LIMIT 1
        ) c ON true"""
    sql = f"""
        SELECT r.customer_id, r.store_id, r.month, r.returned_on, r.repair_order_id, r.revenue,
               COALESCE(c.kind, ''), COALESCE(c.rule_code, ''), c.campaign_id, c.agent_id, c.at
        FROM ({_RETURNS_SQL}) r
        {contact_join}
    """
    return sql, params


def win_backs_write(*, cursor, first: datetime.date, last: datetime.date) -> int:
    """Replace the win-back rows of the months ``first`` .. ``last`` (first days of their months),
    on ``cursor``, inside the caller's transaction (``customer_states_build``). Returns the rows."""
    cursor.execute(f"DELETE FROM {WIN_BACK_TABLE} WHERE month BETWEEN %s AND %s", [first, last])
    sql, params = win_backs_sql(first=first, last=last)
    cursor.execute(f"INSERT INTO {WIN_BACK_TABLE} ({_COLUMNS}) {sql}", params)
    return cursor.rowcount
