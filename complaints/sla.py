"""The SLA clocks: when a response or a closing falls due, in calendar or in business hours.

Pure functions; the caller hands in the working-day test (``crm.calendar.WorkingCalendar``
built with the official-calendar overrides) so nothing here touches the database.
"""

import datetime
from collections.abc import Callable
from zoneinfo import ZoneInfo

ONE_DAY = datetime.timedelta(days=1)
# A complaint window never spans more than this many calendar days, even over the Spring Festival.
MAX_DAYS_SEARCHED = 366


def add_calendar_minutes(start: datetime.datetime, minutes: int) -> datetime.datetime:
    return start + datetime.timedelta(minutes=minutes)


def add_business_minutes(
    start: datetime.datetime,
    minutes: int,
    *,
    day_start: datetime.time,
    day_end: datetime.time,
    is_working_day: Callable[[datetime.date], bool],
    timezone: ZoneInfo,
) -> datetime.datetime:
    """``start`` moved on by ``minutes`` counted only inside business hours
    (``day_start``–``day_end`` local time) of working days.

    A complaint received at night or on a day off starts its clock when the next business day
    opens; a clock that runs out exactly at closing time is due at closing time, not the next
    morning. Raises ``ValueError`` when no working day comes within a year.
    """
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    remaining = datetime.timedelta(minutes=minutes)
    cursor = start.astimezone(timezone)
    day = cursor.date()
    for _ in range(MAX_DAYS_SEARCHED):
        if is_working_day(day):
            opens = datetime.datetime.combine(day, day_start, tzinfo=timezone)
            closes = datetime.datetime.combine(day, day_end, tzinfo=timezone)
            begin = max(cursor, opens)
            if begin < closes or (remaining == datetime.timedelta(0) and begin <= closes):
                available = closes - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        day += ONE_DAY
        cursor = datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone)
    raise ValueError("no business hours within a year of the start")
