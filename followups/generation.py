"""Set-based SQL of the follow-up rules (docs/followups.md).

For a generation date D and a rule, the rule dates R whose queue date is D are known in Python
(``followups.dates.rule_dates_queued_on(calendar, D)`` for phone rules, ``[D]`` for SMS rules). Each rule turns
them into the *base dates* its data must have (a delivery date, a settle date, a birthday…) and runs
one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` over the whole store: the number of queries never
depends on the number of customers. The same SELECT, counted instead of inserted, is the managers'
preview of a day's queue: run once over every store whose rule has the same settings (a builder's
SELECT keeps to a set of stores and says each row's store) and grouped by store.

Which code builds a rule's SELECT is the registry of rule builders (``customers.rule_builders``, with
the ``Candidates`` a builder returns): follow-ups registers the builders of the rules it owns
(``register_followups_rule_builders``), another app those of its own rules (the club ``event_notice``).
"""

from datetime import date, timedelta
from functools import partial

from crm.calendar import WorkingCalendar, add_months, is_leap_year
from crm.selectors import staff_of_record_sql, working_calendar
from customers.choices import RepairType, SatisfactionVerdict, VehicleStatus
from customers.membership import points_on_sql
from customers.models import Appointment
from customers.rule_builders import Candidates, RuleSettings, rule_builder_for, rule_builder_register
from customers.satisfaction import DISSATISFIED_CUSTOMERS_SQL, SATISFACTION_TABLE
from customers.selectors import (
    CUSTOMER_TABLE,
    REPAIR_ORDER_TABLE,
    VEHICLE_TABLE,
    customer_has_active_vehicle_or_none_sql,
    customer_last_visit_sql,
    customer_sms_allowed_sql,
    vehicle_is_active_sql,
)
from customers.selectors.appointments import appointment_is_open_sql, appointment_not_kept_sql
from followups.choices import VEHICLE_RULES, Channel, RuleCode, WorkedBy, rule_consent_purpose
from followups.dates import greeting_holidays, inverse_add_months, lunar_birthday_keys, rule_dates_queued_on

MOBILE_PATTERN = r"^1[3-9][0-9]{9}$"
LANDLINE_PATTERN = r"^0[1-9][0-9]{1,2}-?[1-9][0-9]{6,7}$"
LOST_CUSTOMER_MONTHS = (1, 3, 5, 7, 9, 11)
LOST_WINDOW_MONTHS = (12, 6)  # R − 12 months ≤ L ≤ R − 6 months
DEFAULT_WARRANTY_MONTHS = 24
TIME_ZONE = "Asia/Shanghai"
_ACTIVE_VEHICLE = vehicle_is_active_sql(alias="v")  # the candidate vehicle ``v`` is active
APPOINTMENT_TABLE = Appointment._meta.db_table
# What an appointment's task keeps: the booking, and its slot for the {time} of the texts.
_APPOINTMENT_DETAIL = "jsonb_build_object('appointment_id', a.id, 'time', to_char(a.slot, 'HH24:MI'))"


def rule_dates_for(*, channel: str, day: date, calendar: WorkingCalendar) -> list[date]:
    """The rule dates R whose queue date Q is ``day``."""
    if channel == Channel.SMS:
        return [day]
    return rule_dates_queued_on(calendar, day)


def _vehicle_date_rule(column: str, rule, rule_dates: list[date]) -> Candidates:
    bases = [rule_date - timedelta(days=rule.offset_days) for rule_date in rule_dates]
    return Candidates(
        f"""
        SELECT v.store_id, v.customer_id, v.id AS vehicle_id, v.id AS unit_id,
               v.{column} + %(offset)s AS rule_date, v.{column} AS subject_date, '{{}}'::jsonb AS detail
        FROM {VEHICLE_TABLE} v
        WHERE v.store_id = ANY(%(store_ids)s) AND {_ACTIVE_VEHICLE} AND v.{column} = ANY(%(bases)s::date[])
        """,
        {"offset": rule.offset_days, "bases": bases},
    )


