import re

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.form_renderer import FAST_FORM_RENDERER
from customers.appointment_forms import AppointmentBookForm
from customers.choices import AppointmentPurpose
from customers.rule_builders import RULE_PARAMETERS, rule_parameters
from followups.choices import CallOutcome, RuleCode
from followups.models import FollowupRule
from followups.questionnaires import QuestionType, choices_split, questions_of

SATISFACTION_CHOICES = [("", _("Not asked")), *[(str(score), str(score)) for score in range(5, 0, -1)]]


class OutcomeForm(forms.Form):
    # Rendered on every "save and next call": its widgets drawn by Jinja2 (crm/form_renderer.py).
    default_renderer = FAST_FORM_RENDERER

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


class QuestionnaireWidget(forms.Widget):
    """The rule page's question editor: one row per question, posted as ``questionnaire-<n>-text``,
    ``-type``, ``-choices`` (comma-separated) and ``-factor``; rendered by the rule page's template
    (``RuleForm.questionnaire_rows``). A plain ``questionnaire`` text (one question per line, what the
    page posted before questions were typed, and what scripts may still post) is read as text
    questions."""

    ROW = re.compile(r"^questionnaire-(\d{1,3})-text$")
    PARTS = ("text", "type", "choices", "factor")

    def value_from_datadict(self, data, files, name):
        numbers = sorted({int(match.group(1)) for key in data if (match := self.ROW.match(key))})
        if numbers:
            return [{part: data.get(f"{name}-{number}-{part}", "") for part in self.PARTS} for number in numbers]
        if name in data:
            return [{"text": line, "type": QuestionType.TEXT} for line in str(data.get(name) or "").splitlines()]
        return []

    def value_omitted_from_data(self, data, files, name):
        return False


class QuestionnaireField(forms.Field):
    """Typed questions from the editor's rows: a row without text is dropped (the blank rows to add a
    question), options are split on commas (also ，and 、), a factor is kept for a score question.
    The checks (a known type, options for a choice, …) are the model's (``FollowupRule.clean``)."""

    widget = QuestionnaireWidget

    def to_python(self, value):
        if not isinstance(value, list):
            return []
        questions = []
        for row in value:
            if not isinstance(row, dict):
                continue
            text = str(row.get("text") or "").strip()
            kind = str(row.get("type") or "").strip()
            choices = choices_split(str(row.get("choices") or ""))
            factor = str(row.get("factor") or "").strip()
            if not text and not choices and not factor:
                continue
            question = {"text": text, "type": kind}
            if kind == QuestionType.CHOICE:  # options left in the row of another type are not kept
                question["choices"] = choices
            if factor:
                question["factor"] = factor
            questions.append(question)
        return questions


def unused_rule_parameters(code: str) -> list[str]:
    """The rule parameters the builder of ``code`` does not read: hidden and ignored on the rule
    page and in the admin."""
    used = rule_parameters(code)
    return [name for name in RULE_PARAMETERS if name not in used]


class RuleForm(forms.ModelForm):
    questionnaire = QuestionnaireField(
        label=_("Questionnaire"),
        required=False,
        help_text=_(
            "One row per question. Options: only for a choice question, separated by commas. Factor: for a "
            "score question, the satisfaction factor it counts for (e.g. repair_overall), optional. Clear a "
            "question's text to remove it."
        ),
    )
    BLANK_QUESTION_ROWS = 3

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

    def questionnaire_rows(self) -> list[dict]:
        """The editor's rows: the posted ones when the page comes back with an error, else the rule's
        questions; then blank rows to add questions."""
        if self.is_bound:
            rows = self.fields["questionnaire"].widget.value_from_datadict(
                self.data, None, self.add_prefix("questionnaire")
            )
        else:
            rows = questions_of(self.instance.questionnaire)
        rows = [
            {
                "text": row.get("text", ""),
                "type": row.get("type", ""),
                "choices": row["choices"]
                if isinstance(row.get("choices"), str)
                else "，".join(row.get("choices") or []),
                "factor": row.get("factor", ""),
            }
            for row in rows
            if isinstance(row, dict)
        ]
        rows += [{"text": "", "type": QuestionType.TEXT.value, "choices": "", "factor": ""}] * self.BLANK_QUESTION_ROWS
        name = self.add_prefix("questionnaire")
        return [{**row, "number": number, "prefix": f"{name}-{number}"} for number, row in enumerate(rows)]

    @property
    def question_types(self):
        return QuestionType.choices


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
