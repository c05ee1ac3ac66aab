from django import template

from crm.masking import phone_for_user

register = template.Library()


@register.filter
def phone_for(value: str | None, user) -> str:
    """{{ customer.mobile|phone_for:user }}: whole or masked, as the user's role allows."""
    return phone_for_user(user, value)
