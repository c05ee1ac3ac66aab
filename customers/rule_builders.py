"""The registry of follow-up rule builders: which code turns a follow-up rule into its candidate SELECT.

It lives in customers, the layer every domain app stands on, so that an app that may not import
follow-ups (the owners' club registers ``event_notice``) registers its rules' builders importing
only from here. Follow-ups' generation (``followups.generation.candidates_for``) reads it.

A rule builder is ``builder(rule, rule_dates) -> Candidates | None``: for a follow-up rule's code and
settings as the rules of one or more stores share them (a ``RuleSettings``: ``rule.code``,
``rule.channel``, ``rule.offset_days``, ``rule.offset_months``, ``rule.interval_days``,
``rule.distance_km``, and ``rule.store_ids``, those stores) and the rule dates R whose queue date is
the day being generated (never empty), one set-based SELECT of (store_id, customer_id, vehicle_id,
unit_id, rule_date, subject_date, detail) over those stores, or None when the rule has nothing to do
on those dates. Generation wraps it in the eligibility filter (docs/followups.md, "Who gets nothing")
and one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` per store and rule (``store_ids`` is that one
store); the managers' preview counts the same SELECT once for every store whose rule has the same
settings, grouped by ``store_id``. A code with no builder generates nothing.

Each app registers the builders of the rules it owns in its ``AppConfig.ready()``: follow-ups its
own (``followups.generation.register_followups_rule_builders``); the owners' club ``event_notice``:

    from customers.rule_builders import rule_builder_register
    rule_builder_register("event_notice", event_invitations)

A builder declares the rule parameters it reads (``parameters``, of ``RULE_PARAMETERS``; the offset
in days unless it says otherwise): the rule page and the admin show and save only those, so a
manager never edits a number that changes nothing (``rule_parameters``).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any


@dataclass
class Candidates:
    """What a rule builder returns: a SELECT of (store_id, customer_id, vehicle_id, unit_id,
    rule_date, subject_date, detail) and its params.

    ``sql`` uses ``%(name)s`` placeholders; ``params`` gives them, and generation adds
    ``%(store_ids)s`` (the rule's stores, a bigint array: a SELECT keeps to them, ``x.store_id =
    ANY(%(store_ids)s)``) and ``%(active)s``. ``store_id`` is the store whose task a row is (the
    store of the row that matched: one task per store where a builder reads several stores' rows,
    as each store's own SELECT would make it); ``vehicle_id`` is NULL for a customer rule;
    ``unit_id`` is what a task is unique by (with the rule and R): the vehicle's id for a vehicle
    rule, else the customer's; ``detail`` a jsonb object the task keeps.
    """

    sql: str
    params: dict = field(default_factory=dict)
    # One row per owner (holiday greetings): the SELECT reads the customer table as ``cu`` and has an
    # ``{eligibility}`` slot, which saves re-joining every customer.
    inline_eligibility: bool = False


# The follow-up rule's fields a builder may read (FollowupRule's numeric settings).
RULE_PARAMETERS = ("offset_days", "offset_months", "interval_days", "distance_km")


@dataclass(frozen=True)
class RuleSettings:
    """What a builder is given: a rule's code, channel and numeric settings (``RULE_PARAMETERS``)
    and the stores whose rule of that code has exactly these (one store for generation, every such
    store of the user's for the preview)."""

    code: str
    channel: str
    offset_days: int
    offset_months: int
    interval_days: int
    distance_km: int
    store_ids: tuple[int, ...]

    @classmethod
    def group(cls, rules: Iterable[Any]) -> list["RuleSettings"]:
        """``rules`` (follow-up rules of any stores and codes) as few settings as they allow: one
        per code, channel and parameters, with the stores that share them, in order of first use."""
        stores: dict[tuple, list[int]] = {}
        for rule in rules:
            key = (rule.code, rule.channel, *(getattr(rule, name) for name in RULE_PARAMETERS))
            stores.setdefault(key, []).append(rule.store_id)
        return [cls(*key, store_ids=tuple(store_ids)) for key, store_ids in stores.items()]


RuleBuilder = Callable[[RuleSettings, list[date]], Candidates | None]

_builders: dict[str, RuleBuilder] = {}
_parameters: dict[str, tuple[str, ...]] = {}


def rule_builder_register(code: str, builder: RuleBuilder, *, parameters: tuple[str, ...] = ("offset_days",)) -> None:
    """Make ``builder`` the builder of rule ``code`` (registering a code again replaces it), reading
    the rule's ``parameters`` (of ``RULE_PARAMETERS``)."""
    unknown = set(parameters) - set(RULE_PARAMETERS)
    if unknown:
        raise ValueError(f"Unknown rule parameters for {code}: {sorted(unknown)}")
    _builders[code] = builder
    _parameters[code] = tuple(name for name in RULE_PARAMETERS if name in parameters)


def rule_builder_unregister(code: str) -> None:
    """Remove the builder of ``code`` (nothing happens when it has none)."""
    _builders.pop(code, None)
    _parameters.pop(code, None)


def rule_parameters(code: str) -> tuple[str, ...]:
    """The parameters (of ``RULE_PARAMETERS``, in that order) the builder of rule ``code`` reads;
    none for a code without a builder (it generates nothing)."""
    return _parameters.get(code, ())


def rule_builder_for(code: str) -> RuleBuilder | None:
    """The builder registered for rule ``code``, or None."""
    return _builders.get(code)


def rule_builders() -> Mapping[str, RuleBuilder]:
    """Every registered builder by rule code (read-only)."""
    return MappingProxyType(_builders)
