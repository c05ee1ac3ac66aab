"""The queue list read by walking the queue in its order (selectors._queue_walk) gives exactly the
rows of the list grouped from the whole queue (selectors.queue_for_user), page after page, and the
figures count its rows: on mixed queues of callable and put-back tasks, two stores (one closed
for calls), customers with tasks in both, tasks assigned, done, of tomorrow and of hidden cards."""

import datetime
import random
import zoneinfo

import pytest

from crm.choices import Role
from followups import selectors
from followups.choices import TaskStatus
from tests.factories import CustomerFactory, StoreFactory, UserFactory
from tests.followups.factories import ALL_DAY, FollowupTaskFactory

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
TODAY = NOW.date()
CLOSED = {"morning_call_start": datetime.time(0, 0), "morning_call_end": datetime.time(0, 1),
          "afternoon_call_start": datetime.time(23, 0), "afternoon_call_end": datetime.time(23, 1)}  # fmt: skip


def _random_queue(seed: int):
    chance = random.Random(seed)
    open_store = StoreFactory(code=f"W{seed}A", name="开店", **ALL_DAY)
    closed_store = StoreFactory(code=f"W{seed}B", name="闭店", **CLOSED)
    agent = UserFactory(username=f"walker{seed}", role=Role.CALL_AGENT, stores=[open_store, closed_store])
    other = UserFactory(username=f"other{seed}", role=Role.CALL_AGENT, stores=[open_store])
    for number in range(40):
        home = chance.choice([open_store, open_store, closed_store])
        level = "top_secret" if number % 13 == 0 else "normal"
        customer = CustomerFactory(store=home, confidentiality=level)
        for task_number in range(chance.choice([1, 1, 2, 3, 4])):
            store = home if chance.random() < 0.85 else chance.choice([open_store, closed_store])
            callback = chance.choice([None, None, None, NOW - datetime.timedelta(hours=1),
                                      NOW + datetime.timedelta(minutes=20)])  # fmt: skip
            FollowupTaskFactory(
                store=store,
                customer=customer,
                priority=chance.choice([1, 2, 2, 3]),
                rule_date=TODAY - datetime.timedelta(days=task_number),  # one task per rule, car and day
                work_date=TODAY + datetime.timedelta(days=chance.choice([-3, -1, 0, 0, 0, 1])),
                callback_at=callback,
                assignee=other if chance.random() < 0.08 else None,
                status=TaskStatus.DONE if chance.random() < 0.08 else TaskStatus.OPEN,
            )
    return agent, [open_store, closed_store]


def _row(row: dict) -> tuple:
    return (row["customer_id"], row["store_id"], row["rank"], row["task_count"], row["callable_tasks"],
            row["callback"], row["total"])  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_the_walked_pages_are_the_grouped_lists_pages(seed):
    agent, stores = _random_queue(seed)
    summary = selectors.queue_summary(user=agent, today=TODAY, now=NOW)
    grouped = list(selectors.queue_for_user(user=agent, today=TODAY, now=NOW, stores=stores))
    assert summary["rows"] == len(grouped) > 20

    for per_page in (7, 25):
        walked, grouped_pages = [], []
        for number in range(1, len(grouped) // per_page + 3):
            page = {"user": agent, "now": NOW, "stores": stores, "search": "", "number": number, "per_page": per_page}
            walked += selectors.queue_page(**page, rows_in_all=summary["rows"])
            grouped_pages += selectors.queue_page(**page)
        # The grouped list orders a customer's two rows of the same rank (two stores) either way.
        assert sorted(map(_row, walked)) == sorted(map(_row, grouped_pages))
        assert [(row["rank"], row["customer_id"]) for row in walked] == [
            (row["rank"], row["customer_id"]) for row in grouped_pages
        ]
        assert len(walked) == len(grouped)
