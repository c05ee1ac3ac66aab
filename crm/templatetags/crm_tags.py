from django import template

from crm.masking import phone_for_user

register = template.Library()


@register.filter
def phone_for(value: str | None, user) -> str:
    """{{ customer.mobile|phone_for:user }}: whole or masked, as the user's role allows."""
    return phone_for_user(user, value)


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with ``changes`` applied: page links keep every filter and search."""
    query = context["request"].GET.copy()
    for key, value in changes.items():
        query[key] = value
    return query.urlencode()
