"""Membership wherever staff meet a customer (the card, the search results, the call panel), the
segment facts' tier and the points the follow-up rules read, without customers depending on the
app that keeps the club.

An app lists dotted paths to functions in its AppConfig (the owners' club does, clubs/apps.py):

- ``customer_membership_badges``: ``f(*, customers: list[Customer]) -> dict[customer_id, MemberBadge]``,
  the badges of the members among ``customers`` in one query for the whole list (no query per row).
- ``customer_member_tier_sql``: ``f(*, day: str) -> str``, an SQL SELECT of (customer_id, tier): the
  tier's Chinese name (普通, 银卡 …) of every member of a club started by the SQL date ``day`` (a
  relation, so that the full refresh of the segment facts joins it once instead of looking up each
  customer).
- ``customer_points_on_sql``: ``f(*, customer: str, day: str) -> str``, an SQL expression of the points
  balance at the end of ``day`` of the customer row ``customer`` when their store's club had started
  by then (0 for a customer who is not a member of it), else NULL.

Without a provider, or for a customer no provider knows, everything falls back on what the DMS
import wrote on the card (``member_card_no``, ``member_tier``, ``points_balance``), as before the club.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from customers.card import registered_functions


def points_text(value, *, signed: bool = False) -> str:
    """A points figure with its unit, the one way pages show points: "1200 积分" ("1200 points"),
    "+120 积分" when ``signed``, "—" when unknown. Templates use the ``points`` filter
    (customers_tags)."""
    if value is None or value == "":
        return "—"
    number = f"{int(value):+d}" if signed else str(int(value))
    return _("%(points)s points") % {"points": number}


@dataclass(frozen=True)
class MemberBadge:
    """What staff see of a customer's membership: from the club for its members, else the DMS's strings."""

    tier_label: str = ""
    is_vip: bool = False
    labour_discount: str = ""  # "工时9.5折"; blank when the tier gives none (or the DMS is the source)
    points_balance: int | None = None
    points_expiring_30d: int | None = None
    wallet_balance: Decimal | None = None  # None: no stored value
    birthday_month: bool = False
    credit_card_bank: str = ""
    url: str = ""  # the member page ("" when there is none)
    card_no: str = ""
    from_club: bool = False  # the club keeps the tier and points (else the DMS strings on the card)
    differs_from_dms: bool = False  # the DMS's tier or points on the card disagree with the club's


def dms_badge(customer) -> MemberBadge:
    """The badge the DMS strings on the card make (a customer of a store without a club)."""
    return MemberBadge(
        tier_label=customer.member_tier,
        is_vip=customer.is_vip,
        points_balance=customer.points_balance,
        card_no=customer.member_card_no,
    )


def membership_badges(*, customers) -> dict[int, MemberBadge]:
    """The badge of every customer of ``customers`` by id: a provider's for the members it knows
    (one query per provider for the whole list), the DMS strings' for the others."""
    customers = list(customers)
    found: dict[int, MemberBadge] = {}
    for provider in registered_functions("customer_membership_badges"):
        remaining = [customer for customer in customers if customer.pk not in found]
        if not remaining:
            break
        found.update(provider(customers=remaining))
    return {customer.pk: found.get(customer.pk) or dms_badge(customer) for customer in customers}


def membership_badge(customer) -> MemberBadge:
    return membership_badges(customers=[customer])[customer.pk]


def _member_tier_relations(day: str) -> list[str]:
    return [provider(day=day) for provider in registered_functions("customer_member_tier_sql")]


def member_tier_joins(*, customer: str, day: str) -> tuple[str, str]:
    """(LEFT JOINs, expression): the joins to add after the customer table ``customer`` (an alias) and
    the SQL expression of the tier name the segment facts keep: the club's for its members (a
    provider's), else the DMS's ``member_tier`` on the card."""
    relations = _member_tier_relations(day)
    joins = " ".join(
        f"LEFT JOIN ({relation}) member_tier_{index} ON member_tier_{index}.customer_id = {customer}.id"
        for index, relation in enumerate(relations)
    )
    tiers = [f"member_tier_{index}.tier" for index in range(len(relations))]
    return joins, f"coalesce({', '.join([*tiers, f'{customer}.member_tier'])})"


def member_tier_sql(*, customer: str, day: str) -> str:
    """The same tier as an SQL expression of the customer row ``customer`` alone (a look-up per row:
    for a few rows, an export's)."""
    tiers = [
        f"(SELECT t.tier FROM ({relation}) t WHERE t.customer_id = {customer}.id)"
        for relation in _member_tier_relations(day)
    ]
    return f"coalesce({', '.join([*tiers, f'{customer}.member_tier'])})"


def points_on_sql(*, customer: str, day: str) -> str:
    """The SQL expression of the points balance of the customer row ``customer`` at the end of the
    SQL date ``day`` from a club's ledger where their store's club had started by then, else NULL
    (the caller falls back on the DMS's balance on the card)."""
    providers = registered_functions("customer_points_on_sql")
    expressions = [provider(customer=customer, day=day) for provider in providers]
    if not expressions:
        return "NULL::integer"
    return f"coalesce({', '.join(expressions)})"
