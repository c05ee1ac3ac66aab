"""Form widgets shared by the apps."""

from django import forms
from django.forms.models import ModelChoiceIterator
from django.forms.utils import flatatt
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe


def _option_html(option: dict) -> str:
    value, label, attrs = conditional_escape(option["value"]), conditional_escape(option["label"]), option["attrs"]
    return f'<option value="{value}"{flatatt(attrs) if attrs else ""}>{label}</option>'


class ListSelect(forms.Select):
    """A select of many options (a store's staff: a group's managers are in every store's list),
    read once and written in Python. Django's own select reads a model choice field's query twice
    (once to decide on ``required``) and renders each option through two templates, about a
    millisecond an option on a busy machine: a list of a hundred staff cost the delivery desk more
    than all its other fields. The HTML is the same as Django's (tests/crm/test_widgets.py)."""

    def _listed(self) -> None:
        choices = self.choices
        if isinstance(choices, list):
            return
        if isinstance(choices, ModelChoiceIterator):
            # One plain SELECT: the iterator reads its queryset through a server-side cursor
            # (DECLARE … WITH HOLD, FETCH, CLOSE: three round trips and a result materialised at
            # commit), about a millisecond a list; a store's staff is a few hundred rows at most.
            empty = [] if choices.field.empty_label is None else [("", choices.field.empty_label)]
            self.choices = empty + [choices.choice(obj) for obj in list(choices.queryset)]
        else:
            self.choices = list(iter(choices))  # iter(): no COUNT query for list()'s length hint

    def use_required_attribute(self, initial) -> bool:
        self._listed()
        return super().use_required_attribute(initial)

    def render(self, name, value, attrs=None, renderer=None):
        self._listed()
        widget = self.get_context(name, value, attrs)["widget"]
        groups = []
        for group_name, options, _index in widget["optgroups"]:
            # format_html_join's escaping, written out: it cost 20 µs an option, a store's staff
            # list has hundreds (flatatt of no attributes is "").
            html = mark_safe("".join(map(_option_html, options)))  # each value escaped in _option_html
            groups.append(format_html('<optgroup label="{}">{}</optgroup>', group_name, html) if group_name else html)
        return format_html(
            '<select name="{}"{}>{}</select>', name, flatatt(widget["attrs"]), mark_safe("".join(groups))
        )
