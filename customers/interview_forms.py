"""Forms of the delivery interview: the questionnaire (one 1–5 choice per factor), the managers'
list filters and the factor editor."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.scoping import stores_for_user
from customers.selectors.interviews import interview_consultants_for_user

SCORE_CHOICES = [(score, str(score)) for score in range(1, 6)]
FIELD_PREFIX = "factor_"


class DeliveryInterviewForm(forms.Form):
    """One required 1–5 choice per factor the store asks (field ``factor_<code>``) and a comment."""

    comment = forms.CharField(
        label=_("Anything else the customer wants to tell us"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, factors, **kwargs):
        super().__init__(*args, **kwargs)
        self.factors = factors
        comment = self.fields.pop("comment")
        for factor in factors:
            self.fields[FIELD_PREFIX + factor.code] = forms.TypedChoiceField(
                label=factor.label,
                choices=SCORE_CHOICES,
                coerce=int,
                widget=forms.RadioSelect,  # drawn as five large targets (record.html)
                error_messages={
                    "required": _("Give a score for “%(factor)s”.") % {"factor": factor.label},
                    "invalid_choice": _("A score for “%(factor)s” is from 1 to 5.") % {"factor": factor.label},
                },
            )
        self.fields["comment"] = comment

    def scores(self) -> dict[str, int]:
        return {
            name.removeprefix(FIELD_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(FIELD_PREFIX)
        }

    def add_service_errors(self, error) -> None:
        """Put the service's errors (keyed by factor code) on the matching fields."""
        for key, messages in error.message_dict.items():
            field = FIELD_PREFIX + key
            self.add_error(field if field in self.fields else None, messages)


class DeliveryInterviewFilterForm(forms.Form):
    store = forms.ModelChoiceField(label=_("Store"), queryset=None, required=False, empty_label=_("All my stores"))
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    consultant = forms.ModelChoiceField(
        label=_("Sales consultant"), queryset=None, required=False, empty_label=_("Everyone")
    )
    q = forms.CharField(label=_("Search"), required=False, max_length=100)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores_for_user(user).order_by("code")
        self.fields["consultant"].queryset = interview_consultants_for_user(user)
        self.fields["consultant"].label_from_instance = lambda staff: staff.get_full_name() or staff.username
        self.fields["date_from"].error_messages["invalid"] = _("Enter a date as YYYY-MM-DD.")
        self.fields["date_to"].error_messages["invalid"] = _("Enter a date as YYYY-MM-DD.")

    @staticmethod
    def with_default_period(query):
        """The query with the period starting on the 1st of this month unless it names a start."""
        query = query.copy()
        if not query.get("date_from"):
            query["date_from"] = timezone.localdate().replace(day=1).isoformat()
        return query

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end of the period is before its start."))
        return data


class InterviewFactorRowForm(forms.Form):
    label = forms.CharField(label=_("Question"), max_length=100)
    position = forms.IntegerField(label=_("Order"), min_value=0, max_value=9999)
    is_active = forms.BooleanField(label=_("Asked"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"].error_messages["required"] = _("A factor needs a question.")
        self.fields["position"].error_messages["required"] = _("Give the factor's place in the order.")
        self.fields["position"].error_messages["invalid"] = _("The order is a whole number.")


class InterviewFactorAddForm(forms.Form):
    label = forms.CharField(label=_("New question"), max_length=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"].error_messages["required"] = _("Type the question to add.")
