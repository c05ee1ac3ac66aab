from datetime import UTC, date, datetime

import pytest

from crm.calendar import OFFICIAL_CALENDAR_YEARS, WorkingCalendar, add_months, lunar_to_solar, statutory_holidays


def days(*iso_dates: str) -> list[date]:
    return [date.fromisoformat(iso_date) for iso_date in iso_dates]


# --- add_months ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2023, 3, 31), -1, date(2023, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2023, 11, 30), 3, date(2024, 2, 29)),
        (date(2024, 11, 30), 3, date(2025, 2, 28)),
        (date(2024, 11, 30), 1, date(2024, 12, 30)),
        (date(2024, 1, 15), -1, date(2023, 12, 15)),
        (date(2024, 3, 31), -13, date(2023, 2, 28)),
        (date(2024, 2, 29), -14, date(2022, 12, 29)),
        (date(2024, 8, 31), -6, date(2024, 2, 29)),
        (date(2024, 12, 31), 12, date(2025, 12, 31)),
        (date(2025, 5, 31), 0, date(2025, 5, 31)),
    ],
)
def test_add_months_keeps_the_day_and_clamps_to_the_month_end(day, months, expected):
    assert add_months(day, months) == expected


def test_add_months_outside_the_date_range_raises():
    with pytest.raises(ValueError, match="out of the supported date range"):
        add_months(date(9999, 12, 1), 1)


# --- lunar calendar and holidays ----------------------------------------------------------------


def test_lunar_to_solar_2027():
    # Checked against lunardate, and they agree with the published 2027 almanac:
    # 春节 Sat 6 Feb, 端午 Wed 9 Jun, 中秋 Wed 15 Sep.
    assert lunar_to_solar(2027, 1, 1) == date(2027, 2, 6)
    assert lunar_to_solar(2027, 5, 5) == date(2027, 6, 9)
    assert lunar_to_solar(2027, 8, 15) == date(2027, 9, 15)


def test_lunar_to_solar_uses_the_ordinary_month_in_a_year_with_a_leap_month():
    # Lunar 2028 has a leap 5th month; 端午 is in the ordinary 5th month, before it.
    assert lunar_to_solar(2028, 5, 5) == date(2028, 5, 28)


def test_lunar_to_solar_rejects_days_and_years_it_cannot_convert():
    with pytest.raises(ValueError, match="day out of range"):
        lunar_to_solar(2026, 12, 30)  # the 12th month of lunar 2026 has 29 days
    with pytest.raises(ValueError, match="year out of range"):
        lunar_to_solar(2100, 1, 1)


def test_statutory_holidays_2027():
    assert statutory_holidays(2027) == {
        date(2027, 1, 1): "元旦",
        date(2027, 2, 6): "春节",
        date(2027, 5, 1): "劳动节",
        date(2027, 6, 9): "端午",
        date(2027, 9, 15): "中秋",
        date(2027, 10, 1): "国庆",
        date(2027, 10, 2): "国庆",
        date(2027, 10, 3): "国庆",
    }
    assert list(statutory_holidays(2027)) == sorted(statutory_holidays(2027))


def test_statutory_holidays_when_mid_autumn_falls_on_national_day():
    holidays_2028 = statutory_holidays(2028)

    assert holidays_2028[date(2028, 10, 3)] == "中秋"
    assert [day for day, name in holidays_2028.items() if name == "国庆"] == days("2028-10-01", "2028-10-02")
    assert len(holidays_2028) == 7


def test_statutory_holidays_returns_a_copy():
    statutory_holidays(2027).clear()

    assert len(statutory_holidays(2027)) == 8


# --- working days: the official calendar (chinese_calendar ships 2026) ---------------------------


def test_official_calendar_years_cover_2026_but_not_2027():
    # The fallback tests below use 2027. If an upgraded chinesecalendar ships 2027, move them to a
    # year it does not know.
    assert 2026 in OFFICIAL_CALENDAR_YEARS
    assert 2027 not in OFFICIAL_CALENDAR_YEARS


def test_official_calendar_2026():
    calendar = WorkingCalendar()

    assert calendar.is_working_day(date(2026, 10, 1)) is False  # 国庆, Thursday
    assert calendar.is_working_day(date(2026, 10, 7)) is False  # 国庆 break, Wednesday
    assert calendar.is_working_day(date(2026, 4, 6)) is False  # 清明 break, Monday
    assert calendar.is_working_day(date(2026, 9, 20)) is True  # Sunday, adjusted working day (调休)
    assert calendar.is_working_day(date(2026, 10, 10)) is True  # Saturday, adjusted working day
    assert calendar.is_working_day(date(2026, 3, 7)) is False  # an ordinary Saturday
    assert calendar.is_working_day(date(2026, 3, 9)) is True  # an ordinary Monday


def test_next_working_day_over_national_day_2026():
    calendar = WorkingCalendar()

    assert calendar.next_working_day(date(2026, 9, 30)) == date(2026, 9, 30)
    assert calendar.next_working_day(date(2026, 10, 1)) == date(2026, 10, 8)
    assert calendar.next_working_day(date(2026, 10, 7)) == date(2026, 10, 8)
    assert calendar.next_working_day(date(2026, 10, 10)) == date(2026, 10, 10)  # adjusted Saturday
    assert calendar.next_working_day(date(2026, 10, 11)) == date(2026, 10, 12)
    assert calendar.next_working_day(date(2026, 10, 3)) == date(2026, 10, 8)


