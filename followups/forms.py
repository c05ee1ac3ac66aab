from django import forms
from django.utils.translation import gettext_lazy as _

from customers.appointment_forms import AppointmentBookForm
from customers.choices import AppointmentPurpose
from customers.rule_builders import RULE_PARAMETERS, rule_parameters
from followups.choices import CallOutcome, RuleCode
from followups.models import FollowupRule

SATISFACTION_CHOICES = [("", _("Not asked")), *[(str(score), str(score)) for score in range(5, 0, -1)]]


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=CallOutcome.choices, widget=forms.RadioSelect)
    satisfaction = forms.TypedChoiceField(
        label=_("Satisfaction (1–5)"), choices=SATISFACTION_CHOICES, coerce=int, empty_value=None, required=False
    )
    is_dissatisfied = forms.BooleanField(label=_("Customer is dissatisfied (不满意)"), required=False)
    callback_at = forms.DateTimeField(
        label=_("Call back at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    notes = forms.CharField(label=_("Notes"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("outcome") == CallOutcome.CALL_BACK and not cleaned.get("callback_at"):
            self.add_error("callback_at", _("Give the time to call back."))
        return cleaned


class QuestionnaireField(forms.CharField):
    """One question per line."""

    widget = forms.Textarea(attrs={"rows": 6})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


def unused_rule_parameters(code: str) -> list[str]:
    """The rule parameters the builder of ``code`` does not read: hidden and ignored on the rule
    page and in the admin."""
    used = rule_parameters(code)
    return [name for name in RULE_PARAMETERS if name not in used]


class RuleForm(forms.ModelForm):
    questionnaire = QuestionnaireField(label=_("Questionnaire (one question per line)"), required=False)

    class Meta:
        model = FollowupRule
        fields = [
            "is_enabled",
            "channel",
            "offset_days",
            "offset_months",
            "interval_days",
            "distance_km",
            "priority",
            "worked_by",
            "script",
            "questionnaire",
            "sms_template",
        ]
        widgets = {
            "script": forms.Textarea(attrs={"rows": 6}),
            "sms_template": forms.Textarea(attrs={"rows": 3, "data-sms-counter": "true"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A form posted without the field (an older page, a script) keeps who works the rule.
        self.fields["worked_by"].required = False
        # Only the parameters the rule's builder reads (customers.rule_builders): the others are
        # neither shown nor saved.
        for name in unused_rule_parameters(self.instance.code):
            self.fields.pop(name, None)

    def clean_worked_by(self):
        return self.cleaned_data.get("worked_by") or self.instance.worked_by


# What a visit booked on a call is for, by the call's rule; any other rule books maintenance.
PURPOSE_BY_RULE = {
    RuleCode.FIRST_SERVICE_INVITE: AppointmentPurpose.FIRST_SERVICE,
    RuleCode.MAINTENANCE_DUE: AppointmentPurpose.MAINTENANCE,
    RuleCode.INSURANCE_RENEWAL: AppointmentPurpose.INSURANCE,
    RuleCode.INSPECTION_DUE: AppointmentPurpose.INSPECTION,
}


def booking_purpose_for(codes) -> str:
    """The purpose a booking from a call starts with: that of the first rule of the call with one of
    its own (first service, maintenance, insurance, inspection), else maintenance."""
    for code in codes:
        if code in PURPOSE_BY_RULE:
            return PURPOSE_BY_RULE[code]
    return AppointmentPurpose.MAINTENANCE


class CallBookingForm(AppointmentBookForm):
    """The visit booked on a call (outcome "booked"), posted with the outcome form under the prefix
    ``booking``; only read when the outcome is booked, so its fields are not marked required for the
    browser (a "reached" call posts them empty)."""

    prefix = "booking"
    use_required_attribute = False

    def __init__(self, *args, customer, tasks, **kwargs):
        super().__init__(*args, customer=customer, **kwargs)
        with_vehicle = next((task for task in tasks if task.vehicle_id), None)
        if with_vehicle is not None:
            self.fields["vehicle"].initial = with_vehicle.vehicle_id
        self.fields["purpose"].initial = booking_purpose_for([task.code for task in tasks])
        self.fields["date"].error_messages["required"] = _("Choose the day of the visit.")
