"""The club's forms: the members list's filters, the desk's actions, the settings page."""

import re
import uuid
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from clubs.choices import Tier
from clubs.models import StoreClub, TierRule
from clubs.selectors import MEMBER_SORTS
from crm.form_renderer import FAST_FORM_RENDERER

TOKEN_PATTERN = re.compile(r"^[0-9a-f]{32}$")


class MemberFilterForm(forms.Form):
    """The members list's search and filters (GET); an invalid filter is reported and left out."""

    # Its widgets drawn by Jinja2, two to three times faster (crm/form_renderer.py).
    default_renderer = FAST_FORM_RENDERER

    q = forms.CharField(label=_("Search"), max_length=100, required=False)
    tier = forms.TypedChoiceField(
        label=_("Tier"), choices=[("", _("All tiers")), *Tier.choices], coerce=int, empty_value=None, required=False
    )
    store = forms.TypedChoiceField(label=_("Store"), choices=[], coerce=int, empty_value=None, required=False)
    balance_min = forms.IntegerField(label=_("Points from"), min_value=0, max_value=10**9, required=False)
    balance_max = forms.IntegerField(label=_("Points to"), min_value=0, max_value=10**9, required=False)
    expiring = forms.BooleanField(label=_("Points expiring in 30 days"), required=False)
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("card", _("Card number")),
            ("-balance", _("Points, most first")),
            ("balance", _("Points, fewest first")),
            ("-joined", _("Joined, newest first")),
            ("joined", _("Joined, oldest first")),
        ],
    )

    def __init__(self, *args, stores=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].choices = [("", _("All my stores")), *((store.pk, store.name) for store in stores)]
        self.fields["q"].widget.attrs.update(
            {"placeholder": _("Name, customer no., card no., plate"), "type": "search"}
        )

    def clean(self):
        data = super().clean()
        low, high = data.get("balance_min"), data.get("balance_max")
        if low is not None and high is not None and low > high:
            raise forms.ValidationError(_("The lowest balance cannot be above the highest."))
        return data

    def filters(self) -> dict:
        """The valid filters (every one that is not, left out)."""
        self.is_valid()
        data = dict(self.cleaned_data)
        if self.non_field_errors():
            data.pop("balance_min", None)
            data.pop("balance_max", None)
        sort = data.get("sort") or "card"
        return {
            "search": data.get("q") or "",
            "tier": data.get("tier"),
            "store_id": data.get("store"),
            "balance_min": data.get("balance_min"),
            "balance_max": data.get("balance_max"),
            "expiring_only": bool(data.get("expiring")),
            "sort": sort if sort in MEMBER_SORTS else "card",
        }


def new_token() -> str:
    return uuid.uuid4().hex


class TokenForm(forms.Form):
    """A desk form that carries a one-time token: a double click posts the same token twice, and the
    service's reference makes the second post return the first's entry instead of a second one."""

    token = forms.CharField(widget=forms.HiddenInput, max_length=32)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("token", new_token())
        super().__init__(*args, **kwargs)

    def clean_token(self):
        token = self.cleaned_data["token"].strip().lower()
        if not TOKEN_PATTERN.match(token):
            raise forms.ValidationError(_("This form has expired: reload the page and enter it again."))
        return token


def _points_field(label, **kwargs):
    return forms.IntegerField(label=label, max_value=10_000_000, widget=forms.NumberInput(attrs={"step": 1}), **kwargs)


def _amount_field(label):
    return forms.DecimalField(
        label=label,
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )


class RedeemForm(TokenForm):
    points = _points_field(_("Points to redeem"), min_value=1)
    reference = forms.CharField(
        label=_("Voucher or order number"),
        max_length=40,
        required=False,
        help_text=_("Optional: without one the desk's own reference is used."),
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def service_reference(self) -> str:
        return self.cleaned_data["reference"].strip() or f"D{self.cleaned_data['token']}"


class TopUpForm(forms.Form):
    amount = _amount_field(_("Top-up amount (¥)"))
    reference = forms.CharField(label=_("Payment reference"), max_length=80)


class SpendForm(forms.Form):
    amount = _amount_field(_("Amount to pay (¥)"))
    reference = forms.CharField(label=_("Repair order or receipt number"), max_length=80)


class AdjustForm(TokenForm):
    points = _points_field(
        _("Points (+ credit, − debit)"), min_value=-10_000_000, help_text=_("For example 200 or -150.")
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Enter a whole number of points other than zero."))
        return points


class TierForm(forms.Form):
    tier = forms.TypedChoiceField(label=_("New tier"), choices=Tier.choices, coerce=int)
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class LifetimeFeeForm(forms.Form):
    reference = forms.CharField(label=_("Receipt number of the lifetime fee"), max_length=80)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class ClubStartForm(forms.Form):
    started_on = forms.DateField(
        label=_("Club start date (S)"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )


class StoreClubForm(forms.ModelForm):
    class Meta:
        model = StoreClub
        fields = [
            "points_per_amount", "silver_spend", "gold_spend", "diamond_topup", "topup_min", "topup_max",
            "points_valid_months", "referral_points", "referral_window_days",
        ]  # fmt: skip


class TierRuleForm(forms.ModelForm):
    class Meta:
        model = TierRule
        fields = ["points_rate", "labour_discount", "benefits"]
        widgets = {"benefits": forms.Textarea(attrs={"rows": 2})}
