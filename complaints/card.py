"""The customer card's complaint panel (open complaints, for advisors at the desk) and the
complaints on the card's contact timeline."""

from django.urls import reverse
from django.utils.translation import gettext as _

from complaints.choices import ActionKind
from complaints.selectors import customer_complaint_actions, customer_open_complaints
from crm.masking import text_for_user
from customers.card import CardPanel, CustomerAlert, TimelineEvent

TIMELINE_KINDS = (ActionKind.LOGGED, ActionKind.CLOSED, ActionKind.REOPENED)


def open_complaints_panel(*, user, customer) -> CardPanel | None:
    """The customer's open complaints, and the "Log a complaint" action for whoever may log one."""
    complaints = customer_open_complaints(user=user, customer=customer)
    can_log = user.has_perm("complaints.add_complaint")
    if not complaints and not can_log:
        return None
    log_url = f"{reverse('complaints:create')}?customer={customer.pk}" if can_log else ""
    return CardPanel(
        template="complaints/card_panel.html",
        context={"open_complaints": complaints, "log_url": log_url},
        order=20,
    )


def open_complaint_alerts(*, user, customer) -> list[CustomerAlert]:
    """Call-panel alerts (customers/card.py): each open complaint of the customer the user may see."""
    return [
        CustomerAlert(
            "open_complaint",
            _("Open complaint #%(number)s (%(type)s): mind it on this call.")
            % {"number": complaint.pk, "type": complaint.complaint_type},
            reverse("complaints:detail", args=[complaint.pk]),
        )
        for complaint in customer_open_complaints(user=user, customer=customer)
    ]


def complaint_timeline_events(*, user, customer) -> list[TimelineEvent]:
    """The customer's complaints on the timeline (logged, closed, reopened), one query. Staff who
    may read a complaint (complaint_queryset_for_user) get its text and link; advisors and sales
    consultants, who read only the open ones and their own, still get the summary of the others —
    number, type, what happened, when, who — since they meet the customer next, without the
    description, the closing note or the link."""
    actions = customer_complaint_actions(user=user, customer=customer, kinds=TIMELINE_KINDS)
    return [
        TimelineEvent(
            at=action.at,
            kind="complaint",
            title=_("Complaint #%(number)s %(what)s: %(type)s")
            % {
                "number": action.complaint_id,
                "what": action.get_kind_display(),
                "type": action.complaint.complaint_type,
            },
            detail=_complaint_detail(user, action) if action.readable else "",
            url=reverse("complaints:detail", args=[action.complaint_id]) if action.readable else "",
            actor=(action.actor.get_full_name() or action.actor.username) if action.actor else "",
        )
        for action in actions
    ]


def _complaint_detail(user, action) -> str:
    text = action.note or (action.complaint.description[:120] if action.kind == ActionKind.LOGGED else "")
    return text_for_user(user, text)
