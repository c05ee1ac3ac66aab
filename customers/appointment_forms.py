"""Forms of service appointments: booking at the desk, the arrivals board's filters and walk-ins,
the store's booking grid and the bookings report."""

import datetime

from django import forms
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from crm.form_renderer import FAST_FORM_RENDERER
from crm.models import User
from crm.scoping import stores_for_user
from customers.choices import AppointmentPurpose
from customers.models import AppointmentSettings
from customers.selectors import customer_vehicles, vehicle_queryset_for_user
from customers.selectors.appointments import store_advisors

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME_INPUT = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
REPORT_MAX_DAYS = 92


class AdvisorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.username

    def show(self, advisors: list) -> None:
        """Offer ``advisors``, read once, as the choices shown (a model choice field reads its
        queryset again at every rendering); what is submitted is still checked against the queryset."""
        empty = [("", self.empty_label)] if self.empty_label is not None else []
        self.choices = [*empty, *((advisor.pk, self.label_from_instance(advisor)) for advisor in advisors)]


class AppointmentBookForm(forms.Form):
    """Book a customer's vehicle into a slot (the service checks the day, the slot and the places)."""

    # Its widgets drawn by Jinja2, two to three times faster (crm/form_renderer.py): the call
    # panel renders it on every "save and next call", with a store's hundred advisors.
    default_renderer = FAST_FORM_RENDERER

    vehicle = forms.ModelChoiceField(label=_("Vehicle"), queryset=None, empty_label=None)
    date = forms.DateField(label=_("Date"), widget=DATE_INPUT)
    slot = forms.TimeField(label=_("Slot"), input_formats=["%H:%M", "%H:%M:%S"])
    purpose = forms.ChoiceField(label=_("Purpose"), choices=AppointmentPurpose.choices)
    advisor = AdvisorChoiceField(
        label=_("Service advisor"), queryset=None, required=False, empty_label=_("Any advisor")
    )
    notes = forms.CharField(label=_("Notes"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vehicle"].queryset = customer_vehicles(customer=customer)
        self.fields["advisor"].queryset = store_advisors(store=customer.store)
        self.fields["vehicle"].error_messages["invalid_choice"] = _("Choose one of this customer's vehicles.")
        self.fields["slot"].error_messages["invalid"] = _("Choose a slot.")
        self.fields["slot"].error_messages["required"] = _("Choose a slot.")


class BoardFilterForm(forms.Form):
    """The arrivals board's day, store, advisor and search."""

    # Its widgets drawn by Jinja2, two to three times faster (crm/form_renderer.py).
    default_renderer = FAST_FORM_RENDERER

    store = forms.ModelChoiceField(label=_("Store"), queryset=None, required=False, empty_label=None)
    date = forms.DateField(label=_("Date"), widget=DATE_INPUT, required=False)
    advisor = AdvisorChoiceField(
        label=_("Service advisor"), queryset=None, required=False, empty_label=_("All advisors")
    )
    q = forms.CharField(label=_("Search"), max_length=50, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        stores = stores_for_user(user).order_by("code")
        self.fields["store"].queryset = stores
        # The user's stores and the store's advisors, each read once: the board shows the store
        # choice only to staff of several stores, and the same advisors again in the walk-in form.
        self.stores = list(stores)
        asked = str(self.data.get("store", "")) if self.is_bound else ""
        store = next((store for store in self.stores if str(store.pk) == asked), None)
        self.store = store or (self.stores[0] if self.stores else None)
        self.fields["advisor"].queryset = store_advisors(store=self.store) if self.store else User.objects.none()

    @cached_property
    def advisors(self) -> list:
        """The store's advisors, read once: this form's choice shows them, and the walk-in form's."""
        advisors = list(self.fields["advisor"].queryset)
        self.fields["advisor"].show(advisors)
        return advisors

    def values(self) -> tuple:
        """(store, day, advisor, search): today and the first store when nothing valid is given."""
        data = self.cleaned_data if self.is_valid() else {}
        return (
            data.get("store") or self.store,
            data.get("date") or timezone.localdate(),
            data.get("advisor"),
            (data.get("q") or "").strip(),
        )


class WalkInForm(forms.Form):
    """A customer who came without a booking, found by plate number or customer number."""

    # Its widgets drawn by Jinja2, two to three times faster (crm/form_renderer.py).
    default_renderer = FAST_FORM_RENDERER

    lookup = forms.CharField(label=_("Plate or customer no."), max_length=40)
    purpose = forms.ChoiceField(label=_("Purpose"), choices=AppointmentPurpose.choices)
    advisor = AdvisorChoiceField(
        label=_("Service advisor"), queryset=None, required=False, empty_label=_("Any advisor")
    )

    def __init__(self, *args, user, store, advisors: list | None = None, **kwargs):
        """``advisors``: the store's advisors when already read (the board's filter form read them)."""
        super().__init__(*args, **kwargs)
        self.user, self.store = user, store
        self.fields["advisor"].queryset = store_advisors(store=store)
        if advisors is not None:
            self.fields["advisor"].show(advisors)

    def clean_lookup(self):
        from customers.selectors import customer_queryset_for_user

        text = self.cleaned_data["lookup"].strip().upper()
        vehicle = (
            vehicle_queryset_for_user(self.user)
            .filter(store=self.store, plate_no__iexact=text)
            .select_related("customer__store")
            .first()
        )
        if vehicle is not None:
            self.customer, self.vehicle = vehicle.customer, vehicle
            return text
        customer = (
            customer_queryset_for_user(self.user)
            .filter(store=self.store, customer_no__iexact=text)
            .select_related("store")
        ).first()
        if customer is None:
            raise forms.ValidationError(_("No vehicle with this plate and no customer with this number in this store."))
        vehicles = list(customer_vehicles(customer=customer)[:2])
        self.customer, self.vehicle = customer, vehicles[0] if len(vehicles) == 1 else None
        return text


class AppointmentSettingsForm(forms.ModelForm):
    class Meta:
        model = AppointmentSettings
        fields = ["slot_minutes", "opens_at", "closes_at", "capacity"]
        widgets = {"opens_at": TIME_INPUT, "closes_at": TIME_INPUT}


class StoreChoiceForm(forms.Form):
    store = forms.ModelChoiceField(label=_("Store"), queryset=None, required=False, empty_label=None)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores_for_user(user).order_by("code")

    def chosen_store(self):
        if self.is_valid() and self.cleaned_data.get("store"):
            return self.cleaned_data["store"]
        return self.fields["store"].queryset.first()


class BookingsReportForm(StoreChoiceForm):
    first_day = forms.DateField(label=_("From"), widget=DATE_INPUT, required=False)
    last_day = forms.DateField(label=_("To"), widget=DATE_INPUT, required=False)

    def clean(self):
        data = super().clean()
        first, last = data.get("first_day"), data.get("last_day")
        if first and last:
            if last < first:
                raise forms.ValidationError(_("The last day comes before the first."))
            if (last - first).days >= REPORT_MAX_DAYS:
                raise forms.ValidationError(_("Choose at most %(days)s days.") % {"days": REPORT_MAX_DAYS})
        return data

    def period(self) -> tuple[datetime.date, datetime.date]:
        """The chosen days, else the two weeks from today."""
        today = timezone.localdate()
        data = self.cleaned_data if self.is_valid() else {}
        first = data.get("first_day") or today
        last = data.get("last_day") or first + datetime.timedelta(days=13)
        return first, last
