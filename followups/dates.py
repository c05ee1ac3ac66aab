"""Dates of the follow-up rules (docs/followups.md): birthdays, the holiday greetings' holidays, the
months a rule counts back, and the queue date Q of a rule date R by channel.

The core's ``crm.calendar`` knows working days and days off only; what a rule makes of them lives
here. Pure functions; nothing here touches the database.
"""

from collections.abc import Mapping
from datetime import date, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

from lunardate import LunarDate

from crm.calendar import ONE_DAY, WorkingCalendar, add_months, days_in_month, is_leap_year, lunar_to_solar
from followups.choices import Channel

#: Codes of the ``holiday_greeting`` rule's holidays → the Chinese name used in the rules table.
GREETING_HOLIDAY_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "labour_day": "五一",
        "dragon_boat": "端午",
        "mid_autumn": "中秋",
        "national_day": "国庆",
        "spring_festival": "春节",
    }
)


# --- birthdays and months counted back --------------------------------------------------------


def birthday_in_year(birthday: date, year: int) -> date:
    """The anniversary of ``birthday`` in ``year``; a 29 February birthday is 28 February in a
    non-leap year."""
    if birthday.month == 2 and birthday.day == 29 and not is_leap_year(year):
        return date(year, 2, 28)
    return date(year, birthday.month, birthday.day)


def next_birthday(birthday: date, on_or_after: date) -> date:
    """The first anniversary of ``birthday`` on or after ``on_or_after`` (``on_or_after`` itself
    when it is the birthday).

    Only month and day of ``birthday`` count: the birth year is not compared with
    ``on_or_after``. A 29 February birthday falls on 28 February in non-leap years.
    """
    anniversary = birthday_in_year(birthday, on_or_after.year)
    if anniversary < on_or_after:
        anniversary = birthday_in_year(birthday, on_or_after.year + 1)
    return anniversary


def inverse_add_months(day: date, months: int) -> list[date]:
    """Every date X with ``add_months(X, months) == day`` (several when ``day`` is a month's last
    day: 28 Feb 2027 is 10 months after 28, 29, 30 and 30 April… of the year before)."""
    first = add_months(day, -months)
    found = [first]
    if day.day == days_in_month(day.year, day.month):
        candidate = first + timedelta(days=1)
        while candidate.month == first.month:
            found.append(candidate)
            candidate += timedelta(days=1)
    return [candidate for candidate in found if add_months(candidate, months) == day]


# --- the holiday greetings' holidays ----------------------------------------------------------


class GreetingHoliday(NamedTuple):
    """A holiday of the ``holiday_greeting`` rule: ``(code, day)``; ``name`` is its Chinese name."""

    code: str
    day: date

    @property
    def name(self) -> str:
        return GREETING_HOLIDAY_NAMES[self.code]


@lru_cache(maxsize=256)
def _greeting_holiday_items(year: int) -> tuple[GreetingHoliday, ...]:
    holidays = [
        GreetingHoliday("labour_day", date(year, 5, 1)),
        GreetingHoliday("dragon_boat", lunar_to_solar(year, 5, 5)),
        GreetingHoliday("mid_autumn", lunar_to_solar(year, 8, 15)),
        GreetingHoliday("national_day", date(year, 10, 1)),
        GreetingHoliday("spring_festival", lunar_to_solar(year, 1, 1)),
    ]
    return tuple(sorted(holidays, key=lambda holiday: holiday.day))


def greeting_holidays(year: int) -> list[GreetingHoliday]:
    """The five greeting days of the ``holiday_greeting`` rule in Gregorian ``year``, ordered by
    date: 春节 (lunar 1/1, ``spring_festival``), 五一 (1 May, ``labour_day``), 端午 (lunar 5/5,
    ``dragon_boat``), 中秋 (lunar 8/15, ``mid_autumn``), 国庆 (1 October, ``national_day``).

    Each item is a ``(code, day)`` tuple with a ``name`` property. Raises ``ValueError`` for a
    year outside 1900..2099 (no lunar data).
    """
    return list(_greeting_holiday_items(year))


# --- queue dates: when a task of rule date R is worked ----------------------------------------


def phone_queue_date(calendar: WorkingCalendar, rule_date: date) -> date:
    """The queue date Q of a phone task with rule date R: R when R is a working day, else the
    next working day."""
    return calendar.next_working_day(rule_date)


def queue_date(calendar: WorkingCalendar, rule_date: date, channel: str) -> date:
    """The queue date Q of a task: R for ``"sms"``, ``phone_queue_date(R)`` for ``"phone"``.

    Raises ``ValueError`` for any other channel.
    """
    if channel == Channel.SMS:
        return rule_date
    if channel == Channel.PHONE:
        return phone_queue_date(calendar, rule_date)
    raise ValueError(f"unknown channel {channel!r}; expected {Channel.PHONE.value!r} or {Channel.SMS.value!r}")


def rule_dates_queued_on(calendar: WorkingCalendar, queue_day: date) -> list[date]:
    """All rule dates R whose phone queue date is ``queue_day``, ascending.

    That is the run of non-working days immediately before ``queue_day`` followed by
    ``queue_day`` itself (a Monday after an ordinary weekend gives [Saturday, Sunday, Monday]);
    empty when ``queue_day`` is not a working day, since no phone task is queued on a day off.
    """
    if not calendar.is_working_day(queue_day):
        return []
    first_rule_date = queue_day
    while not calendar.is_working_day(first_rule_date - ONE_DAY):
        first_rule_date -= ONE_DAY
    return [first_rule_date + offset * ONE_DAY for offset in range((queue_day - first_rule_date).days + 1)]


def rule_dates_queued_between(calendar: WorkingCalendar, start: date, end: date) -> list[tuple[date, date]]:
    """``(rule date R, phone queue date Q)`` for every R whose Q lies in ``[start, end]``,
    ascending by R — what a backfill of the queue days ``start..end`` has to generate.

    The first R may precede ``start`` (the non-working days right before it); non-working
    days at the end of the range are left out, as their Q is after ``end``.
    """
    if start > end:
        return []
    first_rule_date = start
    while not calendar.is_working_day(first_rule_date - ONE_DAY):
        first_rule_date -= ONE_DAY
    return [
        (rule_date, queue_date)
        for rule_date, queue_date in calendar.working_day_table(first_rule_date, end)
        if queue_date <= end
    ]


def lunar_birthday_keys(anniversary: date) -> list[tuple[int, int]]:
    """The lunar birthdays (month, day) greeted as falling on ``anniversary`` (docs/followups.md,
    "Lunar birthdays"): the lunar date of that day, and day 30 of its month as well when that month
    has only 29 days that year (a day 30 is then kept on day 29). A day of a leap month is nobody's
    lunar birthday: leap months are ignored, the regular month's date is used. Empty outside the
    years the lunar calendar knows (1900–2099)."""
    try:
        lunar = LunarDate.from_solar_date(anniversary.year, anniversary.month, anniversary.day)
    except ValueError:
        return []
    if lunar.is_leap_month:
        return []
    keys = [(lunar.month, lunar.day)]
    if lunar.day == 29:
        try:
            LunarDate(lunar.year, lunar.month, 30, False).to_solar_date()
        except ValueError:  # a small month: its day 30 is greeted on day 29
            keys.append((lunar.month, 30))
    return keys
