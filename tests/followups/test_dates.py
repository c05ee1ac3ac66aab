"""Dates of the follow-up rules: birthdays, the greetings' holidays, queue dates by channel (moved
here from the core calendar's tests with the code)."""

from datetime import date

import pytest

from crm.calendar import WorkingCalendar
from followups.dates import (
    GreetingHoliday,
    greeting_holidays,
    inverse_add_months,
    next_birthday,
    phone_queue_date,
    queue_date,
    rule_dates_queued_between,
    rule_dates_queued_on,
)


def days(*iso_dates: str) -> list[date]:
    return [date.fromisoformat(iso_date) for iso_date in iso_dates]


# --- next_birthday ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birthday", "on_or_after", "expected"),
    [
        (date(1985, 7, 14), date(2026, 3, 1), date(2026, 7, 14)),
        (
            date(1985, 7, 14),
            date(2026, 7, 14),
            date(2026, 7, 14),
        ),  # today is the birthday
        (date(1985, 7, 14), date(2026, 7, 15), date(2027, 7, 14)),
        (date(1985, 1, 1), date(2026, 12, 31), date(2027, 1, 1)),
        (date(1988, 2, 29), date(2027, 1, 10), date(2027, 2, 28)),  # non-leap year
        (date(1988, 2, 29), date(2027, 2, 28), date(2027, 2, 28)),
        (date(1988, 2, 29), date(2027, 3, 1), date(2028, 2, 29)),  # next year is leap
        (date(1988, 2, 29), date(2028, 2, 28), date(2028, 2, 29)),  # leap year
        (date(1988, 2, 29), date(2028, 2, 29), date(2028, 2, 29)),
        (date(1988, 2, 29), date(2028, 3, 1), date(2029, 2, 28)),
        (date(1990, 2, 28), date(2028, 2, 29), date(2029, 2, 28)),
    ],
)
def test_next_birthday(birthday, on_or_after, expected):
    assert next_birthday(birthday, on_or_after) == expected


# --- the holiday greetings' holidays ---------------------------------------------------------


def test_greeting_holidays_2027():
    holidays = greeting_holidays(2027)

    assert holidays == [
        ("spring_festival", date(2027, 2, 6)),
        ("labour_day", date(2027, 5, 1)),
        ("dragon_boat", date(2027, 6, 9)),
        ("mid_autumn", date(2027, 9, 15)),
        ("national_day", date(2027, 10, 1)),
    ]
    assert [holiday.name for holiday in holidays] == [
        "春节",
        "五一",
        "端午",
        "中秋",
        "国庆",
    ]
    assert holidays[0] == GreetingHoliday(code="spring_festival", day=date(2027, 2, 6))


# --- queue dates ------------------------------------------------------------------------------


def test_queue_date_by_channel():
    calendar = WorkingCalendar()

    assert queue_date(calendar, date(2026, 10, 3), "phone") == date(2026, 10, 8)
    assert queue_date(calendar, date(2026, 10, 3), "sms") == date(2026, 10, 3)
    with pytest.raises(ValueError, match="unknown channel"):
        queue_date(calendar, date(2026, 10, 3), "fax")


def test_rule_dates_queued_on_after_a_long_holiday():
    calendar = WorkingCalendar()

    assert rule_dates_queued_on(calendar, date(2026, 10, 8)) == days(
        "2026-10-01",
        "2026-10-02",
        "2026-10-03",
        "2026-10-04",
        "2026-10-05",
        "2026-10-06",
        "2026-10-07",
        "2026-10-08",
    )
    assert rule_dates_queued_on(calendar, date(2026, 10, 9)) == [date(2026, 10, 9)]
    assert rule_dates_queued_on(calendar, date(2026, 10, 5)) == []


