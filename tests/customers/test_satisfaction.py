"""The closed loop's entry: results stored once, listeners told on commit, the dissatisfied state."""

import datetime
import re
import zoneinfo

import pytest
from django.db import connection
from django.urls import reverse

from customers.choices import Department, SatisfactionSource, SatisfactionVerdict
from customers.models import SatisfactionResult
from customers.satisfaction import (
    DISSATISFIED_CUSTOMERS_SQL,
    customer_dissatisfied_since,
    customer_is_dissatisfied,
    satisfaction_listener_register,
    satisfaction_listener_unregister,
    satisfaction_result_record,
    verdict_for_score,
)
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def _at(day: int) -> datetime.datetime:
    return datetime.datetime(2026, 11, day, 10, 0, tzinfo=SHANGHAI)


def test_verdicts_of_the_five_scores():
    assert [verdict_for_score(score) for score in (1, 2, 3, 4, 5, None)] == [
        "dissatisfied",
        "dissatisfied",
        "neutral",
        "satisfied",
        "satisfied",
        "neutral",
    ]


def _record(customer, *, day, score=None, verdict=None, reference):
    return satisfaction_result_record(
        customer=customer,
        department=Department.SERVICE,
        source=SatisfactionSource.CALL,
        reference=reference,
        at=_at(day),
        score=score,
        verdict=verdict,
        statement="服务态度差",
    )


def test_a_result_is_stored_once_and_listeners_hear_it_once(django_capture_on_commit_callbacks, store_a):
    heard = []
    satisfaction_listener_register("test.heard", lambda result: heard.append((result.customer_id, result.verdict)))
    try:
        customer = CustomerFactory(store=store_a)
        with django_capture_on_commit_callbacks(execute=True):
            first, created = _record(customer, day=3, score=2, reference="callattempt:1")
        with django_capture_on_commit_callbacks(execute=True):
            again, created_again = _record(customer, day=3, score=2, reference="callattempt:1")
    finally:
        satisfaction_listener_unregister("test.heard")
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert SatisfactionResult.objects.count() == 1
    assert heard == [(customer.pk, "dissatisfied")]


def test_a_failing_listener_neither_undoes_the_result_nor_stops_the_next(django_capture_on_commit_callbacks, store_a):
    heard = []

    def broken(result):
        raise RuntimeError("boom")

    satisfaction_listener_register("test.broken", broken)
    satisfaction_listener_register("test.heard", lambda result: heard.append(result.pk))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result, _ = _record(CustomerFactory(store=store_a), day=3, score=1, reference="x:1")
    finally:
        satisfaction_listener_unregister("test.broken")
        satisfaction_listener_unregister("test.heard")
    assert heard == [result.pk]


def test_dissatisfied_until_a_later_decisive_result_is_satisfied(store_a):
    customer = CustomerFactory(store=store_a)
    other = CustomerFactory(store=store_a)
    _record(customer, day=3, score=1, reference="a:1")
    _record(customer, day=5, score=3, reference="a:2")  # neither: still dissatisfied
    _record(other, day=3, verdict=SatisfactionVerdict.DISSATISFIED, reference="b:1")
    _record(other, day=6, score=4, reference="b:2")
    assert (customer_is_dissatisfied(customer_id=customer.pk), customer_is_dissatisfied(customer_id=other.pk)) == (
        True,
        False,
    )
    with connection.cursor() as cursor:
        cursor.execute(DISSATISFIED_CUSTOMERS_SQL, {"as_of": _at(5)})
        as_of_fifth = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(DISSATISFIED_CUSTOMERS_SQL, {"as_of": _at(30)})
        as_of_end = sorted(row[0] for row in cursor.fetchall())
    assert as_of_fifth == sorted([customer.pk, other.pk])
    assert as_of_end == [customer.pk]


def test_a_score_out_of_range_is_refused(store_a):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        _record(CustomerFactory(store=store_a), day=3, score=6, reference="c:1")
    assert SatisfactionResult.objects.count() == 0


def test_the_dissatisfied_state_starts_at_the_latest_dissatisfied_result_and_ends_at_a_satisfied_one(store_a):
    customer = CustomerFactory(store=store_a)
    _record(customer, day=3, score=2, reference="a:1")
    _record(customer, day=5, score=3, reference="a:2")  # neutral: changes nothing
    _record(customer, day=6, verdict="dissatisfied", reference="a:3")

    since = customer_dissatisfied_since(customer_id=customer.pk)
    _record(customer, day=9, score=4, reference="a:4")

    assert since == _at(6)
    assert customer_dissatisfied_since(customer_id=customer.pk) is None
    assert customer_dissatisfied_since(customer_id=CustomerFactory(store=store_a).pk) is None


def test_the_card_header_shows_the_dissatisfied_badge_with_since_when(client, advisor_a, manager_b, store_a):
    customer = CustomerFactory(store=store_a)
    content = CustomerFactory(store=store_a)
    _record(customer, day=6, score=1, reference="b:1")
    _record(content, day=6, score=5, reference="b:2")
    client.force_login(advisor_a)

    page = client.get(reverse("customers:detail", args=[customer.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    other = client.get(reverse("customers:detail", args=[content.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(manager_b)
    foreign = client.get(reverse("customers:detail", args=[customer.pk]))

    badge = re.search(r'<span class="badge warn" data-badge="dissatisfied"[^>]*>([^<]*)</span>', page.content.decode())
    assert badge.group(1) == "不满意客户 · 自 2026-11-06 起"
    assert 'data-badge="dissatisfied"' not in other.content.decode()
    assert foreign.status_code == 404
