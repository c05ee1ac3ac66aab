"""Tomorrow's queue preview without the wait: the counts are made by a task and kept in the cache.

Counting what generation would make takes seconds on a dealer group's data (up to 14 s for a
holiday greeting to a million owners), so the page never counts. It reads the counts of its key
from the cache: everything they depend on besides the data, i.e. the day, the stores, the settings
of their enabled rules (what generation's statements read, not the rows' updated-at, so a rule
changed by any means counts afresh and a changed script does not) and the calendar's overrides.
Counts younger than ``FOLLOWUP_PREVIEW_FRESH_SECONDS`` are shown with their time; otherwise the
page queues ``followups.tasks.count_queue_preview`` and polls until they are there.

One computation per key: the first request adds a "running" marker (``cache.add``, atomic in
Redis) and queues the task; every other request of the same key (another manager of the same
stores, another tab) finds the marker and waits for the same counts. The task renews the marker
after each statement with how many are done; a worker that dies stops renewing it, and the marker
lapses ``FOLLOWUP_PREVIEW_RUNNING_SECONDS`` later, when the next poll queues the count again. A
count that fails leaves a "failed" marker: the page says so and offers to count again.

The new tasks come from the cache; the tasks already rolled over to the day are read with the
page (one query, of the user's own cards: a restricted card's task is counted only for those who
may see it, which a key shared by the managers of the same stores could not say).
"""

import dataclasses
import datetime
import hashlib
import json
import logging

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from crm.calendar import WorkingCalendar
from crm.selectors import working_calendar
from crm.tasks import enqueue, registered_task
from customers.rule_builders import RuleSettings
from followups import selectors
from followups.models import FollowupRule

logger = logging.getLogger(__name__)

# Part of every key: a change of what is kept (or of how it is counted) starts afresh.
KEY_VERSION = 1
COUNT_TASK = "followups.tasks.count_queue_preview"


class State:
    READY = "ready"
    RUNNING = "running"
    FAILED = "failed"


@dataclasses.dataclass
class QueuePreview:
    """What the preview page shows: the rows when ``state`` is ready (with ``counted_at``), else
    how far the count is (``done`` of ``of`` statements; ``of`` is None before the task starts)."""

    state: str
    day: datetime.date
    rows: list[dict] = dataclasses.field(default_factory=list)
    counted_at: datetime.datetime | None = None
    done: int = 0
    of: int | None = None

    @property
    def total(self) -> int:
        return sum(row["total"] for row in self.rows)


def preview_key(*, rules: list[FollowupRule], day: datetime.date, calendar: WorkingCalendar) -> str:
    """The cache key of the counts of ``rules`` (one user's, of their stores) on ``day``: a digest
    of the day, the stores, the settings of the rules that generate (switched on, of an active
    store) as generation reads them and the calendar's overrides. Two users with the same stores
    and rules share it; anything else differs."""
    enabled = [rule for rule in rules if selectors.rule_generates(rule)]
    material = {
        "version": KEY_VERSION,
        "day": day.isoformat(),
        "stores": sorted({rule.store_id for rule in rules}),
        "rules": sorted(json.dumps(dataclasses.astuple(group)) for group in RuleSettings.group(enabled)),
        "calendar": sorted((date.isoformat(), working) for date, working in calendar.overrides.items()),
    }
    digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:32]
    return f"followups:preview:{digest}"


def _state_key(key: str) -> str:
    return f"{key}:state"


def _running(done: int = 0, of: int | None = None) -> dict:
    return {"state": State.RUNNING, "done": done, "of": of}


def queue_preview_show(*, user, day: datetime.date) -> QueuePreview:
    """The preview of ``day`` for ``user`` as the page shows it now: the counts when fresh ones are
    kept, else the state of their count, which this starts unless one is running or the last one
    failed (then the manager asks for another: ``queue_preview_recount``)."""
    rules = list(selectors.rules_for_user(user=user))
    key = preview_key(rules=rules, day=day, calendar=working_calendar())
    if not any(selectors.rule_generates(rule) for rule in rules):  # nothing to count: no task, no wait
        return _ready(user=user, day=day, rules=rules, counts=[], counted_at=timezone.now())
    kept = cache.get(key)
    if kept is not None:
        return _ready(user=user, day=day, rules=rules, counts=kept["counts"], counted_at=kept["counted_at"])
    state = cache.get(_state_key(key))
    if state is None:
        state = _start(key=key, rules=rules, day=day)
        # Done already: a task run inline (eager), or a very quick worker, which counted or failed.
        kept = cache.get(key)
        if kept is not None:
            return _ready(user=user, day=day, rules=rules, counts=kept["counts"], counted_at=kept["counted_at"])
        state = cache.get(_state_key(key)) or state
    return QueuePreview(state=state["state"], day=day, done=state.get("done", 0), of=state.get("of"))


