"""Forms of the customers app: card edits, notes, incoming-call look-up, segment definitions."""

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.calendar import add_months
from crm.form_renderer import FAST_FORM_RENDERER
from crm.scoping import stores_for_user, visible_store_ids
from customers.choices import ConsentPurpose, ConsentSource, CustomerState, NoteKind
from customers.list_filters import customer_list_filters
from customers.models import Customer, CustomerNote, Segment
from customers.selectors import CONTACT_FIELDS, FLAG_FIELDS, customer_editable_fields
from customers.states import parse_month

PHONE_FIELDS = ("mobile", "landline")


class CustomerEditForm(forms.ModelForm):
    """The card fields this user may edit. Staff who see phones masked never get the full number in
    the form: the phone inputs start empty and an empty input keeps the number on the card."""

    class Meta:
        model = Customer
        fields = [*CONTACT_FIELDS, *FLAG_FIELDS]
        widgets = {"interests": forms.TextInput(attrs={"size": 60})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        from crm.masking import can_see_full_phone, mask_phone

        allowed = set(customer_editable_fields(user=user))
        for name in list(self.fields):
            if name not in allowed:
                del self.fields[name]
        self.phones_masked = not can_see_full_phone(user)
        if self.phones_masked:
            for name in PHONE_FIELDS:
                if name in self.fields:
                    current = getattr(self.instance, name)
                    self.initial[name] = ""
                    self.fields[name].help_text = _("Now %(number)s. Leave empty to keep it.") % {
                        "number": mask_phone(current) or "—"
                    }

    def clean_mobile(self):
        from customers.dms.parsing import FieldError, parse_mobile

        value = self.cleaned_data.get("mobile", "")
        if not value:
            return getattr(self.instance, "mobile", "") if self.phones_masked else ""
        try:
            return parse_mobile(value) or ""
        except FieldError as error:
            raise forms.ValidationError(error.reason) from None

    def clean_landline(self):
        from customers.dms.parsing import FieldError, parse_landline

        value = self.cleaned_data.get("landline", "")
        if not value:
            return getattr(self.instance, "landline", "") if self.phones_masked else ""
        try:
            return parse_landline(value) or ""
        except FieldError as error:
            raise forms.ValidationError(error.reason) from None

    def changed_data_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.fields}

    def _post_clean(self):
        # The model is cleaned by the service (customer_update), not by the form.
        pass


class CustomerNoteForm(forms.ModelForm):
    # On every card: its widgets drawn by Jinja2, two to three times faster (crm/form_renderer.py).
    default_renderer = FAST_FORM_RENDERER

    class Meta:
        model = CustomerNote
        fields = ["kind", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 3, "cols": 60})}

    kind = forms.ChoiceField(label=_("Kind"), choices=NoteKind.choices, initial=NoteKind.NOTE)


class SearchForm(forms.Form):
    """The search box of a list page (GET ``q``): a character PostgreSQL cannot compare (NUL) is a
    clear message, never a server error."""

    q = forms.CharField(label=_("Search"), required=False)

    def search(self) -> str:
        """The cleaned search text (at most 100 characters), or '' when the input was refused."""
        return self.cleaned_data["q"][:100] if self.is_valid() else ""


