from django import template

from crm.audit import audit_object_type_label
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


# How every page shows a value that was never filled in.
BLANK = "—"


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@register.filter
def dash(value):
    """{{ value|dash }}: the value, or "—" when it is empty (None, "" or only spaces)."""
    return BLANK if is_blank(value) else value


@register.filter
def field_display(instance, field_name: str):
    """{{ customer|field_display:"gender" }}: a field as shown to people: a choice's label, or "—"
    when it is blank (not the choice's "Unknown" label, not an empty cell)."""
    value = getattr(instance, field_name)
    if is_blank(value):
        return BLANK
    field = instance._meta.get_field(field_name)
    return getattr(instance, f"get_{field_name}_display")() if field.choices else value


@register.simple_tag
def joined(*parts, separator: str = " "):
    """{% joined customer.employer customer.job_title %}: the filled parts joined, or "—" if none
    is filled (never "— 主管" nor a lone separator)."""
    filled = [str(part).strip() for part in parts if not is_blank(part)]
    return separator.join(filled) if filled else BLANK


@register.filter
def audit_object_type(object_type: str) -> str:
    """{{ row.object_type|audit_object_type }}: the model's name for an audit row's object type."""
    return audit_object_type_label(object_type)
