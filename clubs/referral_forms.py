"""Forms of the referral pages: record a referral (on a card or as a staff referral), move a
prospect along the pipeline, the report's period. Only parsing: the rules are in clubs.services."""

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from clubs.choices import ReferralStage
from clubs.selectors import referral_consultants, referral_staff_choices
from crm.calendar import add_months
from crm.form_renderer import FAST_FORM_RENDERER
from crm.scoping import stores_for_user

MAX_REPORT_MONTHS = 36


def _staff_label(member) -> str:
    return member.get_full_name() or member.username


class ReferralForm(forms.Form):
    """A referral on the referrer's card (``staff=False``) or a staff referral (``staff=True``:
    the referring member of staff and, for staff of several stores, the store)."""

    # On every card of a store whose staff record referrals: its widgets drawn by Jinja2, two to
    # three times faster (crm/form_renderer.py).
    default_renderer = FAST_FORM_RENDERER

    prospect_name = forms.CharField(
        label=_("Prospect's name"), max_length=100, error_messages={"required": _("Enter the prospect's name.")}
    )
    prospect_mobile = forms.CharField(
        label=_("Prospect's mobile"),
        max_length=30,
        error_messages={"required": _("Enter the prospect's mobile.")},
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    intended_model = forms.CharField(label=_("Intended model"), max_length=100, required=False)
    consultant = forms.ModelChoiceField(
        label=_("Sales consultant"),
        queryset=None,
        required=False,
        empty_label=_("Not assigned yet"),
        error_messages={"invalid_choice": _("Choose one of the store's sales consultants.")},
    )

    def __init__(self, *args, user, store_ids: list[int] | None, staff: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["consultant"].queryset = referral_consultants(store_ids=store_ids)
        self.fields["consultant"].label_from_instance = _staff_label
        if staff:
            self.fields["referrer_staff"] = forms.ModelChoiceField(
                label=_("Referred by (member of staff)"),
                queryset=referral_staff_choices(user),
                error_messages={
                    "required": _("Choose the member of staff who referred the prospect."),
                    "invalid_choice": _("Choose the member of staff who referred the prospect."),
                },
            )
            self.fields["referrer_staff"].label_from_instance = _staff_label
            stores = stores_for_user(user).order_by("code")
            self.fields["store"] = forms.ModelChoiceField(
                label=_("Store"), queryset=stores, required=False, empty_label=_("The staff member's store")
            )
            self.order_fields(["referrer_staff", "store"])


class ReferralStageForm(forms.Form):
    stage = forms.ChoiceField(
        label=_("Stage"),
        choices=[(value, label) for value, label in ReferralStage.choices if value != ReferralStage.WON],
        error_messages={"invalid_choice": _("Choose one of the stages.")},
    )
    lost_reason = forms.CharField(label=_("Why lost"), max_length=200, required=False)


class ReferralAssignForm(forms.Form):
    consultant = forms.ModelChoiceField(
        label=_("Sales consultant"),
        queryset=None,
        required=False,
        empty_label=_("Not assigned yet"),
        error_messages={"invalid_choice": _("Choose one of the store's sales consultants.")},
    )

    def __init__(self, *args, store_ids: list[int] | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["consultant"].queryset = referral_consultants(store_ids=store_ids)


def _parse_month(value: str) -> datetime.date:
    try:
        month = datetime.datetime.strptime(value, "%Y-%m").date()  # noqa: DTZ007 - a month, not an instant
    except ValueError:
        month = None
    if month is None or not 2000 <= month.year <= 2100:
        raise ValidationError(_("Enter a month as YYYY-MM, e.g. 2026-03."))
    return month


class ReferralReportForm(forms.Form):
    store = forms.ModelChoiceField(label=_("Store"), queryset=None, required=False, empty_label=_("All my stores"))
    first_month = forms.CharField(
        label=_("From month"), required=False, widget=forms.TextInput(attrs={"type": "month"})
    )
    last_month = forms.CharField(label=_("To month"), required=False, widget=forms.TextInput(attrs={"type": "month"}))

    def __init__(self, *args, user, today: datetime.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["store"].queryset = stores_for_user(user).order_by("code")

    def clean(self):
        cleaned = super().clean()
        last = _parse_month(cleaned["last_month"]) if cleaned.get("last_month") else self.today.replace(day=1)
        first = _parse_month(cleaned["first_month"]) if cleaned.get("first_month") else add_months(last, -11)
        if first > last:
            raise ValidationError(_("The first month must not be after the last month."))
        if (last.year - first.year) * 12 + last.month - first.month >= MAX_REPORT_MONTHS:
            raise ValidationError(_("Choose at most 36 months."))
        cleaned["first"], cleaned["last"] = first, last
        return cleaned
