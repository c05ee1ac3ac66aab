"""The core's calendar: working days and days off (Chinese public holidays), and month arithmetic.

It knows no domain: what a follow-up rule makes of a date (birthdays, the greetings' holidays, the
queue date of a rule date by channel) lives with the rules in ``followups.dates``. Pure functions
and one small class; nothing here touches the database. The admin-editable official calendar
(``crm.models.CalendarDay``) is read by the caller and handed to ``WorkingCalendar`` as a mapping of
date → is-working-day.

Working days (``docs/followups.md``, "The working-day calendar"), in order of precedence:

1. an override entered by a manager (the State Council notice for a year) decides;
2. otherwise, for a year that ``chinese_calendar`` ships data for, its official calendar decides
   (weekends and public holidays off, adjusted working days 调休上班 on);
3. otherwise weekends and the computed ``statutory_holidays`` of the year are off, all else is on.
"""

from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType

import chinese_calendar
from django.utils import timezone
from lunardate import LunarDate

ONE_DAY = timedelta(days=1)

# The years chinese_calendar accepts: it validates against the span of its holiday table.
OFFICIAL_CALENDAR_YEARS: frozenset[int] = frozenset(
    range(min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year + 1)
)

# lunardate converts lunar years 1900..2099; chinese_calendar computes solar terms for 1900..2100.
LUNAR_CALENDAR_YEARS = range(1900, 2100)
SOLAR_TERM_YEARS = range(1900, 2101)

NEW_YEARS_DAY = "元旦"
SPRING_FESTIVAL = "春节"
LABOUR_DAY = "劳动节"
DRAGON_BOAT_FESTIVAL = "端午"
MID_AUTUMN_FESTIVAL = "中秋"
NATIONAL_DAY = "国庆"

# --- month arithmetic (the segments, complaints and follow-up rules all count in months) ------


def is_leap_year(year: int) -> bool:
    """Whether ``year`` has a 29 February (Gregorian rules)."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    """The number of days of ``month`` (1 to 12) in ``year``."""
    if month == 12:
        return 31
    return (date(year, month + 1, 1) - ONE_DAY).day


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months (negative moves back).

    The day of month is kept and clamped to the last day of the target month:
    ``add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)``,
    ``add_months(date(2023, 3, 31), -1) == date(2023, 2, 28)``.
    Raises ``ValueError`` when the result would fall outside years 1..9999.
    """
    month_index = day.year * 12 + (day.month - 1) + months
    year, zero_based_month = divmod(month_index, 12)
    month = zero_based_month + 1
    if not 1 <= year <= 9999:
        raise ValueError(f"{day.isoformat()} + {months} months is out of the supported date range")
    return date(year, month, min(day.day, days_in_month(year, month)))


# --- lunar calendar and holidays --------------------------------------------------------------


def lunar_to_solar(year: int, lunar_month: int, lunar_day: int) -> date:
    """The Gregorian date of day ``lunar_day`` of the ordinary (non-leap) month ``lunar_month`` of
    lunar year ``year`` (the lunar year that begins in Gregorian ``year``).

    Raises ``ValueError`` for a year outside 1900..2099 or a day the month does not have (a small
    month has 29 days, so lunar 12/30 does not exist in every year).
    """
    return LunarDate(year, lunar_month, lunar_day, False).to_solar_date()


@lru_cache(maxsize=256)
def _statutory_holiday_names(year: int) -> Mapping[date, str]:
    names_by_day: dict[date, str] = {}

    def add(first_day: date, day_count: int, name: str) -> None:
        for offset in range(day_count):
            names_by_day.setdefault(first_day + offset * ONE_DAY, name)

    add(date(year, 1, 1), 1, NEW_YEARS_DAY)
    if year in LUNAR_CALENDAR_YEARS:
        add(lunar_to_solar(year, 1, 1), 1, SPRING_FESTIVAL)
    add(date(year, 5, 1), 1, LABOUR_DAY)
    if year in LUNAR_CALENDAR_YEARS:
        add(lunar_to_solar(year, 5, 5), 1, DRAGON_BOAT_FESTIVAL)
        add(lunar_to_solar(year, 8, 15), 1, MID_AUTUMN_FESTIVAL)
    add(date(year, 10, 1), 3, NATIONAL_DAY)
    return MappingProxyType(dict(sorted(names_by_day.items())))


