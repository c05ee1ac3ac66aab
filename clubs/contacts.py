"""The owners' club's contacts for the retention dashboard's "won back by" (customers/contacts.py):
an event the customer attended (checked in at the door), at the event's start."""

import datetime

from clubs.choices import RegistrationStatus
from clubs.models import ClubEvent, EventRegistration
from customers.contacts import ContactSql


def events_attended(store_ids: list[int] | None, start: datetime.datetime, end: datetime.datetime) -> ContactSql:
    store_filter = "AND e.store_id = ANY(%(store_ids)s)" if store_ids is not None else ""
    sql = f"""
        SELECT r.customer_id, e.starts_at AS at, 'event' AS kind, '' AS rule_code,
               NULL::bigint AS campaign_id, NULL::bigint AS agent_id
        FROM {EventRegistration._meta.db_table} r JOIN {ClubEvent._meta.db_table} e ON e.id = r.event_id
        WHERE r.status = '{RegistrationStatus.ATTENDED.value}'
          AND e.starts_at >= %(start)s AND e.starts_at < %(end)s {store_filter}
    """
    return ContactSql(sql, {"start": start, "end": end, "store_ids": store_ids})