class CustomerListForm(forms.Form):
    """The customer list's filters and order (GET): a value that is not one of the choices (a store
    outside the user's) is a message and the unfiltered list, never an error page."""

    # Its widgets drawn by Jinja2, two to three times faster (crm/form_renderer.py).
    default_renderer = FAST_FORM_RENDERER

    ORDERS = (
        ("customer_no", _("Customer no.")),
        ("name", _("Name (pinyin)")),
        ("-last_visit", _("Last visit, newest first")),
    )
    store = forms.ModelChoiceField(label=_("Store"), queryset=None, required=False, empty_label=_("All my stores"),
                                   error_messages={"invalid_choice": _("Choose one of your stores.")})  # fmt: skip
    VISITS = (
        ("", _("Any time")),
        ("active", _("Within 6 months")),
        ("dormant", _("6 to 12 months ago")),
        ("lost", _("Over 12 months ago")),
        ("never", _("Never")),
    )
    visit = forms.ChoiceField(label=_("Last visit"), choices=VISITS, required=False,
                              error_messages={"invalid_choice": _("Choose one of the periods offered.")})  # fmt: skip
    order = forms.ChoiceField(label=_("Sort by"), choices=ORDERS, required=False,
                              error_messages={"invalid_choice": _("Choose one of the orders offered.")})  # fmt: skip

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores_for_user(user).order_by("code")
        # Staff of one store get no store menu (nothing to choose, and no query for its options);
        # a store in the address is still checked against theirs.
        store_ids = visible_store_ids(user)
        self.shows_store = store_ids is None or len(store_ids) > 1
        # The filters other apps add (customers/list_filters.py): a check box each.
        self.app_filters = customer_list_filters(user=user)
        for list_filter in self.app_filters:
            self.fields[list_filter.name] = forms.BooleanField(label=list_filter.label, required=False)

    def app_filter_fields(self) -> list:
        return [self[list_filter.name] for list_filter in self.app_filters]

    def choices(self) -> dict:
        """The valid filters and order ({} when a value was refused)."""
        if not self.is_valid():
            return {}
        return {
            "store": self.cleaned_data["store"],
            "visit": self.cleaned_data["visit"],
            "order": self.cleaned_data["order"] or "customer_no",
            "conditions": [
                list_filter.condition for list_filter in self.app_filters if self.cleaned_data[list_filter.name]
            ],
        }


class ExportRequestForm(forms.Form):
    reason = forms.CharField(
        label=_("Why this export is needed"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Say why this export is needed.")},
    )


class PhoneLookupForm(forms.Form):
    # Its widgets drawn by Jinja2, two to three times faster (crm/form_renderer.py).
    default_renderer = FAST_FORM_RENDERER

    phone = forms.CharField(label=_("Caller's number"), max_length=30)


class SegmentForm(forms.ModelForm):
    """A segment's name and filters; the filters are stored as the validated JSON definition."""

    class Meta:
        model = Segment
        fields = ["name", "description", "store"]

    def __init__(self, *args, user, **kwargs):
        from crm.scoping import stores_for_user
        from customers.segments import definition_as_form_initial, definition_fields

        super().__init__(*args, **kwargs)
        saved = definition_as_form_initial(self.instance.definition or {})
        self.fields["store"].queryset = stores_for_user(user)
        self.filter_names = []
        for name, field in definition_fields().items():
            self.fields[name] = field
            self.filter_names.append(name)
            if name in saved:
                self.initial[name] = saved[name]

    def clean(self):
        from customers.segments import definition_from_cleaned

        cleaned = super().clean()
        self.instance.definition = definition_from_cleaned({name: cleaned.get(name) for name in self.filter_names})
        return cleaned


class ConsentForm(forms.Form):
    """Record a customer's consent for one purpose (granted or withdrawn), how and with a note."""

    purpose = forms.ChoiceField(label=_("Purpose"), choices=ConsentPurpose.choices)
    is_granted = forms.TypedChoiceField(
        label=_("Consent"),
        choices=[("1", _("Granted")), ("0", _("Withdrawn"))],
        coerce=lambda value: value == "1",
    )
    source = forms.ChoiceField(label=_("How"), choices=ConsentSource.choices)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)


class ErasureForm(forms.Form):
    """Erase a customer: the customer number typed again as a confirmation, and the reason."""

    confirmation = forms.CharField(label=_("Type the customer number to confirm"), max_length=40)
    reason = forms.CharField(
        label=_("Reason"), max_length=300, error_messages={"required": _("Give the reason for the erasure.")}
    )

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer

    def clean_confirmation(self):
        typed = self.cleaned_data["confirmation"].strip()
        if typed != self.customer.customer_no:
            raise forms.ValidationError(_("Type the customer number exactly as shown to confirm the erasure."))
        return typed


