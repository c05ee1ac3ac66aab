"""crm/form_renderer.py (Django's Jinja2 form renderer) writes the same HTML as Django's default
renderer: the same elements, attributes and text (assertHTMLEqual's comparison), for every widget
kind the project's forms use."""

import datetime
from decimal import Decimal

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.test.html import parse_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from crm.form_renderer import FAST_FORM_RENDERER
from crm.models import Store
from tests.factories import StoreFactory

GROUPED = [("", "—"), ("城区 <一>", [("1", "一店 <新>"), ("2", "二店")]), ("3", "三店"), (4, 4000)]


class EveryWidgetForm(forms.Form):
    text = forms.CharField(max_length=20, label="名字 <b>", help_text="help")
    placeholder = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("Search"), "autofocus": True, "data-x": False}),
    )
    safe_value = forms.CharField(required=False, widget=forms.TextInput(attrs={"title": mark_safe("<i>ok</i>")}))
    number = forms.IntegerField(required=False, min_value=0)
    decimal = forms.DecimalField(required=False, max_digits=6, decimal_places=2)
    email = forms.EmailField(required=False)
    day = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    moment = forms.DateTimeField(required=False)
    hidden = forms.CharField(required=False, widget=forms.HiddenInput)
    checkbox = forms.BooleanField(required=False)
    search = forms.CharField(required=False, widget=forms.TextInput(attrs={"type": "search"}))
    grouped = forms.ChoiceField(choices=GROUPED)
    numbers = forms.TypedChoiceField(choices=[(1, 1), (2, 1234567)], coerce=int, required=False)
    store = forms.ModelChoiceField(queryset=Store.objects.order_by("pk"), required=False)
    no_id = forms.CharField(required=False)


def both(data=None, initial=None, **kwargs):
    return (
        EveryWidgetForm(data, initial=initial, renderer=DjangoTemplates(), **kwargs),
        EveryWidgetForm(data, initial=initial, renderer=FAST_FORM_RENDERER, **kwargs),
    )


def same_html(first, second) -> bool:
    return parse_html(str(first)) == parse_html(str(second))


def assert_same(django_form, fast_form):
    for name in django_form.fields:
        assert same_html(fast_form[name], django_form[name]), name
        assert same_html(fast_form[name].label_tag(), django_form[name].label_tag()), name
    assert same_html(fast_form, django_form)


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_unbound_and_initial_values_render_alike(language, settings):
    settings.LANGUAGE_CODE = language
    StoreFactory(code="NJ01", name="江宁店 & <一>")
    StoreFactory(code="NJ02", name="鼓楼店")
    assert_same(*both())
    initial = {
        "text": 'a "quoted" <value> & more', "number": 12345, "decimal": Decimal("1234.50"),
        "day": datetime.date(2026, 12, 3), "moment": datetime.datetime(2026, 12, 3, 9, 30, tzinfo=datetime.UTC),
        "hidden": mark_safe("<safe>"), "checkbox": True, "grouped": "2", "numbers": 2,
        "store": Store.objects.get(code="NJ02").pk,
    }  # fmt: skip
    assert_same(*both(initial=initial))


@pytest.mark.django_db
def test_bound_forms_with_errors_render_alike():
    data = {"text": "x" * 30, "number": "-1", "day": "not a day", "grouped": "9", "checkbox": "on", "store": "77"}
    django_form, fast_form = both(data)
    assert not django_form.is_valid()
    assert not fast_form.is_valid()
    assert_same(django_form, fast_form)


@pytest.mark.django_db
def test_without_auto_id_and_with_a_prefix():
    assert_same(*both(auto_id=False))
    assert_same(*both(prefix="vehicle", initial={"grouped": "1"}))


def test_textareas_and_checkbox_lists_render_alike():
    class NoteForm(forms.Form):
        note = forms.CharField(widget=forms.Textarea, initial="a <note>")
        kinds = forms.MultipleChoiceField(choices=[("a", "A")], widget=forms.CheckboxSelectMultiple)

    django_form = NoteForm(renderer=DjangoTemplates())
    fast_form = NoteForm(renderer=FAST_FORM_RENDERER)
    assert same_html(fast_form, django_form)
