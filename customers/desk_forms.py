"""Forms of the desks' hand-made cards and the sales desk's delivery (docs/desk.md)."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.form_renderer import FAST_FORM_RENDERER
from crm.scoping import stores_for_user
from crm.widgets import ListSelect
from customers.choices import DeliverySource
from customers.dms.parsing import FieldError, parse_landline, parse_mobile
from customers.models import Customer, Vehicle
from customers.services.cards import CUSTOMER_CREATE_FIELDS, VEHICLE_CREATE_FIELDS
from customers.vin import vin_normalise, vin_problem

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class CustomerCreateForm(forms.ModelForm):
    """A new card's static data. The mobile is checked as the DMS import checks it."""

    # Its widgets drawn by Jinja2, two to three times faster (crm/form_renderer.py).
    default_renderer = FAST_FORM_RENDERER

    store = forms.ModelChoiceField(label=_("Store"), queryset=None, empty_label=None, widget=ListSelect)
    duplicates_confirmed = forms.BooleanField(
        label=_("This is a different person: create a new card anyway"), required=False
    )
    # Typed as people say them (138 0013 8000, +86…): checked and normalised below.
    mobile = forms.CharField(
        label=_("Mobile"), required=False, max_length=30,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )  # fmt: skip
    landline = forms.CharField(
        label=_("Landline"), required=False, max_length=40, widget=forms.TextInput(attrs={"inputmode": "tel"})
    )

    class Meta:
        model = Customer
        fields = list(CUSTOMER_CREATE_FIELDS)
        widgets = {
            "birthday": DATE_INPUT,
            "email": forms.EmailInput(attrs={"inputmode": "email"}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores_for_user(user).order_by("code")
        stores = list(self.fields["store"].queryset[:2])
        if len(stores) == 1:
            self.fields["store"].initial = stores[0].pk
        self.fields["name"].required = True
        self.fields["name"].error_messages["required"] = _("Enter the customer's name.")
        self.order_fields(["store", "name", "mobile", "gender", "birthday"])

    def clean_name(self):
        name = " ".join((self.cleaned_data.get("name") or "").split())
        if not name:
            raise forms.ValidationError(_("Enter the customer's name."))
        return name

    def clean_mobile(self):
        value = self.cleaned_data.get("mobile", "")
        try:
            return parse_mobile(value) or ""
        except FieldError:
            raise forms.ValidationError(
                _("Not a mainland mobile number: 11 digits starting with 1, such as 138 0013 8000.")
            ) from None

    def clean_landline(self):
        value = self.cleaned_data.get("landline", "")
        try:
            return parse_landline(value) or ""
        except FieldError as error:
            raise forms.ValidationError(error.reason) from None

    def clean_birthday(self):
        birthday = self.cleaned_data.get("birthday")
        if birthday and birthday > timezone.localdate():
            raise forms.ValidationError(_("A birthday cannot be in the future."))
        return birthday

    def card_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in CUSTOMER_CREATE_FIELDS}

    def _post_clean(self):
        # The card is checked by the service (customer_create), which knows its store and number.
        pass


class VehicleCreateForm(forms.ModelForm):
    """A vehicle's data. The VIN's 17 characters and check digit are checked here, with a message
    that says what is wrong."""

    # Its widgets drawn by Jinja2, two to three times faster (crm/form_renderer.py).
    default_renderer = FAST_FORM_RENDERER

    class Meta:
        model = Vehicle
        fields = [name for name in VEHICLE_CREATE_FIELDS if name != "sales_consultant"]
        widgets = {
            "vin": forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off", "maxlength": 20}),
            "delivery_date": DATE_INPUT,
            "warranty_end": DATE_INPUT,
            "insurance_expiry": DATE_INPUT,
            "inspection_due": DATE_INPUT,
            "invoice_price": forms.NumberInput(attrs={"inputmode": "decimal", "min": "0", "step": "0.01"}),
        }

    def __init__(self, *args, delivery: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vin"].max_length = 20
        self.fields["vin"].validators = []
        if delivery:
            self.fields["delivery_date"].required = True
            self.fields["delivery_date"].initial = timezone.localdate()
            del self.fields["inspection_due"]

    def clean_vin(self):
        vin = vin_normalise(self.cleaned_data.get("vin") or "")
        if not vin:
            raise forms.ValidationError(_("Enter the VIN."))
        problem = vin_problem(vin)
        if problem:
            raise forms.ValidationError(problem)
        return vin

    def clean_invoice_price(self):
        price = self.cleaned_data.get("invoice_price")
        if price is not None and price <= 0:
            raise forms.ValidationError(_("The invoice price is more than zero."))
        return price

    def clean(self):
        cleaned = super().clean()
        delivered = cleaned.get("delivery_date")
        if delivered and delivered > timezone.localdate():
            self.add_error("delivery_date", _("A delivery cannot be dated in the future."))
        if delivered:
            for field, message in (
                ("insurance_expiry", _("The insurance expires before the delivery date: check the date.")),
                ("warranty_end", _("The warranty ends before the delivery date: check the date.")),
            ):
                value = cleaned.get(field)
                if value and value < delivered:
                    self.add_error(field, message)
        return cleaned

    def vehicle_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.fields}

    def _post_clean(self):
        pass


CONSENT_CHOICES = [("", _("Not asked")), ("yes", _("Agrees")), ("no", _("Refuses"))]


class DeliveryForm(forms.Form):
    """The delivery's own fields; the buyer is a card chosen by search (``customer``) or a new one
    (CustomerCreateForm), the car a VehicleCreateForm."""

    # Its widgets drawn by Jinja2, two to three times faster (crm/form_renderer.py).
    default_renderer = FAST_FORM_RENDERER

    customer = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # The store's staff: ListSelect reads and writes them once (crm/widgets.py).
    consultant = forms.ModelChoiceField(label=_("Sales consultant"), queryset=None, empty_label=None, widget=ListSelect)
    source = forms.ChoiceField(label=_("How the buyer came"), choices=DeliverySource.choices)
    referrer_customer = forms.IntegerField(required=False, widget=forms.HiddenInput)
    referrer_staff = forms.ModelChoiceField(
        label=_("Referring member of staff"), queryset=None, required=False, empty_label="—", widget=ListSelect
    )
    service_consent = forms.ChoiceField(
        label=_("Service reminders (maintenance, insurance, inspection)"), choices=CONSENT_CHOICES, required=False,
        initial="yes",
    )  # fmt: skip
    marketing_consent = forms.ChoiceField(
        label=_("Marketing messages (offers, events, new models)"), choices=CONSENT_CHOICES, required=False
    )
    consent_note = forms.CharField(
        label=_("How the customer agreed"), required=False, max_length=300,
        help_text=_("E.g. signed the delivery form's consent box; said yes at the desk."),
    )  # fmt: skip

    def __init__(self, *args, consultants, staff, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["consultant"].queryset = consultants
        self.fields["referrer_staff"].queryset = staff
        self.fields["consultant"].label_from_instance = lambda user: user.get_full_name() or user.username
        self.fields["referrer_staff"].label_from_instance = lambda user: user.get_full_name() or user.username

    def clean(self):
        cleaned = super().clean()
        source = cleaned.get("source")
        if source == DeliverySource.OWNER_REFERRAL and not cleaned.get("referrer_customer"):
            self.add_error("source", _("Search and choose the customer who referred the buyer."))
        if source == DeliverySource.STAFF_REFERRAL and not cleaned.get("referrer_staff"):
            self.add_error("referrer_staff", _("Choose the member of staff who referred the buyer."))
        return cleaned
