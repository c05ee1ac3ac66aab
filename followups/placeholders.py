"""The ``{placeholders}`` of SMS templates and call scripts (docs/followups.md, "SMS"), defined once
for both ways they are filled: in Python for the call page's script, in SQL for the set-based
rendering of a day's messages. Both write a date the same way: 2026年11月23日.

The card's and vehicle's fields come from the customers app (``card_placeholder_values`` /
``card_placeholder_sql``); the task's date and holiday and the store's name and phone are added here.
"""

import datetime
import re

from django.utils.translation import gettext as _

from customers.selectors import (
    MESSAGE_PLACEHOLDERS,
    card_placeholder_sql,
    card_placeholder_values,
    message_has_unpaired_brace,
    message_unknown_placeholders,
)

#: Every placeholder (customers' one list), in the order the SQL rendering replaces them.
PLACEHOLDERS = MESSAGE_PLACEHOLDERS
PLACEHOLDER_PATTERN = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
#: ``to_char`` pattern of ``format_date``: 2026年11月23日 (no leading zeros).
DATE_SQL_FORMAT = 'YYYY"年"FMMM"月"FMDD"日"'


def format_date(day: datetime.date | None) -> str:
    """A date as messages and scripts write it: 2026年11月23日; empty for None."""
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


def task_placeholder_values(task) -> dict[str, str]:
    """The text of every placeholder for a ``FollowupTask`` (its customer, vehicle and store loaded)."""
    return {
        **card_placeholder_values(customer=task.customer, vehicle=task.vehicle),
        "date": format_date(task.subject_date),
        # A booking's slot (the appointment rules' tasks keep it in their detail).
        "time": str((task.detail or {}).get("time", "")),
        "store": task.store.name,
        "store_phone": task.store.phone,
        "holiday": str((task.detail or {}).get("holiday", "")),
        "event": str((task.detail or {}).get("event", "")),
    }


def render_placeholders(template: str, values: dict[str, str]) -> str:
    """``template`` with each known placeholder replaced; any other brace (a typo, ``{0}``) is left
    as it is, since a manager writes the templates."""
    return PLACEHOLDER_PATTERN.sub(lambda match: values[match.group(1)], template or "")


def render_placeholders_sql(template_sql: str, *, task: str, store: str, customer: str, vehicle: str) -> str:
    """An SQL text expression: the template expression ``template_sql`` with every placeholder
    replaced from the task row ``task``, the store row ``store``, the customer row ``customer`` and
    the (left-joined) vehicle row ``vehicle``. No parameters."""
    expressions = {
        **card_placeholder_sql(customer_alias=customer, vehicle_alias=vehicle),
        "date": f"COALESCE(to_char({task}.subject_date, '{DATE_SQL_FORMAT}'), '')",
        "time": f"COALESCE({task}.detail->>'time', '')",
        "store_phone": f"{store}.phone",
        "store": f"{store}.name",
        "holiday": f"COALESCE({task}.detail->>'holiday', '')",
        "event": f"COALESCE({task}.detail->>'event', '')",
    }
    rendered = template_sql
    for name in PLACEHOLDERS:
        rendered = f"replace({rendered}, '{{{name}}}', {expressions[name]})"
    return rendered


MAX_TEMPLATE_LENGTH = 500


def template_errors(template: str) -> list[str]:
    """Why ``template`` cannot be saved: empty, too long, or naming a ``{placeholder}`` that does not
    exist (a typo, a capital, a Chinese name) or leaving a brace unpaired. Empty when it is fine."""
    template = template or ""
    if not template.strip():
        return [_("Write the text of the message.")]
    if len(template) > MAX_TEMPLATE_LENGTH:
        return [_("The text is at most %(limit)d characters long.") % {"limit": MAX_TEMPLATE_LENGTH}]
    unknown = message_unknown_placeholders(template)
    errors = []
    if unknown:
        errors.append(
            _("Unknown fields: %(fields)s. The fields are: %(known)s.")
            % {
                "fields": ", ".join(dict.fromkeys(unknown)),
                "known": " ".join("{" + name + "}" for name in PLACEHOLDERS),
            }
        )
    elif message_has_unpaired_brace(template):
        errors.append(_("A brace { or } has no pair: write fields as {name}."))
    return errors
