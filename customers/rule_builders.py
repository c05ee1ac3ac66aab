"""The registry of follow-up rule builders: which code turns a follow-up rule into its candidate SELECT.

It lives in customers, the layer every domain app stands on, so that an app that may not import
follow-ups (the owners' club registers ``event_notice``) registers its rules' builders importing
only from here. Follow-ups' generation (``followups.generation.candidates_for``) reads it.

A rule builder is ``builder(rule, rule_dates) -> Candidates | None``: for a follow-up rule (a
``FollowupRule`` of one store: ``rule.code``, ``rule.store_id``, ``rule.channel``,
``rule.offset_days``, ``rule.offset_months``, ``rule.interval_days``, ``rule.distance_km``) and the
rule dates R whose queue date is the day being generated (never empty), one set-based SELECT of
(customer_id, vehicle_id, unit_id, rule_date, subject_date, detail), or None when the rule has
nothing to do on those dates. Generation wraps it in the eligibility filter (docs/followups.md,
"Who gets nothing") and one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` per store and rule; the
managers' preview counts the same SELECT. A code with no builder generates nothing.

Each app registers the builders of the rules it owns in its ``AppConfig.ready()``: follow-ups its
own (``followups.generation.register_followups_rule_builders``); the owners' club ``event_notice``:

    from customers.rule_builders import rule_builder_register
    rule_builder_register("event_notice", event_invitations)
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any


@dataclass
class Candidates:
    """What a rule builder returns: a SELECT of (customer_id, vehicle_id, unit_id, rule_date,
    subject_date, detail) and its params.

    ``sql`` uses ``%(name)s`` placeholders; ``params`` gives them, and generation adds
    ``%(store_id)s`` (the rule's store: a SELECT keeps to it) and ``%(active)s``. ``vehicle_id`` is
    NULL for a customer rule; ``unit_id`` is what a task is unique by (with the rule and R): the
    vehicle's id for a vehicle rule, else the customer's; ``detail`` a jsonb object the task keeps.
    """

    sql: str
    params: dict = field(default_factory=dict)
    # One row per owner (holiday greetings): the SELECT reads the customer table as ``cu`` and has an
    # ``{eligibility}`` slot, which saves re-joining every customer.
    inline_eligibility: bool = False


RuleBuilder = Callable[[Any, list[date]], Candidates | None]

_builders: dict[str, RuleBuilder] = {}


def rule_builder_register(code: str, builder: RuleBuilder) -> None:
    """Make ``builder`` the builder of rule ``code`` (registering a code again replaces it)."""
    _builders[code] = builder


def rule_builder_unregister(code: str) -> None:
    """Remove the builder of ``code`` (nothing happens when it has none)."""
    _builders.pop(code, None)


def rule_builder_for(code: str) -> RuleBuilder | None:
    """The builder registered for rule ``code``, or None."""
    return _builders.get(code)


def rule_builders() -> Mapping[str, RuleBuilder]:
    """Every registered builder by rule code (read-only)."""
    return MappingProxyType(_builders)
