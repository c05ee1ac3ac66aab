from django import template

from customers.membership import points_text

register = template.Library()


@register.filter
def points(value, style: str = "") -> str:
    """A points figure with its unit: ``{{ balance|points }}`` → 1200 积分; ``{{ entry.points|points:"signed" }}``
    → +120 积分; — when unknown."""
    return points_text(value, signed=style == "signed")
