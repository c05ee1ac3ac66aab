import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from complaints.choices import ActionKind, Channel, Confirmation, Department, Origin, Severity
from complaints.models import ComplaintType
from complaints.selectors import staff_concerned_choices
from complaints.services import attachment_validate
from crm.calendar import add_months
from crm.scoping import stores_for_user
from customers.selectors import customer_queryset_for_user

MAX_DASHBOARD_MONTHS = 36


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked for type and size."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        cleaned = [super(MultipleFileField, self).clean(item, initial) for item in files]
        for uploaded_file in cleaned:
            attachment_validate(uploaded_file)
        return cleaned


class ComplaintForm(forms.Form):
    """Staff intake form; also opened from a call outcome with customer, vehicle and channel filled in."""

    customer_no = forms.CharField(label=_("Customer number"), max_length=40)
    vehicle = forms.CharField(
        label=_("Vehicle (plate or VIN)"), max_length=20, required=False, help_text=_("Optional.")
    )
    store = forms.ModelChoiceField(
        label=_("Store"), queryset=None, required=False, empty_label=_("The customer's store")
    )
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    department = forms.ChoiceField(label=_("Department"), choices=Department.choices)
    complaint_type = forms.ModelChoiceField(label=_("Type"), queryset=ComplaintType.objects.filter(is_active=True))
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices, initial=Severity.MEDIUM)
    staff_concerned = forms.ModelChoiceField(
        label=_("Staff member concerned"), queryset=None, required=False, empty_label=_("None or not a CRM user")
    )
    staff_concerned_name = forms.CharField(
        label=_("Or their name"), max_length=50, required=False, help_text=_("When the person has no CRM login.")
    )
    description = forms.CharField(
        label=_("What the customer said"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6, "autofocus": True, "accesskey": "d"}),
    )
    attachments = MultipleFileField(
        label=_("Attachments"),
        required=False,
        help_text=_("Photos, recordings, PDF or Office files, at most 10 MB each."),
    )
    followup_task = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    origin = forms.ChoiceField(choices=Origin.choices, widget=forms.HiddenInput, required=False)
    origin_reference = forms.CharField(max_length=60, widget=forms.HiddenInput, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["store"].queryset = stores_for_user(user).order_by("code")
        self.fields["staff_concerned"].queryset = staff_concerned_choices(user)
        self.fields["staff_concerned"].label_from_instance = lambda member: member.get_full_name() or member.username

    def clean_customer_no(self):
        number = self.cleaned_data["customer_no"].strip()
        customer = customer_queryset_for_user(self.user).select_related("store").filter(customer_no=number).first()
        if customer is None:
            raise ValidationError(_("No customer with number %(number)s in your stores."), params={"number": number})
        self.customer = customer
        return number

    def clean(self):
        cleaned = super().clean()
        customer = getattr(self, "customer", None)
        text = (cleaned.get("vehicle") or "").strip()
        cleaned["vehicle_object"] = None
        if customer is not None and text:
            vehicle = (
                customer.vehicles.filter(plate_no__iexact=text).first()
                or customer.vehicles.filter(vin__iexact=text).first()
            )
            if vehicle is None:
                self.add_error(
                    "vehicle", _("This customer has no vehicle with plate or VIN %(text)s.") % {"text": text}
                )
            cleaned["vehicle_object"] = vehicle
        return cleaned


class DepartmentForm(forms.Form):
    """A manager corrects the department a complaint was logged for."""

    department = forms.ChoiceField(label=_("Department"), choices=Department.choices)


class ActionForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What was done"),
        choices=[(kind, label) for kind, label in ActionKind.choices if kind in ActionKind.working_kinds()],
    )
    note = forms.CharField(label=_("Note"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}))


class CloseForm(forms.Form):
    resolution = forms.CharField(
        label=_("Resolution"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    # Not required here: the service refuses a close without it, with the message users need.
    confirmation = forms.ChoiceField(
        label=_("Customer's confirmation on the callback"),
        choices=Confirmation.choices,
        required=False,
        widget=forms.RadioSelect,
    )
    confirmation_note = forms.CharField(label=_("Callback note"), max_length=500, required=False)


class ReopenForm(forms.Form):
    reason = forms.CharField(label=_("Why it is reopened"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class AttachmentForm(forms.Form):
    files = MultipleFileField(label=_("Add attachments"))


def _parse_month(value: str) -> datetime.date:
    try:
        return datetime.datetime.strptime(value, "%Y-%m").date()  # noqa: DTZ007 - a month, not an instant
    except ValueError:
        raise ValidationError(_("Enter a month as YYYY-MM, e.g. 2026-03.")) from None


class DashboardFilterForm(forms.Form):
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
        if (last.year - first.year) * 12 + last.month - first.month >= MAX_DASHBOARD_MONTHS:
            raise ValidationError(_("Choose at most 36 months."))
        cleaned["first"], cleaned["last"] = first, last
        return cleaned