def test_rule_dates_queued_on_runs_back_into_the_previous_year():
    # 2026-01-01..03 are the 元旦 break, Sunday 2026-01-04 an adjusted working day.
    calendar = WorkingCalendar()

    assert rule_dates_queued_on(calendar, date(2026, 1, 4)) == days(
        "2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"
    )
    assert rule_dates_queued_on(calendar, date(2025, 12, 31)) == [date(2025, 12, 31)]


def test_rule_dates_queued_between_covers_a_backfill_range():
    calendar = WorkingCalendar()

    # Queue days Sat 3 Oct .. Fri 9 Oct 2026: only 8 and 9 Oct are working days; the rule dates
    # queued on 8 Oct start with 1 Oct, before the range.
    assert rule_dates_queued_between(calendar, date(2026, 10, 3), date(2026, 10, 9)) == [
        (date(2026, 10, 1), date(2026, 10, 8)),
        (date(2026, 10, 2), date(2026, 10, 8)),
        (date(2026, 10, 3), date(2026, 10, 8)),
        (date(2026, 10, 4), date(2026, 10, 8)),
        (date(2026, 10, 5), date(2026, 10, 8)),
        (date(2026, 10, 6), date(2026, 10, 8)),
        (date(2026, 10, 7), date(2026, 10, 8)),
        (date(2026, 10, 8), date(2026, 10, 8)),
        (date(2026, 10, 9), date(2026, 10, 9)),
    ]
    # Sun 11 Oct is queued on Mon 12 Oct, after the range.
    assert rule_dates_queued_between(calendar, date(2026, 10, 10), date(2026, 10, 11)) == [
        (date(2026, 10, 10), date(2026, 10, 10)),
    ]
    assert rule_dates_queued_between(calendar, date(2026, 10, 4), date(2026, 10, 5)) == []


def test_phone_queue_date_over_national_day_2026():
    assert phone_queue_date(WorkingCalendar(), date(2026, 10, 3)) == date(2026, 10, 8)


def test_rule_dates_queued_on_after_spring_festival_2027():
    assert rule_dates_queued_on(WorkingCalendar(), date(2027, 2, 8)) == days("2027-02-06", "2027-02-07", "2027-02-08")


def test_rule_dates_queued_on_after_a_weekend():
    calendar = WorkingCalendar()

    assert rule_dates_queued_on(calendar, date(2027, 3, 8)) == days("2027-03-06", "2027-03-07", "2027-03-08")
    assert rule_dates_queued_on(calendar, date(2027, 3, 7)) == []
    assert rule_dates_queued_on(calendar, date(2027, 3, 9)) == [date(2027, 3, 9)]


def test_rule_dates_queued_on_right_after_the_official_calendar_ends():
    assert rule_dates_queued_on(WorkingCalendar(), date(2027, 1, 4)) == days(
        "2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04"
    )


def test_rule_dates_queued_on_follow_the_overrides():
    calendar = WorkingCalendar({date(2027, 3, 7): True, date(2026, 10, 1): True})

    assert rule_dates_queued_on(calendar, date(2027, 3, 7)) == days("2027-03-06", "2027-03-07")
    assert rule_dates_queued_on(calendar, date(2027, 3, 8)) == [date(2027, 3, 8)]
    assert rule_dates_queued_on(calendar, date(2026, 10, 8)) == days(
        "2026-10-02",
        "2026-10-03",
        "2026-10-04",
        "2026-10-05",
        "2026-10-06",
        "2026-10-07",
        "2026-10-08",
    )


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2027, 3, 15), 10, days("2026-05-15")),
        (date(2027, 2, 28), 10, days("2026-04-28", "2026-04-29", "2026-04-30")),
        (date(2028, 2, 29), 12, []),  # 29 Feb 2027 does not exist; 28 Feb 2027 + 12 months is 28 Feb
        (date(2027, 2, 28), 12, days("2026-02-28")),
    ],
)
def test_inverse_add_months_finds_every_date_that_lands_on_the_day(day, months, expected):
    assert inverse_add_months(day, months) == expected