def _month_field(label, *, required: bool) -> forms.CharField:
    return forms.CharField(label=label, required=required, widget=forms.TextInput(attrs={"type": "month"}))


class RetentionFilterForm(forms.Form):
    """The retention dashboard's store (none: all the user's stores) and the month whose movement
    is shown (default: the last whole month). Months up to the current one."""

    store = forms.ModelChoiceField(label=_("Store"), queryset=None, required=False, empty_label=_("All my stores"))
    month = _month_field(_("Month"), required=False)

    def __init__(self, *args, user, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.default_month = add_months(today.replace(day=1), -1)
        self.fields["store"].queryset = stores_for_user(user).order_by("code")

    def clean_month(self):
        value = (self.cleaned_data.get("month") or "").strip()
        if not value:
            return self.default_month
        month = parse_month(value)
        if month is None or month.year < 2000:
            raise forms.ValidationError(_("Enter a month as YYYY-MM, e.g. 2026-03."))
        if month > self.today.replace(day=1):
            raise forms.ValidationError(_("Choose this month or an earlier one."))
        return month


class RetentionCustomersForm(RetentionFilterForm):
    """The figure whose customers are listed: the month, the state at its end and the states at the
    end of the month before (``from`` repeated; ``none``: not in that month's snapshot)."""

    to = forms.ChoiceField(label=_("State at the month's end"), choices=CustomerState.choices)
    previous = forms.MultipleChoiceField(
        label=_("State a month before"),
        choices=[("none", _("None (new to the snapshot)")), *CustomerState.choices],
    )
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    # A "won back by" figure: only the returns that contact brought (customers/selectors/win_backs.py).
    by = forms.CharField(label=_("Won back by"), required=False, max_length=60)

    def clean_previous(self):
        return ["" if value == "none" else value for value in self.cleaned_data["previous"]]

    def clean_by(self):
        from customers.selectors.win_backs import win_back_filter

        value = self.cleaned_data["by"].strip()
        if value and win_back_filter(value) is None:
            raise forms.ValidationError(_('This is not one of the dashboard\'s "won back by" figures.'))
        return value


class SatisfactionTrendForm(forms.Form):
    """The satisfaction trend's stores (none: all the user's), period (default: the last 12 months up
    to this one; at most 36) and grouping, and a search among the groups."""

    MAX_MONTHS = 36

    store = forms.ModelChoiceField(label=_("Store"), queryset=None, required=False, empty_label=_("All my stores"))
    first = _month_field(_("First month"), required=False)
    last = _month_field(_("Last month"), required=False)
    by = forms.ChoiceField(
        label=_("Group by"),
        required=False,
        choices=[
            ("rule", _("Rule")),
            ("store", _("Store")),
            ("advisor", _("Service advisor of record")),
            ("consultant", _("Sales consultant of record")),
        ],
    )
    q = forms.CharField(label=_("Search"), required=False, max_length=100)

    def __init__(self, *args, user, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.current = today.replace(day=1)
        self.fields["store"].queryset = stores_for_user(user).order_by("code")

    def _month(self, name):
        value = (self.cleaned_data.get(name) or "").strip()
        if not value:
            return None
        month = parse_month(value)
        if month is None or month.year < 2000:
            raise forms.ValidationError(_("Enter a month as YYYY-MM, e.g. 2026-03."))
        if month > self.current:
            raise forms.ValidationError(_("Choose this month or an earlier one."))
        return month

    def clean_first(self):
        return self._month("first")

    def clean_last(self):
        return self._month("last")

    def clean_by(self):
        return self.cleaned_data.get("by") or "rule"

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        last = data.get("last") or self.current
        first = data.get("first") or add_months(last, -11)
        if first > last:
            raise forms.ValidationError(_("The period starts after it ends."))
        months = (last.year - first.year) * 12 + last.month - first.month + 1
        if months > self.MAX_MONTHS:
            raise forms.ValidationError(
                _("Choose at most %(count)d months (this period has %(months)d).")
                % {"count": self.MAX_MONTHS, "months": months}
            )
        data["first"], data["last"] = first, last
        return data