def statutory_holidays(year: int) -> dict[date, str]:
    """The computed public holidays of ``year`` (date → Chinese name), the fallback for years the
    official calendar does not cover.

    Exactly the list of docs/followups.md ("The working-day calendar"), which acceptance checks rely on:

    - 元旦: 1 January;
    - 春节: lunar 1/1;
    - 劳动节 (五一): 1 May;
    - 端午: lunar 5/5;
    - 中秋: lunar 8/15;
    - 国庆: 1, 2 and 3 October.

    The law gives more days (除夕, 初二, 初三, 清明, 2 May); those and the weekend swaps come with
    the State Council notice, which a manager enters as the official calendar of the year.

    Not computed: days given in lieu when a holiday falls on a weekend and the weekend days swapped
    to make long breaks (调休) — a manager enters the State Council notice for those. When two
    holidays fall on one date (中秋 on 1 to 3 October, as in 2028) the date keeps the name listed first
    above. Outside 1900..2099 the lunar holidays (春节, 端午, 中秋) are left out, .

    Returns a new dict, ordered by date.
    """
    return dict(_statutory_holiday_names(year))


# --- working days -----------------------------------------------------------------------------


def _days_from(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += ONE_DAY


def _require_plain_date(value: object) -> date:
    # A datetime is a date subclass but never equals (or hashes like) the date of its day, so an
    # override would silently be missed; and which day an aware datetime belongs to depends on the
    # time zone, which only the caller knows (Asia/Shanghai).
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"expected a datetime.date, got {type(value).__name__}: {value!r}")
    return value


class WorkingCalendar:
    """Working days of the Chinese calendar, with a manager's overrides taking precedence.

    ``overrides`` maps a date to ``True`` (a working day) or ``False`` (a day off); it is copied
    at construction. Without an override a day follows ``chinese_calendar`` for the years it ships
    (``OFFICIAL_CALENDAR_YEARS``, adjusted working days included) and otherwise the fallback:
    Saturdays, Sundays and ``statutory_holidays`` off, every other day on.

    Results are cached per instance, so build one calendar per job (or request) rather than per
    day. All methods take ``datetime.date`` values and raise ``TypeError`` for a ``datetime``.
    """

    def __init__(self, overrides: Mapping[date, bool] | None = None) -> None:
        self._overrides: dict[date, bool] = {
            _require_plain_date(day): bool(is_working) for day, is_working in (overrides or {}).items()
        }
        self._working_day_cache: dict[date, bool] = {}

    @property
    def overrides(self) -> Mapping[date, bool]:
        """The manager's overrides this calendar was built with (read-only)."""
        return MappingProxyType(self._overrides)

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day (override, else official calendar, else fallback)."""
        is_working = self._working_day_cache.get(day)
        if is_working is None:
            is_working = self._compute_is_working_day(_require_plain_date(day))
            self._working_day_cache[day] = is_working
        return is_working

    def _compute_is_working_day(self, day: date) -> bool:
        override = self._overrides.get(day)
        if override is not None:
            return override
        if day.year in OFFICIAL_CALENDAR_YEARS:
            return chinese_calendar.is_workday(day)
        if day.weekday() >= 5:
            return False
        return day not in _statutory_holiday_names(day.year)

    def next_working_day(self, day: date) -> date:
        """``day`` itself when it is a working day, else the first working day after it."""
        while not self.is_working_day(day):
            day += ONE_DAY
        return day

    def working_days_between(self, start: date, end: date) -> list[date]:
        """The working days in ``[start, end]`` (both included), ascending; empty when start > end."""
        return [day for day in _days_from(start, end) if self.is_working_day(day)]

    def working_day_table(self, start: date, end: date) -> list[tuple[date, date]]:
        """``(day, next working day from day)`` for every calendar day in ``[start, end]``, ascending.

        A working day maps to itself; the next working day may lie after ``end`` when ``end`` is not
        a working day. Empty when start > end. Meant to be loaded into SQL as a VALUES list.
        """
        if start > end:
            return []
        table: list[tuple[date, date]] = []
        next_working = self.next_working_day(end)
        for day in reversed(list(_days_from(start, end))):
            if self.is_working_day(day):
                next_working = day
            table.append((day, next_working))
        table.reverse()
        return table


def local_midnight(day: date) -> datetime:
    """The start of ``day`` in the dealership's time zone (settings.TIME_ZONE): with the next day's,
    the bounds of an indexable range on a timestamp column (``at >= … AND at < …``), where
    ``(at AT TIME ZONE …)::date`` could use no index."""
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))
