from decimal import Decimal

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def zhe(value) -> str:
    """A labour discount as the desk says it: 0.95 → 9.5折, 0.70 → 7折, 1 → no discount."""
    if value is None or value == "":
        return "—"
    value = Decimal(str(value))
    if value >= 1:
        return _("no discount")
    tenths = (value * 10).normalize()
    return f"{tenths:f}折"


@register.filter
def signed(value) -> str:
    """Points with their sign: +120, -80."""
    return f"{int(value):+d}" if value is not None else ""