def _post_repair(rule, rule_dates: list[date]) -> Candidates:
    bases = [rule_date - timedelta(days=rule.offset_days) for rule_date in rule_dates]
    # One task per vehicle per R, however many orders the vehicle settled that day (at the store).
    return Candidates(
        f"""
        SELECT DISTINCT ON (ro.store_id, v.id, ro.settle_date)
               ro.store_id, v.customer_id, v.id AS vehicle_id, v.id AS unit_id,
               ro.settle_date + %(offset)s AS rule_date, ro.settle_date AS subject_date,
               jsonb_build_object('ro_no', ro.ro_no) AS detail
        FROM {REPAIR_ORDER_TABLE} ro
        JOIN {VEHICLE_TABLE} v ON v.id = ro.vehicle_id
        WHERE ro.store_id = ANY(%(store_ids)s) AND ro.settle_date = ANY(%(bases)s::date[]) AND {_ACTIVE_VEHICLE}
        ORDER BY ro.store_id, v.id, ro.settle_date, ro.ro_no
        """,
        {"offset": rule.offset_days, "bases": bases},
    )


def _warranty(rule, rule_dates: list[date]) -> Candidates:
    ends = [rule_date - timedelta(days=rule.offset_days) for rule_date in rule_dates]
    deliveries = sorted({day for end in ends for day in inverse_add_months(end, DEFAULT_WARRANTY_MONTHS)})
    return Candidates(
        f"""
        SELECT store_id, customer_id, vehicle_id, unit_id, warranty_end + %(offset)s AS rule_date,
               warranty_end AS subject_date, '{{}}'::jsonb AS detail
        FROM (
            SELECT v.store_id, v.customer_id, v.id AS vehicle_id, v.id AS unit_id,
                   COALESCE(v.warranty_end,
                            (v.delivery_date + make_interval(months => %(months)s))::date) AS warranty_end
            FROM {VEHICLE_TABLE} v
            WHERE v.store_id = ANY(%(store_ids)s) AND {_ACTIVE_VEHICLE}
              AND (v.warranty_end = ANY(%(ends)s::date[])
                   OR (v.warranty_end IS NULL AND v.delivery_date = ANY(%(deliveries)s::date[])))
        ) w
        WHERE warranty_end = ANY(%(ends)s::date[])
        """,
        {"offset": rule.offset_days, "ends": ends, "deliveries": deliveries, "months": DEFAULT_WARRANTY_MONTHS},
    )


