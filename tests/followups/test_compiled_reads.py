"""What "save and next call" keeps from one cycle to the next to spend less CPU (issue 16): model
reads compiled once (selectors.compiled_model_read), the blank outcome form's HTML rendered once per
language (forms.BlankRenderedOnceBoundField) and the booking's selects rendered in Python
(forms.QuickSelect); each gives what the ORM and Django's forms give."""

import pytest
from django.db import connection
from django.forms import Select
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.safestring import mark_safe

from followups import forms, selectors, services
from followups.forms import CallBookingForm, OutcomeForm, QuickSelect
from followups.models import FollowupTask
from tests.factories import CustomerFactory, VehicleFactory
from tests.followups.factories import FollowupTaskFactory

pytestmark = pytest.mark.django_db


def _tasks(*, ids):
    return services._claimed_tasks(ids=ids)


def test_a_compiled_read_gives_the_orms_instances_with_their_related_ones_for_any_values(store_a):
    customer = CustomerFactory(store=store_a)
    vehicle = VehicleFactory(customer=customer)
    first = FollowupTaskFactory(store=store_a, customer=customer, vehicle=vehicle, code="post_repair_callback")
    second = FollowupTaskFactory(store=store_a, customer=customer, priority=1, detail={"time": "09:30"})
    other = FollowupTaskFactory(store=store_a)
    key = ("test claimed",)
    selectors._COMPILED_READS.pop(key, None)

    both = selectors.compiled_model_read(key, _tasks, ids=[first.pk, second.pk])
    with CaptureQueriesContext(connection) as queries:
        one = selectors.compiled_model_read(key, _tasks, ids=[other.pk])
        none = selectors.compiled_model_read(key, _tasks, ids=[])

    assert len(queries) == 2  # one statement each, compiled before: the same text but the array
    assert queries[0]["sql"].split("ANY(")[0] == queries[1]["sql"].split("ANY(")[0]
    assert [task.pk for task in both] == [second.pk, first.pk]  # priority, then id
    assert [task.pk for task in one] == [other.pk]
    assert none == []
    expected = {task.pk: task for task in _tasks(ids=[first.pk, second.pk])}
    with CaptureQueriesContext(connection) as related:
        for task in both:
            orm = expected[task.pk]
            assert [getattr(task, field.attname) for field in FollowupTask._meta.concrete_fields] == [
                getattr(orm, field.attname) for field in FollowupTask._meta.concrete_fields
            ]
            assert (task.rule.pk, task.rule.questionnaire, task.store.name) == (
                orm.rule.pk, orm.rule.questionnaire, orm.store.name,
            )  # fmt: skip
            assert (task.customer.name, task.customer.store.pk) == (customer.name, store_a.pk)
            assert task.vehicle == (vehicle if task.pk == first.pk else None)
    assert len(related) == 0  # every related row came with the read
    assert both[0].detail == {"time": "09:30"}  # JSON converted as by the ORM


def test_a_read_whose_values_the_statement_does_not_hold_as_given_is_compiled_every_time(store_a):
    task = FollowupTaskFactory(store=store_a)
    key = ("test by customer",)
    selectors._COMPILED_READS.pop(key, None)

    def by_customer(*, customer_id):
        return FollowupTask.objects.filter(customer_id=customer_id)

    found = selectors.compiled_model_read(key, by_customer, customer_id=task.customer_id)
    assert [row.pk for row in found] == [task.pk]
    assert key in selectors._COMPILED_READS
    key = ("test by text",)

    def by_text(*, customer_id):  # the ID in a text: not found among the parameters as given
        return FollowupTask.objects.filter(customer__customer_no=f"x{customer_id}")

    assert selectors.compiled_model_read(key, by_text, customer_id=task.customer_id) == []
    assert key not in selectors._COMPILED_READS


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_blank_outcome_forms_fields_render_as_djangos_in_each_language(language):
    forms._BLANK_FIELDS_HTML.clear()

    def fields(form) -> list[str]:
        return [
            *(f"{radio.data['value']}|{radio.tag()}|{radio.choice_label}" for radio in form["outcome"]),
            *(str(form[name]) for name in ("satisfaction", "is_dissatisfied", "callback_at", "notes")),
        ]

    class PlainOutcomeForm(OutcomeForm):
        bound_field_class = None

    with translation.override(language):
        expected = fields(PlainOutcomeForm())
        assert fields(OutcomeForm()) == expected
        assert fields(OutcomeForm()) == expected  # from what was kept
    assert ("已接通" in "".join(expected)) == (language == "zh-hans")


def test_a_bound_or_prefilled_outcome_form_is_rendered_with_its_values():
    with translation.override("en"):
        OutcomeForm().as_p()  # the blank form's fields kept
        bound = OutcomeForm({"outcome": "call_back", "notes": "later", "satisfaction": "4"})
        prefilled = OutcomeForm(initial={"outcome": "busy"})

        assert not bound.is_valid()
        assert "later</textarea>" in str(bound["notes"])
        assert '<option value="4" selected>' in str(bound["satisfaction"])
        assert [radio.data["selected"] for radio in bound["outcome"]].count(True) == 1
        assert "Give the time to call back." in str(bound.errors)
        assert [radio.data["value"] for radio in prefilled["outcome"] if radio.data["selected"]] == ["busy"]


@pytest.mark.parametrize("value", [None, "", "7", 7, "a&b"])
def test_a_quick_select_renders_as_djangos_select(value):
    choices = [("", "Any <advisor>"), (7, "王伟"), ("a&b", mark_safe("<b>x</b>")), ("Group", [(8, "eight"), ("9", 9)])]
    attrs = {"id": "id_booking-advisor", "data-x": 'q"uote', "disabled": False, "autofocus": True}
    django_select = Select(attrs=attrs, choices=choices)
    quick = QuickSelect(attrs=attrs, choices=choices)

    assert quick.render("booking-advisor", value) == django_select.render("booking-advisor", value)


def test_the_booking_forms_selects_render_as_before(store_a, advisor_a):
    customer = CustomerFactory(store=store_a)
    vehicle = VehicleFactory(customer=customer)
    task = FollowupTaskFactory(store=store_a, customer=customer, vehicle=vehicle, code="maintenance_due")
    for data in (None, {"booking-advisor": str(advisor_a.pk), "booking-vehicle": str(vehicle.pk)}):
        form = CallBookingForm(data, customer=customer, tasks=[task])
        plain = CallBookingForm(data, customer=customer, tasks=[task])
        for name in ("vehicle", "purpose", "advisor"):
            plain.fields[name].widget = Select(
                attrs=plain.fields[name].widget.attrs, choices=plain.fields[name].choices
            )
        assert isinstance(form.fields["advisor"].widget, QuickSelect)
        for name in ("vehicle", "purpose", "advisor"):
            assert str(form[name]) == str(plain[name])
        assert str(vehicle.plate_no) in str(form["vehicle"])
        assert advisor_a.username in str(form["advisor"]) or advisor_a.get_full_name() in str(form["advisor"])
