"""A stand-in for the owners' club registering its follow-up extensions: the ``event_notice`` rule
builder and the sign-up by SMS reply (Y after an event invitation).

It imports only from customers, as the club must (the layers forbid clubs to import followups):
tests/followups/test_extensions_from_customers.py uses it end to end and checks its imports, and
tests/crm/test_layers.py puts the same source inside clubs/ and checks that every contract holds.
"""

from datetime import timedelta

from customers.choices import ReplyAction
from customers.rule_builders import Candidates, rule_builder_register, rule_builder_unregister
from customers.selectors import CUSTOMER_TABLE
from customers.sms_replies import Reply, ReplyClaim, reply_handler_register, reply_handler_unregister

EVENT_NOTICE = "event_notice"  # the follow-up rule code the club owns
SIGN_UP_WORDS = {"Y", "YES", "是"}
HANDLER_NAME = "standin.event_sign_up"
#: (customer id, id of the invitation replied to) of every sign-up: the club would write its own rows.
signed_up: list[tuple[int, int]] = []


def event_invitations(rule, rule_dates) -> Candidates:
    """Members interested in 自驾游 are invited to the event held ``-offset_days`` days after R."""
    events = [rule_date - timedelta(days=rule.offset_days) for rule_date in rule_dates]
    return Candidates(
        f"""
        SELECT cu.store_id, cu.id AS customer_id, NULL::bigint AS vehicle_id, cu.id AS unit_id, wanted.rule_date,
               wanted.event_day AS subject_date, jsonb_build_object('event', '自驾游') AS detail
        FROM {CUSTOMER_TABLE} cu
        CROSS JOIN unnest(%(targets)s::date[], %(events)s::date[]) AS wanted(rule_date, event_day)
        WHERE cu.store_id = ANY(%(store_ids)s) AND cu.interests = '自驾游'
        """,
        {"targets": rule_dates, "events": events},
    )


def event_sign_up(reply: Reply) -> ReplyClaim | None:
    """Y after an event invitation signs the customer up for the event."""
    if reply.last_code != EVENT_NOTICE or reply.word not in SIGN_UP_WORDS or reply.customer is None:
        return None
    signed_up.append((reply.customer.pk, reply.last_message.pk))
    return ReplyClaim(action=ReplyAction.RSVP)


def register() -> None:
    """What ``ClubsConfig.ready()`` would call."""
    signed_up.clear()
    rule_builder_register(EVENT_NOTICE, event_invitations)
    reply_handler_register(HANDLER_NAME, event_sign_up, order=40)


def unregister() -> None:
    rule_builder_unregister(EVENT_NOTICE)
    reply_handler_unregister(HANDLER_NAME)
