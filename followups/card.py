"""The customer card's follow-up panel and its calls and SMS on the timeline (customers/card.py)."""

from django.utils.translation import gettext as _

from customers.card import CardPanel, TimelineEvent
from followups.selectors import call_history, customer_open_tasks, customer_sms, customer_sms_replies


def due_followups_panel(*, user, customer) -> CardPanel | None:
    if not user.has_perm("followups.view_followuptask"):
        return None
    tasks = customer_open_tasks(customer_id=customer.pk)
    if not tasks:
        return None
    return CardPanel(template="followups/card_panel.html", context={"followup_tasks": tasks}, order=20)


def calls_and_sms(*, user, customer) -> list[TimelineEvent]:
    if not user.has_perm("followups.view_followuptask"):
        return []
    events = [
        TimelineEvent(
            at=attempt.at,
            kind="call",
            title=f"{attempt.task.get_code_display()} · {attempt.get_outcome_display()}",
            detail=" ".join(
                part
                for part in [
                    _("Satisfaction %(score)s/5") % {"score": attempt.satisfaction} if attempt.satisfaction else "",
                    attempt.notes,
                ]
                if part
            ),
            actor=str(attempt.agent or ""),
        )
        for attempt in call_history(customer_id=customer.pk, limit=100)
    ]
    events.extend(
        TimelineEvent(
            at=message.sent_at or message.created_at,
            kind="sms",
            title=" · ".join(
                part
                for part in [
                    _("SMS"),
                    message.campaign.name if message.campaign_id else "",
                    message.get_status_display(),
                ]
                if part
            ),
            detail=message.body,
        )
        for message in customer_sms(customer_id=customer.pk)
    )
    events.extend(
        TimelineEvent(
            at=reply.received_at,
            kind="sms",
            title=f"{_('SMS reply')} · {reply.get_action_display()}",
            detail=reply.text,
        )
        for reply in customer_sms_replies(customer_id=customer.pk)
    )
    return events
