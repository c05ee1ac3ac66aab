"""The form renderer of the busiest pages' forms: Django's own Jinja2 form renderer.

Django's default renderer draws each input, select option and label through two or three small
templates of its template language (the widget's, ``input.html``, ``attrs.html``), about a quarter
of a millisecond a field on a busy machine: the delivery desk's 38 fields cost it 11 of its 28 ms
of CPU. Django ships the same widget templates for Jinja2, which renders them two to three times
faster; the HTML is the same but for the blank lines between a select's options
(tests/crm/test_form_renderer.py compares them on every widget kind the project's forms use).

A form opts in with ``default_renderer = FAST_FORM_RENDERER``. It is not the project-wide
``FORM_RENDERER``: the admin's and the libraries' widgets have templates only in Django's template
language.
"""

from django.forms.renderers import Jinja2

FAST_FORM_RENDERER = Jinja2()