def _maintenance(rule, rule_dates: list[date]) -> Candidates:
    dues = [rule_date - timedelta(days=rule.offset_days) for rule_date in rule_dates]
    # The store that did the latest maintenance reminds the owner (a vehicle is reminded by one store):
    # each store's latest maintenance of the vehicle, kept when no maintenance anywhere came after it.
    # next_due = M + k with 1 ≤ k ≤ interval, so the latest maintenance M lies in this window.
    return Candidates(
        f"""
        WITH latest AS (
            SELECT DISTINCT ON (ro.store_id, ro.vehicle_id)
                   ro.store_id, ro.vehicle_id, ro.settle_date AS serviced, ro.mileage
            FROM {REPAIR_ORDER_TABLE} ro
            WHERE ro.store_id = ANY(%(store_ids)s) AND ro.repair_type = ANY(%(types)s)
              AND ro.settle_date BETWEEN %(window_start)s AND %(window_end)s
            ORDER BY ro.store_id, ro.vehicle_id, ro.settle_date DESC, ro.mileage DESC NULLS LAST
        ), timed AS MATERIALIZED (
            -- A correlated look-up keeps the planner from scanning every vehicle for a few thousand.
            SELECT latest.*, (SELECT dv.delivery_date FROM {VEHICLE_TABLE} dv WHERE dv.id = latest.vehicle_id)
                   AS delivered
            FROM latest
        ), due AS (
            SELECT store_id, vehicle_id, serviced,
                   serviced + CASE
                       WHEN delivered IS NOT NULL AND serviced - delivered >= 30 AND mileage > 0
                       THEN LEAST(%(interval)s, CEIL(%(distance)s::numeric * (serviced - delivered) / mileage)::int)
                       ELSE %(interval)s END AS next_due
            FROM timed
        )
        SELECT due.store_id, v.customer_id, v.id AS vehicle_id, v.id AS unit_id,
               due.next_due + %(offset)s AS rule_date, due.next_due AS subject_date,
               jsonb_build_object('serviced', due.serviced) AS detail
        FROM due
        JOIN {VEHICLE_TABLE} v ON v.id = due.vehicle_id
        WHERE due.next_due = ANY(%(dues)s::date[]) AND {_ACTIVE_VEHICLE}
          AND NOT EXISTS (
              SELECT 1 FROM {REPAIR_ORDER_TABLE} later
              WHERE later.vehicle_id = due.vehicle_id AND later.repair_type = ANY(%(types)s)
                AND later.settle_date > due.serviced)
        """,
        {
            "types": RepairType.maintenance_types(),
            "window_start": min(dues) - timedelta(days=rule.interval_days),
            "window_end": max(dues) - timedelta(days=1),
            "interval": rule.interval_days,
            "distance": rule.distance_km,
            "offset": rule.offset_days,
            "dues": dues,
        },
    )


def _birthday(rule, rule_dates: list[date]) -> Candidates:
    """Solar birthdays on their anniversary (29 February on 28 February in a common year), and
    lunar birthdays (a card with a lunar month and day) on the solar date of that lunar day instead
    (followups.dates.lunar_birthday_keys): both ``-offset_days`` days before R."""
    month_days, targets, birthdays = [], [], []
    lunar_keys, lunar_targets, lunar_birthdays = [], [], []
    for rule_date in rule_dates:
        anniversary = rule_date - timedelta(days=rule.offset_days)
        keys = [anniversary.month * 100 + anniversary.day]
        # A 29 February birthday is celebrated on 28 February in a non-leap year.
        if (anniversary.month, anniversary.day) == (2, 28) and not is_leap_year(anniversary.year):
            keys.append(229)
        for key in keys:
            month_days.append(key)
            targets.append(rule_date)
            birthdays.append(anniversary)
        for month, day in lunar_birthday_keys(anniversary):
            lunar_keys.append(month * 100 + day)
            lunar_targets.append(rule_date)
            lunar_birthdays.append(anniversary)
    return Candidates(
        f"""
        SELECT cu.store_id, cu.id AS customer_id, NULL::bigint AS vehicle_id, cu.id AS unit_id, wanted.rule_date,
               wanted.anniversary AS subject_date, '{{}}'::jsonb AS detail
        FROM {CUSTOMER_TABLE} cu
        JOIN unnest(%(month_days)s::int[], %(targets)s::date[], %(birthdays)s::date[])
             AS wanted(month_day, rule_date, anniversary)
          ON wanted.month_day = (EXTRACT(MONTH FROM cu.birthday) * 100 + EXTRACT(DAY FROM cu.birthday))::int
        WHERE cu.store_id = ANY(%(store_ids)s) AND cu.birthday IS NOT NULL AND cu.lunar_birthday_month IS NULL
        UNION ALL
        SELECT cu.store_id, cu.id, NULL::bigint, cu.id, wanted.rule_date, wanted.anniversary, '{{"lunar": true}}'::jsonb
        FROM {CUSTOMER_TABLE} cu
        JOIN unnest(%(lunar_keys)s::int[], %(lunar_targets)s::date[], %(lunar_birthdays)s::date[])
             AS wanted(month_day, rule_date, anniversary)
          ON wanted.month_day = cu.lunar_birthday_month * 100 + cu.lunar_birthday_day
        WHERE cu.store_id = ANY(%(store_ids)s) AND cu.lunar_birthday_month IS NOT NULL
        """,
        {
            "month_days": month_days, "targets": targets, "birthdays": birthdays, "lunar_keys": lunar_keys,
            "lunar_targets": lunar_targets, "lunar_birthdays": lunar_birthdays,
        },
    )  # fmt: skip


