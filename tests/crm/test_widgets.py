"""crm/widgets.py: ListSelect writes the same select as Django's, reading its choices once."""

import pytest
from django import forms
from django.test.html import parse_html

from crm.models import User
from crm.widgets import ListSelect
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
GROUPED = [("城区", [("1", "一店 <新>"), ("2", "二店")]), ("3", "三店")]


def staff_form(widget, **field):
    class StaffForm(forms.Form):
        consultant = forms.ModelChoiceField(queryset=User.objects.order_by("username"), widget=widget, **field)
        grouped = forms.ChoiceField(choices=GROUPED, widget=widget)

    return StaffForm


@pytest.mark.parametrize("field", [{"empty_label": None}, {"required": False, "empty_label": "—"}])
def test_the_html_is_djangos(field, django_assert_num_queries):
    users = [UserFactory(username=f"staff_{index}", first_name="<b>") for index in range(3)]
    initial = {"consultant": users[1].pk, "grouped": "2"}
    expected = staff_form(forms.Select, **field)(initial=initial)

    form = staff_form(ListSelect, **field)(initial=initial)
    with django_assert_num_queries(1):
        html = str(form["consultant"])

    assert parse_html(html) == parse_html(str(expected["consultant"]))
    assert parse_html(str(form["grouped"])) == parse_html(str(expected["grouped"]))
    assert f'<option value="{users[1].pk}" selected>' in html
