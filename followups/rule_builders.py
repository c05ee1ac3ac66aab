"""The registry of follow-up rule builders: which code turns a rule into its candidate SELECT.

A rule builder is ``builder(rule, rule_dates) -> Candidates | None`` (``followups.generation``): for a
``FollowupRule`` and the rule dates R whose queue date is the day being generated, one set-based
SELECT of (customer_id, vehicle_id, unit_id, rule_date, subject_date, detail), or None when the
rule has nothing to do on those dates. Generation wraps it in the eligibility filter and one
``INSERT … SELECT … ON CONFLICT DO NOTHING`` per store and rule; a code with no builder generates
nothing.

Each app registers the builders of the rules it owns in its ``AppConfig.ready()``: follow-ups its
own (``followups.generation.register_followups_rule_builders``); the owners' club will register
``event_notice`` once it has events.
"""

from collections.abc import Callable, Mapping
from datetime import date
from types import MappingProxyType
from typing import Any

RuleBuilder = Callable[[Any, list[date]], Any]

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