def _holiday(rule, rule_dates: list[date]) -> Candidates | None:
    targets, holidays, names = [], [], []
    for rule_date in rule_dates:
        holiday_day = rule_date - timedelta(days=rule.offset_days)
        try:
            found = [holiday for holiday in greeting_holidays(holiday_day.year) if holiday.day == holiday_day]
        except ValueError:  # no lunar data for the year
            found = []
        if found:
            targets.append(rule_date)
            holidays.append(holiday_day)
            names.append("、".join(holiday.name for holiday in found))
    if not targets:
        return None
    return Candidates(
        f"""
        SELECT cu.store_id, cu.id AS customer_id, NULL::bigint AS vehicle_id, cu.id AS unit_id, wanted.rule_date,
               wanted.holiday AS subject_date, jsonb_build_object('holiday', wanted.name) AS detail
        FROM {CUSTOMER_TABLE} cu
        CROSS JOIN unnest(%(targets)s::date[], %(holidays)s::date[], %(names)s::text[])
                   AS wanted(rule_date, holiday, name)
        WHERE cu.store_id = ANY(%(store_ids)s) AND {{eligibility}}
        """,
        {"targets": targets, "holidays": holidays, "names": names},
        inline_eligibility=True,
    )


def _lost_customer(rule, rule_dates: list[date]) -> Candidates | None:
    targets, lows, highs = [], [], []
    for rule_date in rule_dates:
        base = rule_date - timedelta(days=rule.offset_days)
        if base.day == 1 and base.month in LOST_CUSTOMER_MONTHS:
            targets.append(rule_date)
            lows.append(add_months(base, -LOST_WINDOW_MONTHS[0]))
            highs.append(add_months(base, -LOST_WINDOW_MONTHS[1]))
    if not targets:
        return None
    # The store's customers with their last visit (customers' one definition of it).
    return Candidates(
        f"""
        WITH last_visit AS (
            SELECT c.store_id, c.id AS customer_id, {customer_last_visit_sql(alias="c")} AS visited
            FROM {CUSTOMER_TABLE} c
            WHERE c.store_id = ANY(%(store_ids)s)
        )
        SELECT last_visit.store_id, last_visit.customer_id, NULL::bigint AS vehicle_id,
               last_visit.customer_id AS unit_id, wanted.rule_date, last_visit.visited AS subject_date,
               '{{}}'::jsonb AS detail
        FROM last_visit
        JOIN unnest(%(targets)s::date[], %(lows)s::date[], %(highs)s::date[]) AS wanted(rule_date, low, high)
          ON last_visit.visited BETWEEN wanted.low AND wanted.high
        """,
        {"targets": targets, "lows": lows, "highs": highs},
    )


