"""The SLA clocks in business-hours mode: across a night, a weekend and an official holiday."""

import datetime
from zoneinfo import ZoneInfo

import pytest

from complaints.sla import add_business_minutes
from crm.calendar import WorkingCalendar
from tests.complaints.factories import local

SHANGHAI = ZoneInfo("Asia/Shanghai")


def due(start, minutes, overrides=None):
    return add_business_minutes(
        start,
        minutes,
        day_start=datetime.time(8, 30),
        day_end=datetime.time(18, 0),
        is_working_day=WorkingCalendar(overrides or {}).is_working_day,
        timezone=SHANGHAI,
    )


def test_inside_business_hours_the_hour_is_an_hour():
    assert due(local(2026, 11, 24, 10, 0), 60) == local(2026, 11, 24, 11, 0)


def test_across_the_night_the_clock_stops_at_closing_and_resumes_at_opening():
    # Tuesday 17:45: 15 minutes left that day, 45 on Wednesday from 08:30.
    assert due(local(2026, 11, 24, 17, 45), 60) == local(2026, 11, 25, 9, 15)


def test_across_the_weekend_friday_evening_is_due_monday_morning():
    assert due(local(2026, 11, 20, 17, 30), 60) == local(2026, 11, 23, 9, 0)


def test_received_on_a_sunday_the_clock_starts_monday_at_opening():
    assert due(local(2026, 11, 22, 15, 0), 60) == local(2026, 11, 23, 9, 30)


def test_received_at_night_the_clock_starts_next_morning():
    assert due(local(2026, 11, 24, 23, 10), 60) == local(2026, 11, 25, 9, 30)


def test_a_manager_override_makes_monday_a_holiday():
    overrides = {datetime.date(2026, 11, 23): False}

    assert due(local(2026, 11, 20, 17, 30), 60, overrides) == local(2026, 11, 24, 9, 0)


def test_24_business_hours_span_three_working_days():
    # Monday 10:00: 8 h Monday, 9.5 h Tuesday, 6.5 h Wednesday -> Wednesday 15:00.
    assert due(local(2026, 11, 23, 10, 0), 24 * 60) == local(2026, 11, 25, 15, 0)


def test_a_clock_ending_exactly_at_closing_time_is_due_at_closing_time():
    assert due(local(2026, 11, 24, 17, 0), 60) == local(2026, 11, 24, 18, 0)


def test_a_naive_start_is_refused():
    with pytest.raises(ValueError, match="aware"):
        due(datetime.datetime(2026, 11, 24, 10, 0), 60)  # noqa: DTZ001 - the point of the test
