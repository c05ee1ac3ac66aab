"""Forms of the club events' pages: an event's details (managers), the list's filters, finding a
customer to invite or register, the door's search. Only parsing: the rules are in clubs.services."""

from django import forms
from django.utils.translation import gettext_lazy as _

from clubs.choices import EventKind, RegistrationSource
from clubs.models import ClubEvent
from crm.scoping import stores_for_user
from customers.selectors import segment_queryset_for_user

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
# An event's dates stay within these years (year 1 or 9999 would leave what PostgreSQL holds in UTC).
FIRST_YEAR, LAST_YEAR = 2000, 2099


def _moment(label):
    return forms.DateTimeField(
        label=label,
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
        error_messages={
            "required": _("Enter the date and time, such as 2026-12-10 14:00."),
            "invalid": _("Enter the date and time, such as 2026-12-10 14:00."),
        },
    )


class EventForm(forms.Form):
    """An event's details; the store is chosen when the event is planned and then stays."""

    store = forms.ModelChoiceField(
        label=_("Store"), queryset=None, error_messages={"invalid_choice": _("Choose one of your stores.")}
    )
    title = forms.CharField(
        label=_("Title"), max_length=100, error_messages={"required": _("Enter the event's title.")}
    )
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=EventKind.choices,
        error_messages={"invalid_choice": _("Choose one of the kinds of event.")},
    )
    starts_at = _moment(_("Starts at"))
    ends_at = _moment(_("Ends at"))
    place = forms.CharField(
        label=_("Place"), max_length=200, error_messages={"required": _("Enter where the event takes place.")}
    )
    capacity = forms.IntegerField(
        label=_("Places"),
        min_value=1,
        max_value=100_000,
        error_messages={
            "required": _("Enter how many people can come."),
            "invalid": _("Enter a whole number of places, such as 30."),
            "min_value": _("An event has at least one place."),
            "max_value": _("At most 100,000 places."),
        },
    )
    points_for_attending = forms.IntegerField(
        label=_("Points for attending"),
        min_value=0,
        max_value=100_000,
        initial=0,
        required=False,
        error_messages={
            "invalid": _("Enter a whole number of points, such as 100 (0 for none)."),
            "min_value": _("Enter a whole number of points, such as 100 (0 for none)."),
            "max_value": _("At most 100,000 points."),
        },
    )
    segment = forms.ModelChoiceField(
        label=_("For the segment"),
        queryset=None,
        required=False,
        empty_label=_("No segment"),
        error_messages={"invalid_choice": _("Choose one of the segments.")},
    )
    invitation_template = forms.CharField(
        label=_("Invitation text"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, user, event: ClubEvent | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores_for_user(user).order_by("code")
        self.fields["segment"].queryset = segment_queryset_for_user(user).order_by("name")
        if event is not None:
            del self.fields["store"]

    def _reasonable(self, name):
        value = self.cleaned_data.get(name)
        if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise forms.ValidationError(
                _("Enter a date between %(first)s and %(last)s.") % {"first": FIRST_YEAR, "last": LAST_YEAR}
            )
        return value

    def clean_starts_at(self):
        return self._reasonable("starts_at")

    def clean_ends_at(self):
        return self._reasonable("ends_at")

    def clean_points_for_attending(self):
        return self.cleaned_data.get("points_for_attending") or 0

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The event must end after it starts."))
        return data


class EventFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=100, required=False)
    when = forms.ChoiceField(
        label=_("When"),
        required=False,
        choices=[("upcoming", _("Upcoming")), ("past", _("Past")), ("all", _("All"))],
    )
    store = forms.TypedChoiceField(label=_("Store"), choices=[], coerce=int, empty_value=None, required=False)

    def __init__(self, *args, stores=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].choices = [("", _("All my stores")), *((store.pk, store.name) for store in stores)]
        self.fields["q"].widget.attrs.update({"placeholder": _("Title or place"), "type": "search"})

    def filters(self) -> dict:
        """The valid filters; an invalid one is left out (upcoming events of every store)."""
        self.is_valid()
        data = self.cleaned_data
        return {
            "search": (data.get("q") or "").strip(),
            "when": data.get("when") or "upcoming",
            "store_id": data.get("store"),
        }


class RegistrationForm(forms.Form):
    """Invite or register one customer (found by the search on the event's page)."""

    customer = forms.IntegerField(min_value=1, error_messages={"required": _("Choose a customer.")})
    action = forms.ChoiceField(
        choices=[("invite", "invite"), ("register", "register")],
        error_messages={"invalid_choice": _("Choose to invite or to register.")},
    )
    source = forms.ChoiceField(
        choices=[(RegistrationSource.PHONE, RegistrationSource.PHONE.label),
                 (RegistrationSource.DESK, RegistrationSource.DESK.label)],
        initial=RegistrationSource.PHONE,
        error_messages={"invalid_choice": _("Choose by phone or at the desk.")},
    )  # fmt: skip


class CheckInForm(forms.Form):
    customer = forms.IntegerField(min_value=1, error_messages={"required": _("Choose a customer.")})