def _points_expiry(rule, rule_dates: list[date]) -> Candidates | None:
    visits, targets = [], []
    for rule_date in rule_dates:
        base = rule_date - timedelta(days=rule.offset_days)
        for visited in inverse_add_months(base, rule.offset_months):
            visits.append(visited)
            targets.append(rule_date)
    # Customers with a visit on a wanted day (index look-ups), then keep those whose last visit it is
    # and who hold points on the rule date: the club's ledger where the store's club had started by
    # then (customers.membership), the DMS's balance on a member's card elsewhere.
    ledger_points = points_on_sql(customer="visits", day="wanted.rule_date")
    return Candidates(
        f"""
        WITH hits AS (
            SELECT v.customer_id FROM {VEHICLE_TABLE} v WHERE v.delivery_date = ANY(%(visits)s::date[])
            UNION
            SELECT v.customer_id FROM {REPAIR_ORDER_TABLE} ro JOIN {VEHICLE_TABLE} v ON v.id = ro.vehicle_id
            WHERE ro.settle_date = ANY(%(visits)s::date[])
        ), visits AS (
            SELECT cu.id, cu.store_id, cu.member_card_no, cu.points_balance,
                   {customer_last_visit_sql(alias="cu")} AS visited
            FROM hits JOIN {CUSTOMER_TABLE} cu ON cu.id = hits.customer_id
            WHERE cu.store_id = ANY(%(store_ids)s)
        ), members AS (
            SELECT visits.store_id, visits.id, visits.visited, wanted.rule_date,
                   coalesce({ledger_points},
                            CASE WHEN visits.member_card_no <> '' THEN visits.points_balance END) AS points
            FROM visits
            JOIN unnest(%(visits)s::date[], %(targets)s::date[]) AS wanted(visited, rule_date)
              ON wanted.visited = visits.visited
        )
        SELECT members.store_id, members.id AS customer_id, NULL::bigint AS vehicle_id, members.id AS unit_id,
               members.rule_date, members.visited AS subject_date,
               jsonb_build_object('points', members.points) AS detail
        FROM members
        WHERE members.points > 0
        """,
        {"visits": visits, "targets": targets},
    )


def _dissatisfied(rule, rule_dates: list[date]) -> Candidates | None:
    """The 1st of each month (R): every customer with a dissatisfied result in the calendar month
    before R, and every customer still dissatisfied at the start of R (the latest decisive result
    before then is dissatisfied: ``DISSATISFIED_CUSTOMERS_SQL``, one definition for every reader).
    Results are read from ``SatisfactionResult`` only: calls, SMS replies, delivery interviews and
    complaint closes all record there (the calls and replies of before were backfilled)."""
    targets, lows, highs = [], [], []
    for rule_date in rule_dates:
        base = rule_date - timedelta(days=rule.offset_days)
        if base.day == 1:
            targets.append(rule_date)
            lows.append(add_months(base, -1))
            highs.append(base)
    if not targets:
        return None
    # Still dissatisfied as of the start of the month R belongs to (local midnight of its 1st).
    still_dissatisfied = DISSATISFIED_CUSTOMERS_SQL.replace("%(as_of)s", "wanted.starts")
    return Candidates(
        f"""
        WITH wanted AS (
            SELECT rule_date, low, high, (high::timestamp AT TIME ZONE '{TIME_ZONE}') AS starts
            FROM unnest(%(targets)s::date[], %(lows)s::date[], %(highs)s::date[]) AS w(rule_date, low, high)
        ), results AS (
            SELECT sr.customer_id, wanted.rule_date, (sr.at AT TIME ZONE '{TIME_ZONE}')::date AS day
            FROM {SATISFACTION_TABLE} sr
            JOIN wanted ON (sr.at AT TIME ZONE '{TIME_ZONE}')::date >= wanted.low
                       AND (sr.at AT TIME ZONE '{TIME_ZONE}')::date < wanted.high
            WHERE sr.verdict = '{SatisfactionVerdict.DISSATISFIED}'
            UNION ALL
            SELECT still.customer_id, wanted.rule_date, (still.since AT TIME ZONE '{TIME_ZONE}')::date
            FROM wanted CROSS JOIN LATERAL ({still_dissatisfied}) still
        )
        SELECT DISTINCT ON (results.customer_id, results.rule_date)
               cu.store_id, results.customer_id, NULL::bigint AS vehicle_id, results.customer_id AS unit_id,
               results.rule_date, results.day AS subject_date, '{{}}'::jsonb AS detail
        FROM results
        JOIN {CUSTOMER_TABLE} cu ON cu.id = results.customer_id AND cu.store_id = ANY(%(store_ids)s)
        ORDER BY results.customer_id, results.rule_date, results.day DESC
        """,
        {"targets": targets, "lows": lows, "highs": highs},
    )