def test_working_days_between_over_national_day_2026():
    calendar = WorkingCalendar()

    assert calendar.working_days_between(date(2026, 9, 28), date(2026, 10, 11)) == days(
        "2026-09-28",
        "2026-09-29",
        "2026-09-30",
        "2026-10-08",
        "2026-10-09",
        "2026-10-10",
    )
    assert calendar.working_days_between(date(2026, 10, 2), date(2026, 10, 1)) == []


def test_working_day_table_maps_each_day_to_its_next_working_day():
    calendar = WorkingCalendar()

    assert calendar.working_day_table(date(2026, 9, 30), date(2026, 10, 4)) == [
        (date(2026, 9, 30), date(2026, 9, 30)),
        (date(2026, 10, 1), date(2026, 10, 8)),
        (date(2026, 10, 2), date(2026, 10, 8)),
        (date(2026, 10, 3), date(2026, 10, 8)),
        (
            date(2026, 10, 4),
            date(2026, 10, 8),
        ),  # the next working day lies after the end of the range
    ]
    assert calendar.working_day_table(date(2026, 10, 2), date(2026, 10, 1)) == []


# --- working days: the computed fallback (2027) -------------------------------------------------


def test_fallback_calendar_2027():
    calendar = WorkingCalendar()

    assert calendar.is_working_day(date(2027, 1, 1)) is False  # 元旦, Friday
    assert calendar.working_days_between(date(2027, 9, 30), date(2027, 10, 4)) == days("2027-09-30", "2027-10-04")
    assert calendar.is_working_day(date(2027, 10, 4)) is True  # Monday after 国庆 1-3 Oct
    assert calendar.is_working_day(date(2027, 3, 6)) is False  # an ordinary Saturday
    assert calendar.is_working_day(date(2027, 3, 7)) is False  # an ordinary Sunday
    assert calendar.is_working_day(date(2027, 3, 8)) is True  # an ordinary Monday
    # 清明 (Mon 5 Apr 2027) is not in the spec's computed list: only the official notice makes it a day off.
    assert calendar.is_working_day(date(2027, 4, 5)) is True


def test_fallback_spring_festival_2027():
    calendar = WorkingCalendar()

    # 春节 (lunar 1/1) is Sat 6 Feb 2027; the spec's computed list has that one day only.
    assert calendar.is_working_day(date(2027, 2, 6)) is False
    assert calendar.working_days_between(date(2027, 2, 4), date(2027, 2, 9)) == days(
        "2027-02-04", "2027-02-05", "2027-02-08", "2027-02-09"
    )
    assert calendar.next_working_day(date(2027, 2, 6)) == date(2027, 2, 8)


def test_fallback_starts_right_after_the_official_calendar_ends():
    calendar = WorkingCalendar()

    assert calendar.working_days_between(date(2026, 12, 31), date(2027, 1, 4)) == days("2026-12-31", "2027-01-04")
    assert calendar.next_working_day(date(2026, 12, 31)) == date(2026, 12, 31)  # Thursday


# --- overrides ----------------------------------------------------------------------------------


def test_overrides_beat_the_fallback_and_the_official_calendar():
    calendar = WorkingCalendar(
        {
            date(2027, 3, 7): True,  # a Sunday made a working day
            date(2027, 10, 4): False,  # a Monday made a day off
            date(2026, 3, 10): False,  # a Tuesday in an official year made a day off
            date(2026, 10, 1): True,  # an official holiday made a working day
        }
    )

    assert calendar.is_working_day(date(2027, 3, 7)) is True
    assert calendar.is_working_day(date(2027, 10, 4)) is False
    assert calendar.is_working_day(date(2026, 3, 10)) is False
    assert calendar.is_working_day(date(2026, 10, 1)) is True
    assert calendar.is_working_day(date(2026, 10, 2)) is False  # not overridden
    assert calendar.next_working_day(date(2027, 10, 1)) == date(2027, 10, 5)
    assert calendar.next_working_day(date(2026, 3, 10)) == date(2026, 3, 11)
    assert calendar.working_days_between(date(2027, 3, 6), date(2027, 3, 8)) == days("2027-03-07", "2027-03-08")
    assert calendar.working_days_between(date(2026, 10, 1), date(2026, 10, 8)) == days("2026-10-01", "2026-10-08")


def test_overrides_are_copied_at_construction():
    overrides = {date(2027, 3, 7): True}
    calendar = WorkingCalendar(overrides)
    overrides[date(2027, 3, 7)] = False
    overrides[date(2027, 3, 8)] = False

    assert calendar.is_working_day(date(2027, 3, 7)) is True
    assert calendar.is_working_day(date(2027, 3, 8)) is True
    assert dict(calendar.overrides) == {date(2027, 3, 7): True}


def test_datetimes_are_rejected():
    with pytest.raises(TypeError, match=r"expected a datetime\.date"):
        WorkingCalendar().is_working_day(datetime(2027, 3, 8, 9, 0, tzinfo=UTC))
    with pytest.raises(TypeError, match=r"expected a datetime\.date"):
        WorkingCalendar({datetime(2027, 3, 8, 0, 0, tzinfo=UTC): False})
