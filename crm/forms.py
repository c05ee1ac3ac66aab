from django import forms
from django.utils.translation import gettext_lazy as _

from crm.choices import AuditAction


class AuditFilterForm(forms.Form):
    """The audit page's filters (GET): who, what, from and to which day. A bad value is a message
    on the form, never a server error."""

    actor = forms.CharField(label=_("Staff member"), required=False, max_length=100)
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("All actions")), *AuditAction.choices]
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned

    def filters(self) -> dict:
        """The valid filters as keyword arguments of crm.selectors.audit_log_for_user."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "actor": data["actor"].strip(),
            "action": data["action"],
            "date_from": data["date_from"],
            "date_to": data["date_to"],
        }


class ExportDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("refuse", _("Refuse"))])