def _appointment_reminder(rule, rule_dates: list[date]) -> Candidates | None:
    """An SMS the working day before each booking still booked or confirmed (R = that working day,
    whatever the rule's offset): R = Friday reminds the bookings of Saturday to Monday, and the day
    before a holiday those of the whole holiday and the first working day after it."""
    days, targets = [], []
    calendar = working_calendar(first_day=min(rule_dates), last_day=max(rule_dates) + timedelta(days=40))
    for rule_date in rule_dates:
        if not calendar.is_working_day(rule_date):
            continue
        next_working = calendar.next_working_day(rule_date + timedelta(days=1))
        day = rule_date + timedelta(days=1)
        while day <= next_working:
            days.append(day)
            targets.append(rule_date)
            day += timedelta(days=1)
    if not days:
        return None
    return Candidates(
        f"""
        SELECT a.store_id, a.customer_id, a.vehicle_id, a.id AS unit_id, wanted.rule_date, a.date AS subject_date,
               {_APPOINTMENT_DETAIL} AS detail
        FROM {APPOINTMENT_TABLE} a
        JOIN unnest(%(days)s::date[], %(targets)s::date[]) AS wanted(day, rule_date) ON wanted.day = a.date
        WHERE a.store_id = ANY(%(store_ids)s) AND {appointment_is_open_sql(alias="a")} AND a.source <> 'walk_in'
        """,
        {"days": days, "targets": targets},
    )


def _no_show(rule, rule_dates: list[date]) -> Candidates:
    """A call the day after (``offset_days``) a booking marked no-show and not kept since (checked
    in, or a repair order of its vehicle opened within a day of it)."""
    bases = [rule_date - timedelta(days=rule.offset_days) for rule_date in rule_dates]
    return Candidates(
        f"""
        SELECT a.store_id, a.customer_id, a.vehicle_id, a.id AS unit_id, a.date + %(offset)s AS rule_date,
               a.date AS subject_date, {_APPOINTMENT_DETAIL} AS detail
        FROM {APPOINTMENT_TABLE} a
        WHERE a.store_id = ANY(%(store_ids)s) AND a.date = ANY(%(bases)s::date[]) AND a.status = 'no_show'
          AND {appointment_not_kept_sql(alias="a")}
        """,
        {"offset": rule.offset_days, "bases": bases},
    )


def candidates_for(rule: RuleSettings, rule_dates: list[date]) -> Candidates | None:
    """The candidate SELECT of ``rule`` (its stores') for ``rule_dates`` from the builder registered
    for its code (``customers.rule_builders``), or None when the rule has nothing to do or no builder."""
    if not rule_dates:
        return None
    builder = rule_builder_for(rule.code)
    return builder(rule, rule_dates) if builder else None


