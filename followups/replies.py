"""What an inbound SMS reply means: a registry of reply handlers (docs/followups.md, "SMS").

A reply is matched to the customer by mobile and to the latest message sent to that mobile (within
``REPLY_WINDOW``). The handlers are then asked in order; the first that claims the reply decides
its meaning and does its work in the same transaction as the stored ``InboundSms``. Follow-ups
registers opt-out (退订, always first), the satisfaction digit after a repair SMS and the RSVP after
an event invitation in ``FollowupsConfig.ready``; other apps (the club's events, appointment
confirmations) register theirs in their own ``ready()`` with ``reply_handler_register``.

A handler is ``handler(reply: Reply) -> ReplyClaim | None``: None lets the next handler try.
"""

import datetime
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from customers.choices import MarkSource
from customers.selectors import customers_with_mobile
from customers.services import customer_sms_opt_out
from followups.choices import ReplyAction, RuleCode

if TYPE_CHECKING:
    from customers.models import Customer
    from followups.models import SmsMessage

OPT_OUT_WORDS = {"T", "TD", "退订"}
SATISFACTION_WORDS = {"很好": 5, "良好": 4, "一般": 3, "较差": 2, "很差": 1}
RSVP_WORDS = {"Y", "YES", "是"}
REPLY_WINDOW = datetime.timedelta(days=7)


def normalise_reply(text: str) -> str:
    """Full-width to half-width, upper case, without spaces and trailing punctuation."""
    normalised = unicodedata.normalize("NFKC", text or "").upper()
    return re.sub(r"[\s.。!！,，]+", "", normalised)


@dataclass(frozen=True)
class Reply:
    """An inbound reply as the handlers see it.

    ``word`` is the normalised text; ``last_message`` the latest SMS sent to ``mobile`` within the
    reply window (None when there is none); ``customer`` the customer it is attributed to (the
    latest message's, else the newest card with that mobile).
    """

    mobile: str
    text: str
    word: str
    received_at: datetime.datetime
    last_message: "SmsMessage | None"
    customer: "Customer | None"

    @property
    def last_code(self) -> str | None:
        """The rule code of the latest message sent to the mobile, if any."""
        return self.last_message.code if self.last_message is not None else None


@dataclass(frozen=True)
class ReplyClaim:
    """A handler's answer: the reply's ``action`` (a ``ReplyAction`` value) and, for a
    satisfaction reply, the score."""

    action: str
    satisfaction: int | None = None


ReplyHandler = Callable[[Reply], ReplyClaim | None]


@dataclass(frozen=True)
class _Registered:
    name: str
    order: int
    handler: ReplyHandler


_handlers: dict[str, _Registered] = {}


def reply_handler_register(name: str, handler: ReplyHandler, *, order: int = 100) -> None:
    """Register ``handler`` under ``name`` (registering a name again replaces its handler).

    Handlers are asked by ascending ``order``, then by name; opt-out is registered with order 0 so
    that 退订 always wins.
    """
    _handlers[name] = _Registered(name=name, order=order, handler=handler)


def reply_handler_unregister(name: str) -> None:
    """Remove the handler registered under ``name`` (nothing happens for an unknown name)."""
    _handlers.pop(name, None)


def reply_handlers() -> list[tuple[str, ReplyHandler]]:
    """The registered handlers in the order they are asked."""
    ordered = sorted(_handlers.values(), key=lambda registered: (registered.order, registered.name))
    return [(registered.name, registered.handler) for registered in ordered]


def reply_resolve(reply: Reply) -> ReplyClaim:
    """Ask the handlers in order; the first claim wins. Nobody claims: ``ReplyAction.NONE``."""
    for _name, handler in reply_handlers():
        claim = handler(reply)
        if claim is not None:
            return claim
    return ReplyClaim(action=ReplyAction.NONE)


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
