"""Forms of the prospects' pages (潜在客户): only parsing; the rules are in customers.services.prospects."""

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.scoping import stores_for_user, visible_store_ids
from customers.choices import ProspectLostReason, ProspectSource, ProspectStatus
from customers.selectors.prospects import prospect_consultants


def staff_label(member) -> str:
    return member.get_full_name() or member.username


class ProspectForm(forms.Form):
    """A new prospect: who, which model, where they came from, the consultant (and the store for
    staff of several stores)."""

    name = forms.CharField(
        label=_("Name"), max_length=100, error_messages={"required": _("Enter the name of the prospect.")}
    )
    mobile = forms.CharField(
        label=_("Mobile"),
        max_length=30,
        error_messages={"required": _("Enter the mobile of the prospect.")},
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    intended_model = forms.CharField(label=_("Intended model"), max_length=100, required=False)
    source = forms.ChoiceField(
        label=_("Source"),
        choices=[("", "—"), *ProspectSource.choices],
        error_messages={
            "required": _("Choose where the prospect came from."),
            "invalid_choice": _("Choose where the prospect came from."),
        },
    )
    consultant = forms.ModelChoiceField(
        label=_("Sales consultant"),
        queryset=None,
        required=False,
        empty_label=_("Not assigned yet"),
        error_messages={"invalid_choice": _("Choose one of the store's sales consultants.")},
    )
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"max_length": _("The notes are at most 2000 characters.")},
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["consultant"].queryset = prospect_consultants(store_ids=visible_store_ids(user))
        self.fields["consultant"].label_from_instance = staff_label
        stores = stores_for_user(user).order_by("code")
        if len(stores) > 1:
            self.fields["store"] = forms.ModelChoiceField(
                label=_("Store"),
                queryset=stores,
                error_messages={
                    "required": _("Choose the store the prospect came to."),
                    "invalid_choice": _("Choose the store the prospect came to."),
                },
            )
            self.order_fields(["store"])


class ProspectStatusForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[(value, label) for value, label in ProspectStatus.choices if value != ProspectStatus.WON],
        error_messages={
            "invalid_choice": _("Choose one of the statuses."),
            "required": _("Choose one of the statuses."),
        },
    )
    lost_reason = forms.ChoiceField(
        label=_("Why lost"),
        choices=[("", "—"), *ProspectLostReason.choices],
        required=False,
        error_messages={"invalid_choice": _("Say why the prospect was lost.")},
    )
    lost_note = forms.CharField(
        label=_("About the loss"),
        max_length=200,
        required=False,
        error_messages={"max_length": _("The note on the loss is at most 200 characters.")},
    )


class ProspectAssignForm(forms.Form):
    consultant = forms.ModelChoiceField(
        label=_("Sales consultant"),
        queryset=None,
        required=False,
        empty_label=_("Not assigned yet"),
        error_messages={"invalid_choice": _("Choose one of the store's sales consultants.")},
    )

    def __init__(self, *args, store_ids: list[int] | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["consultant"].queryset = prospect_consultants(store_ids=store_ids)
        self.fields["consultant"].label_from_instance = staff_label


# The longest period the prospects' report covers at once (a year and a day for a leap year).
PROSPECT_REPORT_MAX_DAYS = 366


class ProspectReportForm(forms.Form):
    """The period of the prospects' report: this month unless chosen."""

    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter the first day as YYYY-MM-DD.")},
    )  # fmt: skip
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter the last day as YYYY-MM-DD.")},
    )  # fmt: skip

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The last day comes before the first."))
            if (end - start).days >= PROSPECT_REPORT_MAX_DAYS:
                raise forms.ValidationError(_("Choose at most %(days)s days.") % {"days": PROSPECT_REPORT_MAX_DAYS})
        return data

    def period(self, *, today) -> tuple:
        """The chosen days; this month up to today when none (or a wrong one) is chosen."""
        data = self.cleaned_data if self.is_valid() else {}
        start = data.get("start") or today.replace(day=1)
        end = data.get("end") or max(today, start)
        return start, end
