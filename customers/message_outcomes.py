"""What became of the messages sent for another app's follow-up tasks: an app that may not import
follow-ups (the club's event report) asks how many customers a rule's tasks named by one value of
their detail reached (an event's invitations: ``event_notice`` tasks with ``detail.event_id``).

Follow-ups answers (``followups.selectors.message_outcomes``), listed on its AppConfig as
``message_outcome_providers``; with no provider every figure is None ("not known").
"""

from dataclasses import dataclass

from customers.card import registered_functions


@dataclass(frozen=True)
class MessageOutcome:
    """Customers a rule's tasks named (``tasks``), to whom an SMS went out (``sent``) and whose
    delivery the provider confirmed (``delivered``); None when no app keeps messages."""

    tasks: int | None = None
    sent: int | None = None
    delivered: int | None = None


def message_outcome(*, code: str, detail_key: str, detail_value: str) -> MessageOutcome:
    """The outcome of the ``code`` tasks whose ``detail[detail_key]`` is ``detail_value``."""
    for provider in registered_functions("message_outcome_providers"):
        return provider(code=code, detail_key=detail_key, detail_value=str(detail_value))
    return MessageOutcome()
