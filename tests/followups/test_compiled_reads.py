"""What "save and next call" keeps from one cycle to the next to spend less CPU (issue 16): model
reads compiled once (crm.compiled_reads), and the call panel's forms drawn by Django's Jinja2 form
renderer; each gives what the ORM and Django's default form renderer give."""

import pytest
from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.forms.renderers import DjangoTemplates
from django.test.html import parse_html
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from crm import compiled_reads
from crm.form_renderer import FAST_FORM_RENDERER
from crm.prepared import statement_text
from followups.forms import CallBookingForm, OutcomeForm
from followups.models import FollowupTask
from tests.factories import CustomerFactory, VehicleFactory
from tests.followups.factories import FollowupTaskFactory

pytestmark = pytest.mark.django_db


def _tasks(*, ids):
    """Tasks by a list of IDs (an array parameter) with their related rows, in the call panel's order."""
    return (
        FollowupTask.objects.filter(
            RawSQL('"followups_followuptask"."id" = ANY(%s)', [ids], output_field=BooleanField())
        )
        .select_related("rule", "vehicle", "customer__store", "store")
        .order_by("priority", "id")
    )


def test_a_compiled_read_gives_the_orms_instances_with_their_related_ones_for_any_values(store_a):
    customer = CustomerFactory(store=store_a)
    vehicle = VehicleFactory(customer=customer)
    first = FollowupTaskFactory(store=store_a, customer=customer, vehicle=vehicle, code="post_repair_callback")
    second = FollowupTaskFactory(store=store_a, customer=customer, priority=1, detail={"time": "09:30"})
    other = FollowupTaskFactory(store=store_a)
    key = ("test claimed",)
    compiled_reads._READS.pop(key, None)

    both = compiled_reads.compiled_read(key, _tasks, ids=[first.pk, second.pk])
    with CaptureQueriesContext(connection) as queries:
        one = compiled_reads.compiled_read(key, _tasks, ids=[other.pk])
        none = compiled_reads.compiled_read(key, _tasks, ids=[])

    assert len(queries) == 2  # one statement each, compiled before: the same text but the array
    first_text, second_text = (statement_text(query["sql"]).split("ANY(")[0] for query in queries)
    assert first_text == second_text
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
    compiled_reads._READS.pop(key, None)

    def by_customer(*, customer_id):
        return FollowupTask.objects.filter(customer_id=customer_id)

    found = compiled_reads.compiled_read(key, by_customer, customer_id=task.customer_id)
    assert [row.pk for row in found] == [task.pk]
    assert key in compiled_reads._READS
    key = ("test by text",)

    def by_text(*, customer_id):  # the ID in a text: not found among the parameters as given
        return FollowupTask.objects.filter(customer__customer_no=f"x{customer_id}")

    assert compiled_reads.compiled_read(key, by_text, customer_id=task.customer_id) == []
    assert key not in compiled_reads._READS


def _same_html(first, second) -> bool:
    return parse_html(str(first)) == parse_html(str(second))


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_outcome_and_booking_forms_drawn_by_jinja2_are_djangos_html(language, store_a, advisor_a):
    """The call panel's two forms (crm/form_renderer.py): blank, bound with errors, and prefilled."""
    customer = CustomerFactory(store=store_a)
    vehicle = VehicleFactory(customer=customer)
    task = FollowupTaskFactory(store=store_a, customer=customer, vehicle=vehicle, code="maintenance_due")
    outcomes = [None, {"outcome": "call_back", "notes": "later <b>", "satisfaction": "4"}]
    bookings = [None, {"booking-advisor": str(advisor_a.pk), "booking-vehicle": str(vehicle.pk)}]
    with translation.override(language):
        for data in outcomes:
            drawn, django = OutcomeForm(data), OutcomeForm(data, renderer=DjangoTemplates())
            assert drawn.renderer is FAST_FORM_RENDERER
            assert _same_html(drawn.as_div(), django.as_div())
        for data in bookings:
            drawn = CallBookingForm(data, customer=customer, tasks=[task])
            django = CallBookingForm(data, customer=customer, tasks=[task], renderer=DjangoTemplates())
            assert drawn.renderer is FAST_FORM_RENDERER
            for name in ("vehicle", "purpose", "advisor", "date", "notes"):
                assert _same_html(drawn[name], django[name]), name
        assert ("已接通" in str(OutcomeForm()["outcome"])) == (language == "zh-hans")
    assert str(vehicle.plate_no) in str(drawn["vehicle"])
