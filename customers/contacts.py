"""The registry of contact sources: which code lists the contacts that reached a customer.

The retention dashboard's "won back by" (docs/retention.md) attributes a customer's return to the
last contact that reached them in the 30 days before. The contacts live in the domain apps (a call
reached and an SMS delivered in follow-ups, an event attended in the owners' club, an appointment
kept), which customers may not import; each app registers a builder of its contacts here, in its
``AppConfig.ready()``, the same way follow-up rule builders are registered (customers/rule_builders.py):

    from customers.contacts import contact_source_register
    contact_source_register("clubs.event_attended", event_attendances)

A builder is ``builder(store_ids, start, end) -> ContactSql``: one set-based SELECT of the columns
``(customer_id, at, kind, rule_code, campaign_id, agent_id)`` — ``at`` a timestamptz, ``kind`` one
of ``CONTACT_KINDS``, ``rule_code`` the follow-up rule's code or '', ``campaign_id`` an SMS
campaign's id or NULL, ``agent_id`` the user who made the contact or NULL — of the contacts of the
stores ``store_ids`` (None: every store) at ``start`` or later and before ``end``. The SELECT is
wrapped (``CONTACTS_SQL``) and filtered further by customer, so it should let PostgreSQL use an
index on (customer, at). Its params are ``%(name)s`` placeholders of its own; the caller renames
them so that builders never collide.

A source can also name what its ids and codes mean on a page: ``campaign_labels(ids) -> {id: name}``
and ``rule_labels() -> {code: name}`` (the satisfaction page names its rules with them too).
Customers registers its own source too: a visit booked with the customer (``appointment``, at
its booking time, by whoever booked it; not a walk-in, not a cancelled one).
"""

import datetime
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from django.utils.translation import gettext_lazy as _

#: The kinds of contact a source may return, with their names on the dashboard.
CONTACT_KINDS = {
    "call": _("Call reached"),
    "sms": _("SMS delivered"),
    "campaign": _("Campaign message delivered"),
    "event": _("Club event attended"),
    "appointment": _("Appointment"),
}
CONTACT_COLUMNS = ("customer_id", "at", "kind", "rule_code", "campaign_id", "agent_id")


@dataclass
class ContactSql:
    """What a contact builder returns: a SELECT of ``CONTACT_COLUMNS`` and its params."""

    sql: str
    params: dict = field(default_factory=dict)


ContactBuilder = Callable[[list[int] | None, datetime.datetime, datetime.datetime], ContactSql]
CampaignLabels = Callable[[Iterable[int]], dict[int, str]]
RuleLabels = Callable[[], dict[str, str]]


@dataclass(frozen=True)
class ContactSource:
    builder: ContactBuilder
    campaign_labels: CampaignLabels | None = None
    rule_labels: RuleLabels | None = None


_sources: dict[str, ContactSource] = {}


def contact_source_register(
    name: str,
    builder: ContactBuilder,
    *,
    campaign_labels: CampaignLabels | None = None,
    rule_labels: RuleLabels | None = None,
) -> None:
    """Make ``builder`` the contact source ``name`` (registering a name again replaces it)."""
    _sources[name] = ContactSource(builder, campaign_labels, rule_labels)


def contact_source_unregister(name: str) -> None:
    _sources.pop(name, None)


def contact_sources() -> Mapping[str, ContactSource]:
    """Every registered source by name (read-only), in registration order."""
    return MappingProxyType(_sources)


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def contacts_sql(
    *, store_ids: list[int] | None, start: datetime.datetime, end: datetime.datetime
) -> tuple[str, dict] | None:
    """Every registered source's contacts as one ``UNION ALL`` SELECT of ``CONTACT_COLUMNS`` and its
    params (each source's placeholders renamed ``c<n>_<name>``), or None when no source is
    registered."""
    parts, params = [], {}
    for index, source in enumerate(_sources.values()):
        built = source.builder(store_ids, start, end)
        prefix = f"c{index}_"
        sql = _PLACEHOLDER.sub(lambda match, prefix=prefix: f"%({prefix}{match[1]})s", built.sql)
        params.update({f"{prefix}{key}": value for key, value in built.params.items()})
        columns = ", ".join(CONTACT_COLUMNS)
        parts.append(f"SELECT {columns} FROM ({sql}) AS source_{index}")
    if not parts:
        return None
    return "\nUNION ALL\n".join(parts), params


def campaign_labels(ids: Iterable[int]) -> dict[int, str]:
    """The names of the campaigns ``ids``, from the sources that know them."""
    ids = [value for value in set(ids) if value is not None]
    labels: dict[int, str] = {}
    if not ids:
        return labels
    for source in _sources.values():
        if source.campaign_labels is not None:
            labels.update(source.campaign_labels(ids))
    return labels


def rule_labels() -> dict[str, str]:
    """The names of the follow-up rules, from the sources that know them."""
    labels: dict[str, str] = {}
    for source in _sources.values():
        if source.rule_labels is not None:
            labels.update(source.rule_labels())
    return labels
