"""Tomorrow's queue preview through a real Celery worker and Redis: the page queues the count,
the worker makes it, the page's poll shows the counts (followups/queue_preview.py)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.conftest import wait_until
from tests.factories import VehicleFactory
from tests.followups.factories import rules_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_the_worker_counts_and_the_poll_shows_the_counts(client, manager_a, store_a, celery_worker_process):
    rules_for(store_a, delivery_thanks={"channel": "sms"})  # queued on R whatever the weekday
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    for _index in range(3):
        VehicleFactory(customer__store=store_a, store=store_a, delivery_date=tomorrow - datetime.timedelta(days=3))
    client.force_login(manager_a)

    first = client.get(reverse("followups:preview"))
    polled = wait_until(
        lambda: (
            (response := client.get(reverse("followups:preview_progress"))).context["preview"].state == "ready"
            and response
        ),
        timeout=60,
    )

    assert first.context["preview"].state == "running"
    assert polled, "the worker's counts never came"
    counts = {row["rule"].code: row["generated"] for row in polled.context["preview"].rows}
    assert counts["delivery_thanks"] == 3
    assert client.get(reverse("followups:preview")).context["preview"].state == "ready"  # kept for the next page
