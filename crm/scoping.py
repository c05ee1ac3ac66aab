"""Store scoping: staff see only the stores they work in, unless granted the whole group."""

from django.db.models import QuerySet

from crm.compiled_reads import compiled_read
from crm.models import Store


def sees_all_stores(user) -> bool:
    return bool(user.is_superuser or getattr(user, "sees_all_stores", False))


def member_store_ids(user) -> list[int]:
    """The IDs of the stores the user works in (read once per user object, i.e. per request)."""
    if not user.is_authenticated:
        return []
    if not hasattr(user, "_member_store_ids"):
        user._member_store_ids = list(user.stores.values_list("id", flat=True))
    return user._member_store_ids


def visible_store_ids(user) -> list[int] | None:
    """The IDs of the stores whose data the user may see; None means every store."""
    if not user.is_authenticated:
        return []
    if sees_all_stores(user):
        return None
    return member_store_ids(user)


def store_scope(user) -> tuple[int, ...] | None:
    """``visible_store_ids`` as a tuple, to name in the key of a statement compiled once per set of
    stores (crm.compiled_reads); None means every store."""
    store_ids = visible_store_ids(user)
    return None if store_ids is None else tuple(store_ids)


def report_store_ids(*, user, store_id: int | None = None) -> list[int]:
    """The stores a report or dashboard covers: the one asked for if the user may see it, else
    every store the user sees (the group for those granted it). A store the user may not see gives
    an empty list (the figures are zero)."""
    visible = visible_store_ids(user)
    if visible is None:
        visible = list(Store.objects.values_list("id", flat=True))
    if store_id:
        return [store_id] if store_id in visible else []
    return visible


def scope_to_user_stores(queryset: QuerySet, user, *, store_field: str = "store") -> QuerySet:
    if not user.is_authenticated:
        return queryset.none()
    return in_stores(queryset, visible_store_ids(user), store_field=store_field)


def in_stores(queryset: QuerySet, store_ids, *, store_field: str = "store") -> QuerySet:
    """``queryset`` limited to the stores of ``store_ids`` (None: every store)."""
    if store_ids is None:
        return queryset
    return queryset.filter(**{f"{store_field}__in": store_ids})


def stores_for_user(user) -> QuerySet:
    return active_stores(visible_store_ids(user))


def user_active_stores(user) -> list[Store]:
    """``stores_for_user`` read into a list, its statement compiled once per set of stores the user
    may see (the key: they are in its text; ``crm.compiled_reads``): for what reads them on every
    request, the call queue's claim and figures."""
    scope = store_scope(user)
    return compiled_read(("user stores", scope), lambda: active_stores(scope))


def active_stores(store_ids: list[int] | tuple[int, ...] | None) -> QuerySet:
    """The active stores among ``store_ids`` (None: every active store)."""
    return in_stores(Store.objects.filter(is_active=True), store_ids, store_field="id")