def queue_preview_recount(*, user, day: datetime.date) -> None:
    """Count the preview of ``day`` again ("count again", or "try again" after a failure): the
    kept counts and a failure are forgotten and a count starts, unless one is running already
    (then its counts, which are as new, are the ones awaited)."""
    rules = list(selectors.rules_for_user(user=user))
    key = preview_key(rules=rules, day=day, calendar=working_calendar())
    state = cache.get(_state_key(key))
    if state is not None and state["state"] == State.RUNNING:
        return
    cache.delete_many([key, _state_key(key)])
    _start(key=key, rules=rules, day=day)


def _start(*, key: str, rules: list[FollowupRule], day: datetime.date) -> dict:
    """Queue the count of ``key`` unless another request just did (then its state)."""
    running = _running()
    if not cache.add(_state_key(key), running, timeout=settings.FOLLOWUP_PREVIEW_RUNNING_SECONDS):
        # Someone else's count, or a cache that does not answer (then nothing can be kept: say so).
        return cache.get(_state_key(key)) or {"state": State.FAILED}
    store_ids = sorted({rule.store_id for rule in rules})
    queued = enqueue(
        registered_task(COUNT_TASK),
        kwargs={"store_ids": store_ids, "day": day.isoformat(), "key": key},
        # A copy no worker took before the marker lapsed is dropped: by then a poll has queued another.
        expires=settings.FOLLOWUP_PREVIEW_RUNNING_SECONDS,
    )
    if not queued:
        cache.set(_state_key(key), {"state": State.FAILED}, timeout=settings.FOLLOWUP_PREVIEW_FRESH_SECONDS)
        return {"state": State.FAILED}
    return running


def _ready(*, user, day, rules, counts, counted_at) -> QueuePreview:
    generated = {(store_id, code): count for store_id, code, count in counts}
    rolled_over = selectors.queue_rolled_over(user=user, day=day)
    rows = selectors.queue_preview_rows(rules=rules, generated=generated, rolled_over=rolled_over)
    return QueuePreview(state=State.READY, day=day, rows=rows, counted_at=counted_at)


def queue_preview_count(*, store_ids: list[int], day: datetime.date, key: str) -> str:
    """Count the preview of the rules of ``store_ids`` on ``day`` and keep the counts for
    FOLLOWUP_PREVIEW_FRESH_SECONDS under their key (the task's work; safe to run twice, the second
    keeps the same counts again). ``key`` is the key the page asked for: should the rules have
    changed since, the counts are kept under the key of the rules as they are now, the page's poll
    asks for that one, and the marker of the old one is removed. Returns the key counted."""
    rules = list(FollowupRule.objects.select_related("store").filter(store_id__in=store_ids))
    calendar = working_calendar()
    counted = preview_key(rules=rules, day=day, calendar=calendar)
    marker = _state_key(counted)

    def progress(done: int, of: int) -> None:
        # Renewed after each statement: a marker that stops being renewed is a count that died.
        cache.set(marker, _running(done, of), timeout=settings.FOLLOWUP_PREVIEW_RUNNING_SECONDS)

    try:
        generated = selectors.queue_preview_counts(rules=rules, day=day, calendar=calendar, progress=progress)
    except Exception:
        # The page says the count failed and offers to count again; the traceback goes to the log.
        logger.exception("the queue preview of %s for stores %s could not be counted", day, store_ids)
        failed = {"state": State.FAILED}
        cache.set_many({marker: failed, _state_key(key): failed}, timeout=settings.FOLLOWUP_PREVIEW_FRESH_SECONDS)
        return counted
    counts = sorted([store_id, code, count] for (store_id, code), count in generated.items())
    cache.set(
        counted, {"counts": counts, "counted_at": timezone.now()}, timeout=settings.FOLLOWUP_PREVIEW_FRESH_SECONDS
    )
    cache.delete_many([marker, _state_key(key)])
    return counted
