"""The follow-up engine's part of a customer's personal data (customers/privacy.py registries):
tasks, calls, SMS and replies in the customer's data export, and their erasure."""

from django.db.models import Q
from django.utils import timezone

from customers.privacy import queryset_rows
from followups.choices import RuleCode, SmsStatus, TaskStatus
from followups.models import CallAttempt, CampaignRecipient, FollowupTask, InboundSms, SmsMessage


def personal_data(*, customer) -> dict[str, list[dict]]:
    # Replies matched to the card, and those from its mobile matched to no card (the erasure clears
    # both).
    replies_of = Q(customer=customer)
    if customer.mobile:
        replies_of |= Q(customer__isnull=True, mobile=customer.mobile)
    return {
        "followup_tasks": queryset_rows(FollowupTask.objects.filter(customer=customer).order_by("id")),
        "calls": queryset_rows(CallAttempt.objects.filter(customer=customer).order_by("id")),
        "sms": queryset_rows(SmsMessage.objects.filter(customer=customer).order_by("id")),
        "sms_replies": queryset_rows(InboundSms.objects.filter(replies_of).order_by("id")),
        # The SMS campaigns the customer was a recipient of (sent, or kept in the holdout).
        "campaigns": queryset_rows(CampaignRecipient.objects.filter(customer=customer).order_by("id")),
    }


def erase(*, customer) -> dict[str, int]:
    """Nothing more goes out to the customer (open tasks closed, unsent SMS cancelled); SMS texts and
    numbers, replies (also those matched by the mobile only), call notes and answers and the birthday
    greetings' dates are cleared.
    The rows stay, so completion and delivery figures do not change."""
    now = timezone.now()
    closed = FollowupTask.objects.filter(customer=customer, status=TaskStatus.OPEN).update(
        status=TaskStatus.CLOSED, completed_at=now, claimed_by=None, claimed_at=None
    )
    SmsMessage.objects.filter(customer=customer, status__in=[SmsStatus.QUEUED, SmsStatus.SENDING]).update(
        status=SmsStatus.CANCELLED, lease_until=None
    )
    # A birthday greeting's subject date is the birthday of that year (month and day of birth).
    FollowupTask.objects.filter(customer=customer, code=RuleCode.BIRTHDAY).update(subject_date=None)
    sms = SmsMessage.objects.filter(customer=customer).update(body="", mobile="")
    replies_of = Q(customer=customer)
    if customer.mobile:
        replies_of |= Q(mobile=customer.mobile)
    replies = InboundSms.objects.filter(replies_of).update(text="", mobile="")
    calls = CallAttempt.objects.filter(customer=customer).update(notes="", answers={})
    return {"followup_tasks_closed": closed, "sms": sms, "sms_replies": replies, "calls": calls}