def register_followups_rule_builders() -> None:
    """The builders of the rules follow-ups owns (called from ``FollowupsConfig.ready``), each with
    the rule parameters it reads (the offset in days unless named). ``event_notice`` is left to the
    owners' club, which has the events."""
    rule_builder_register(RuleCode.DELIVERY_THANKS, partial(_vehicle_date_rule, "delivery_date"))
    rule_builder_register(RuleCode.FIRST_SERVICE_INVITE, partial(_vehicle_date_rule, "delivery_date"))
    rule_builder_register(RuleCode.INSURANCE_RENEWAL, partial(_vehicle_date_rule, "insurance_expiry"))
    rule_builder_register(RuleCode.POST_REPAIR_CALLBACK, _post_repair)
    rule_builder_register(RuleCode.WARRANTY_EXPIRY, _warranty)
    rule_builder_register(
        RuleCode.MAINTENANCE_DUE, _maintenance, parameters=("offset_days", "interval_days", "distance_km")
    )
    rule_builder_register(RuleCode.BIRTHDAY, _birthday)
    rule_builder_register(RuleCode.HOLIDAY_GREETING, _holiday)
    rule_builder_register(RuleCode.LOST_CUSTOMER, _lost_customer)
    rule_builder_register(RuleCode.POINTS_EXPIRY, _points_expiry, parameters=("offset_days", "offset_months"))
    rule_builder_register(RuleCode.DISSATISFIED_FOLLOWUP, _dissatisfied)
    rule_builder_register(RuleCode.INSPECTION_DUE, partial(_vehicle_date_rule, "inspection_due"))
    rule_builder_register(RuleCode.DELIVERY_DAY1_CALL, partial(_vehicle_date_rule, "delivery_date"))
    # The appointments' rules: the unit is the booking (unit_id = the appointment's id).
    # The reminder goes the working day before the booking, whatever the offset: no parameter.
    rule_builder_register(RuleCode.APPOINTMENT_REMINDER, _appointment_reminder, parameters=())
    rule_builder_register(RuleCode.NO_SHOW_FOLLOWUP, _no_show)


def eligible_sql(rule: RuleSettings, candidates: Candidates) -> tuple[str, dict]:
    """``candidates`` without whoever gets nothing (docs/followups.md, "Who gets nothing")."""
    if rule.channel == Channel.SMS:
        # Not opted out of SMS, and the consent the rule's purpose needs (marketing or service).
        allowed = customer_sms_allowed_sql(purpose=rule_consent_purpose(rule.code), alias="cu")
        contact = f"{allowed} AND cu.mobile ~ %(mobile_pattern)s"
    else:
        contact = "cu.do_not_call = false AND (cu.mobile ~ %(mobile_pattern)s OR cu.landline ~ %(landline_pattern)s)"
    # The candidate SELECTs of the vehicle rules keep active vehicles only.
    vehicles = "TRUE" if rule.code in VEHICLE_RULES else customer_has_active_vehicle_or_none_sql(alias="cu")
    if candidates.inline_eligibility:
        sql = candidates.sql.replace("{eligibility}", f"{contact} AND {vehicles}")
    else:
        sql = f"""
            SELECT c.store_id, c.customer_id, c.vehicle_id, c.unit_id, c.rule_date, c.subject_date, c.detail
            FROM ({candidates.sql}) c
            JOIN {CUSTOMER_TABLE} cu ON cu.id = c.customer_id
            WHERE {contact} AND {vehicles}
        """
    params = {
        **candidates.params,
        "store_ids": list(rule.store_ids),
        "active": VehicleStatus.ACTIVE.value,
        "mobile_pattern": MOBILE_PATTERN,
        "landline_pattern": LANDLINE_PATTERN,
    }
    return sql, params


INSERT_SQL = """
    INSERT INTO followups_followuptask
        (rule_id, code, store_id, customer_id, vehicle_id, unit_id, rule_date, queue_date, work_date, subject_date,
         channel, priority, status, attempts, outcome, detail, created_at, assignee_id)
    SELECT %(rule_id)s, %(code)s, %(store_id)s, e.customer_id, e.vehicle_id, e.unit_id, e.rule_date,
           %(queue_date)s, %(queue_date)s, e.subject_date, %(channel)s, %(priority)s, 'open', 0, '', e.detail, now(),
           {assignee}
    FROM ({eligible}) e
    ON CONFLICT (rule_id, unit_id, rule_date) DO NOTHING
"""

