"""Demo follow-ups for `make run`: the default rules of every demo store, today's tasks, a few
dissatisfied calls of last month so every rule has something to show."""

import datetime

from followups.services import followup_rules_ensure_defaults, followups_generate_range


def seed(*, context) -> None:
    followup_rules_ensure_defaults(stores=context.stores.values())
    # A week of history plus today, so the queue has overdue and today's calls.
    results = followups_generate_range(
        start=context.today - datetime.timedelta(days=7),
        end=context.today,
        store_ids=[store.pk for store in context.stores.values()],
    )
    context.counts["followup_tasks"] = sum(sum(made.values()) for made in results.values())
