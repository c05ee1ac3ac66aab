"""The customer card's follow-up panel and its calls (with the questionnaire's answers), SMS and SMS
replies on the timeline (customers/card.py)."""

from django.utils.translation import gettext as _

from crm.masking import text_for_user
from customers.card import CardPanel, TimelineEvent
from followups.selectors import call_history, customer_open_tasks, customer_sms, customer_sms_replies
from followups.services import call_statement

# Whoever meets the customer next reads the calls, SMS and replies on the card: the call centre
# (view_followuptask) and the advisors' and sales consultants' desks (work_own_tasks).
CONTACT_HISTORY_PERMISSIONS = ("followups.view_followuptask", "followups.work_own_tasks")


def reads_contact_history(user) -> bool:
    return any(user.has_perm(permission) for permission in CONTACT_HISTORY_PERMISSIONS)


def due_followups_panel(*, user, customer) -> CardPanel | None:
    if not user.has_perm("followups.view_followuptask"):
        return None
    tasks = customer_open_tasks(customer_id=customer.pk)
    if not tasks:
        return None
    return CardPanel(template="followups/card_panel.html", context={"followup_tasks": tasks}, order=20)


def calls_and_sms(*, user, customer) -> list[TimelineEvent]:
    """The customer's calls (outcome, score, the questionnaire's answers and the notes), SMS and SMS
    replies: three queries whatever their number. Phone numbers typed into the call notes or a reply
    stay masked for staff who see numbers masked."""
    if not reads_contact_history(user):
        return []
    events = [
        TimelineEvent(
            at=attempt.at,
            kind="call",
            title=f"{attempt.task.get_code_display()} · {attempt.get_outcome_display()}",
            detail=text_for_user(
                user,
                "\n".join(
                    part
                    for part in [
                        _("Satisfaction %(score)s/5") % {"score": attempt.satisfaction} if attempt.satisfaction else "",
                        call_statement(
                            questionnaire=attempt.task.rule.questionnaire,
                            answers=attempt.answers,
                            notes=attempt.notes,
                        ),
                    ]
                    if part
                ),
            ),
            actor=(attempt.agent.get_full_name() or attempt.agent.username) if attempt.agent else "",
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
            # The text the system rendered (the store's hotline in it stays readable).
            detail=message.body,
        )
        for message in customer_sms(customer_id=customer.pk)
    )
    events.extend(
        TimelineEvent(
            at=reply.received_at,
            kind="sms_reply",
            title=f"{_('SMS reply')} · {reply.get_action_display()}",
            detail=text_for_user(user, reply.text),
        )
        for reply in customer_sms_replies(customer_id=customer.pk)
    )
    return events
