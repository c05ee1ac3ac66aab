"""Follow-ups' SMS reply handlers and how a reply is read (docs/followups.md, "SMS").

The registry of reply handlers, with the ``Reply`` they are given and the ``ReplyClaim`` they answer,
lives in customers (``customers.sms_replies``) so that apps which may not import follow-ups (the
club's events, appointment confirmations) register theirs too. Follow-ups matches a reply to the
customer by mobile and to the latest message sent to that mobile within ``REPLY_WINDOW``
(``followups.services.sms_inbound_receive``), and registers its own handlers in
``FollowupsConfig.ready``: opt-out (退订, always first), the satisfaction digit after a repair SMS
and the RSVP after an event invitation.
"""

import datetime
import re
import unicodedata

from customers.choices import MarkSource, ReplyAction
from customers.selectors import customers_with_mobile
from customers.services import customer_sms_opt_out
from customers.sms_replies import Reply, ReplyClaim, reply_handler_register
from followups.choices import RuleCode

OPT_OUT_WORDS = {"T", "TD", "退订"}
SATISFACTION_WORDS = {"很好": 5, "良好": 4, "一般": 3, "较差": 2, "很差": 1}
RSVP_WORDS = {"Y", "YES", "是"}
# A reply is read against the latest message sent to its mobile in the last 14 days (an event
# invitation is answered up to two weeks later); a satisfaction digit only within 7 days of its SMS.
REPLY_WINDOW = datetime.timedelta(days=14)
SATISFACTION_WINDOW = datetime.timedelta(days=7)


def normalise_reply(text: str) -> str:
    """Full-width to half-width, upper case, without spaces and trailing punctuation."""
    normalised = unicodedata.normalize("NFKC", text or "").upper()
    return re.sub(r"[\s.。!！,，]+", "", normalised)


# --- follow-ups' own handlers -----------------------------------------------------------------


def opt_out_handler(reply: Reply) -> ReplyClaim | None:
    """T/TD/退订: every card with that mobile is opted out of SMS, through the customers service
    (so each card's change history shows the opt-out with its source, ``sms_reply``)."""
    if reply.word not in OPT_OUT_WORDS:
        return None
    for customer in customers_with_mobile(mobile=reply.mobile):
        customer_sms_opt_out(customer=customer, source=MarkSource.SMS_REPLY, at=reply.received_at)
    return ReplyClaim(action=ReplyAction.OPT_OUT)


def satisfaction_handler(reply: Reply) -> ReplyClaim | None:
    """A 1–5 digit (or 很好…很差) after a repair-quality SMS is the satisfaction score."""
    if reply.last_code != RuleCode.POST_REPAIR_CALLBACK:
        return None
    if reply.received_at - reply.last_message.sent_at > SATISFACTION_WINDOW:
        return None
    score = int(reply.word) if reply.word in {"1", "2", "3", "4", "5"} else SATISFACTION_WORDS.get(reply.word)
    if score is None:
        return None
    return ReplyClaim(action=ReplyAction.SATISFACTION, satisfaction=score)


def rsvp_handler(reply: Reply) -> ReplyClaim | None:
    """Y after an event invitation is the intent to attend."""
    if reply.last_code == RuleCode.EVENT_NOTICE and reply.word in RSVP_WORDS:
        return ReplyClaim(action=ReplyAction.RSVP)
    return None


def register_followups_reply_handlers() -> None:
    """Follow-ups' handlers (called from ``FollowupsConfig.ready``)."""
    reply_handler_register("followups.opt_out", opt_out_handler, order=0)
    reply_handler_register("followups.satisfaction", satisfaction_handler, order=50)
    reply_handler_register("followups.event_rsvp", rsvp_handler, order=60)