# The name of record of a task's unit ``e``: for a vehicle, its own consultant or the advisor of its
# latest repair order; for a customer-level rule, those of the customer's newest active vehicle and of
# the customer's latest repair order.
_CONSULTANT_NAME_SQL = f"""CASE WHEN e.vehicle_id IS NOT NULL
    THEN (SELECT rv.sales_consultant FROM {VEHICLE_TABLE} rv WHERE rv.id = e.vehicle_id)
    ELSE (SELECT rv.sales_consultant FROM {VEHICLE_TABLE} rv
          WHERE rv.customer_id = e.customer_id AND {vehicle_is_active_sql(alias="rv")}
          ORDER BY rv.delivery_date DESC NULLS LAST, rv.id DESC LIMIT 1) END"""
_ADVISOR_NAME_SQL = f"""CASE WHEN e.vehicle_id IS NOT NULL
    THEN (SELECT ro.service_advisor FROM {REPAIR_ORDER_TABLE} ro WHERE ro.vehicle_id = e.vehicle_id
          ORDER BY COALESCE(ro.settle_date, ro.open_date) DESC NULLS LAST, ro.id DESC LIMIT 1)
    ELSE (SELECT ro.service_advisor FROM {REPAIR_ORDER_TABLE} ro JOIN {VEHICLE_TABLE} rv ON rv.id = ro.vehicle_id
          WHERE rv.customer_id = e.customer_id
          ORDER BY COALESCE(ro.settle_date, ro.open_date) DESC NULLS LAST, ro.id DESC LIMIT 1) END"""
ASSIGNEE_SQL = {
    WorkedBy.SALES_CONSULTANT: staff_of_record_sql(name=f"({_CONSULTANT_NAME_SQL})", store="%(store_id)s"),
    WorkedBy.SERVICE_ADVISOR: staff_of_record_sql(name=f"({_ADVISOR_NAME_SQL})", store="%(store_id)s"),
}


def assignee_sql(rule) -> str:
    """The SQL of the person who works a task of ``rule`` (``FollowupRule.worked_by``) from its
    eligible row ``e``, or NULL: the call centre's queue (every SMS rule, and a person not found)."""
    if rule.channel != Channel.PHONE:
        return "NULL::bigint"
    return ASSIGNEE_SQL.get(rule.worked_by, "NULL::bigint")


def _eligible_on(rule: RuleSettings, *, day: date, calendar: WorkingCalendar) -> tuple[str, dict] | None:
    candidates = candidates_for(rule, rule_dates_for(channel=rule.channel, day=day, calendar=calendar))
    if candidates is None:
        return None
    return eligible_sql(rule, candidates)


def insert_statement(rule, *, day: date, calendar: WorkingCalendar) -> tuple[str, dict] | None:
    """The INSERT that generates the tasks of ``rule`` (one store's ``FollowupRule``) queued on ``day``,
    or None when there are none."""
    (settings,) = RuleSettings.group([rule])
    statement = _eligible_on(settings, day=day, calendar=calendar)
    if statement is None:
        return None
    eligible, params = statement
    params.update(
        rule_id=rule.pk, code=rule.code, store_id=rule.store_id, queue_date=day, channel=rule.channel,
        priority=rule.priority,
    )  # fmt: skip
    return INSERT_SQL.format(eligible=eligible, assignee=assignee_sql(rule)), params


def preview_statements(rules, *, day: date, calendar: WorkingCalendar) -> list[tuple[str, str, dict]]:
    """The counts of the tasks ``rules`` (enabled ``FollowupRule``s of any stores) would queue on
    ``day`` with the data and settings as they are: ``(code, sql, params)``, an SQL whose rows are
    (store_id, count) for the stores with a count. One statement per code, channel and parameters
    (``RuleSettings.group``): the rules of every store with the same settings share it, and it is
    the SELECT that generation inserts, over those stores at once and grouped by store."""
    statements = []
    for settings in RuleSettings.group(rules):
        statement = _eligible_on(settings, day=day, calendar=calendar)
        if statement is not None:
            eligible, params = statement
            statements.append(
                (settings.code, f"SELECT e.store_id, count(*) FROM ({eligible}) e GROUP BY e.store_id", params)
            )
    return statements
