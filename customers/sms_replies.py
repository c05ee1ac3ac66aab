"""What an inbound SMS reply means: the registry of reply handlers (docs/followups.md, "SMS").

It lives in customers, the layer every domain app stands on, so that an app that may not import
follow-ups (the owners' club's event sign-ups, appointment confirmations) registers its handlers
importing only from here. Follow-ups receives the replies (``followups.services.sms_inbound_receive``):
it matches a reply to the customer by mobile and to the latest message sent to that mobile (within
its reply window), asks the handlers through ``reply_resolve`` and stores the ``InboundSms`` with the
claim, all in one transaction: a handler does its work in that transaction too.

A handler is ``handler(reply: Reply) -> ReplyClaim | None``: None lets the next handler try. They
are asked by ascending ``order``, then by name; follow-ups registers opt-out (退订, order 0, always
first), the satisfaction digit after a repair SMS (50) and the RSVP after an event invitation (60)
in ``FollowupsConfig.ready``. Another app registers its own in its ``AppConfig.ready()``:

    from customers.sms_replies import reply_handler_register
    reply_handler_register("clubs.event_sign_up", sign_up, order=40)
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from customers.choices import ReplyAction

if TYPE_CHECKING:
    from customers.models import Customer


class SentMessage(Protocol):
    """The latest SMS sent to a mobile, as a handler reads it (follow-ups' ``SmsMessage``): its
    ``pk``, the rule ``code`` it was sent for (``event_notice``, ``post_repair_callback``…), when it
    was sent, to which customer, and the ``detail`` its task carries (an invitation's ``event_id``)."""

    pk: int
    code: str
    sent_at: datetime.datetime
    customer_id: int | None
    detail: dict


@dataclass(frozen=True)
class Reply:
    """An inbound reply as the handlers see it.

    ``word`` is the normalised text (full-width to half-width, upper case, without spaces and
    trailing punctuation: ``" y。"`` is ``"Y"``); ``last_message`` the latest SMS sent to ``mobile``
    within the reply window (None when there is none); ``customer`` the customer it is attributed to
    (the latest message's, else the newest card with that mobile; None when nobody has it).
    """

    mobile: str
    text: str
    word: str
    received_at: datetime.datetime
    last_message: SentMessage | None
    customer: "Customer | None"

    @property
    def last_code(self) -> str | None:
        """The rule code of the latest message sent to the mobile, if any."""
        return self.last_message.code if self.last_message is not None else None


@dataclass(frozen=True)
class ReplyClaim:
    """A handler's answer: the reply's ``action`` (a ``customers.choices.ReplyAction`` value) and,
    for a satisfaction reply, the score (1–5)."""

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
