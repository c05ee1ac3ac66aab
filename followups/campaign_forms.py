"""Forms of the SMS campaigns' pages (营销短信): a draft, the list's filters and the quick care
message. Only parsing: the rules are in followups.campaigns."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.scoping import stores_for_user
from customers.selectors import segment_queryset_for_user
from followups.choices import CampaignKind, CampaignStatus
from followups.placeholders import MAX_TEMPLATE_LENGTH

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
FIRST_YEAR, LAST_YEAR = 2000, 2099
DEFAULT_CARE_TEMPLATE = (
    "尊敬的{name}：近期有恶劣天气，请谨慎驾驶、注意安全。如遇故障请拨打{store}24小时救援电话{store_phone}。"
)


class CampaignForm(forms.Form):
    """A draft's details; the store is chosen when the draft is made and then stays."""

    store = forms.ModelChoiceField(
        label=_("Store"), queryset=None, error_messages={"invalid_choice": _("Choose one of your stores.")}
    )
    name = forms.CharField(
        label=pgettext_lazy("the name of a thing", "Name"),
        max_length=100,
        error_messages={"required": _("Give the campaign a name.")},
    )
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=CampaignKind.choices,
        error_messages={"invalid_choice": _("Choose one of the kinds of campaign.")},
    )
    segment = forms.ModelChoiceField(
        label=_("Segment"),
        queryset=None,
        error_messages={"required": _("Choose a segment."), "invalid_choice": _("Choose one of the segments.")},
    )
    template = forms.CharField(
        label=_("Text"),
        max_length=MAX_TEMPLATE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "data-sms-counter": ""}),
        help_text=_("Fields: {name} {plate} {model} {date} {store} {store_phone} {points}"),
        error_messages={"required": _("Write the text of the message.")},
    )
    send_at = forms.DateTimeField(
        label=_("Send at"),
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
        help_text=_("SMS go out between 09:00 and 20:00 only."),
        error_messages={
            "required": _("Enter the date and time, such as 2026-12-10 14:00."),
            "invalid": _("Enter the date and time, such as 2026-12-10 14:00."),
        },
    )
    holdout_percent = forms.IntegerField(
        label=_("Holdout (%)"),
        initial=10,
        help_text=_("Share of the recipients not sent, to measure the effect."),
        error_messages={
            "required": _("Enter the holdout, such as 10 (0 for none)."),
            "invalid": _("Enter the holdout, such as 10 (0 for none)."),
        },
    )

    def __init__(self, *args, user, campaign=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores_for_user(user).order_by("code")
        self.fields["segment"].queryset = segment_queryset_for_user(user).order_by("name")
        if campaign is not None:
            del self.fields["store"]

    def clean_holdout_percent(self):
        # Checked here, not by min_value/max_value: their messages are %-formatted and this one has a "%".
        value = self.cleaned_data.get("holdout_percent")
        if value is not None and not 0 <= value <= 50:
            raise forms.ValidationError(_("The holdout is between 0 and 50 %."))
        return value

    def clean_send_at(self):
        value = self.cleaned_data.get("send_at")
        if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise forms.ValidationError(
                _("Enter a date between %(first)s and %(last)s.") % {"first": FIRST_YEAR, "last": LAST_YEAR}
            )
        return value


class CampaignCountForm(forms.Form):
    """What the live count of the draft form reads (any field may be missing while it is filled)."""

    store = forms.IntegerField(required=False)
    campaign = forms.IntegerField(required=False)
    segment = forms.IntegerField(required=False)
    kind = forms.ChoiceField(choices=CampaignKind.choices, required=False)


class CampaignFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=100, required=False)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All")), *CampaignStatus.choices])

    def filters(self) -> dict:
        if not self.is_valid():
            return {"search": "", "status": ""}
        return {"search": self.cleaned_data["q"], "status": self.cleaned_data["status"]}


class QuickCareForm(forms.Form):
    """A special-weather care message (特殊天气关怀) to the owners of chosen districts."""

    store = forms.ModelChoiceField(
        label=_("Store"), queryset=None, error_messages={"invalid_choice": _("Choose one of your stores.")}
    )
    districts = forms.MultipleChoiceField(
        label=_("Districts"),
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": _("Choose at least one district."),
            "invalid_choice": _("Choose among the districts shown."),
        },
    )
    template = forms.CharField(
        label=_("Text"),
        max_length=MAX_TEMPLATE_LENGTH,
        initial=DEFAULT_CARE_TEMPLATE,
        widget=forms.Textarea(attrs={"rows": 4, "data-sms-counter": ""}),
        help_text=_("Fields: {name} {plate} {model} {date} {store} {store_phone} {points}"),
        error_messages={"required": _("Write the text of the message.")},
    )

    def __init__(self, *args, user, districts: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores_for_user(user).order_by("code")
        self.fields["districts"].choices = [(district, district) for district in districts]
