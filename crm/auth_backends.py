"""The signed-in user read in one statement, with what nearly every request asks of them.

Django's ModelBackend reads the session's user (one statement) and then, on the first question
each request asks, the user's groups (their role: navigation, scoping), their own permissions and
their groups' permissions (two statements: every view checks one) and their stores (the store
scope of every list): five statements before a page does its own work. ``StaffBackend`` reads the
user with those four as arrays in the same statement (compiled once per process, the user's ID its
only value) and fills the caches ModelBackend and ``crm.models.User`` keep on the user object for
the request. Nothing is kept between requests: a role, a permission or a store taken away applies
on the next request, as before. Superusers (the admin) keep ModelBackend's own reads (every
permission is theirs).
"""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Value
from django.db.models.functions import Concat

from crm.compiled_reads import compiled_read
from crm.models import Store, User, role_of_groups


def _permission_names(permissions):
    """``app_label.codename`` of each permission, as ModelBackend names them."""
    return permissions.annotate(full_name=Concat("content_type__app_label", Value("."), "codename")).values("full_name")


def _signed_in_user(*, user_id: int):
    return User._default_manager.filter(pk=user_id).annotate(
        signed_in_groups=ArraySubquery(Group.objects.filter(user=OuterRef("pk")).values("name")),
        signed_in_user_perms=ArraySubquery(_permission_names(Permission.objects.filter(user=OuterRef("pk")))),
        signed_in_group_perms=ArraySubquery(_permission_names(Permission.objects.filter(group__user=OuterRef("pk")))),
        # In the order of user.stores (Store's own: by code), as crm.scoping read them.
        signed_in_stores=ArraySubquery(Store.objects.filter(staff=OuterRef("pk")).order_by("code").values("id")),
    )


class StaffBackend(ModelBackend):
    """ModelBackend whose ``get_user`` reads the user with their groups, permissions and stores."""

    def get_user(self, user_id):
        try:
            user_id = User._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        found = compiled_read(("signed-in user",), _signed_in_user, user_id=user_id)
        if not found or not self.user_can_authenticate(found[0]):
            return None
        user = found[0]
        user._role_cache = role_of_groups(user.signed_in_groups, is_superuser=user.is_superuser)
        user._member_store_ids = list(user.signed_in_stores)
        if not user.is_superuser:  # a superuser's are every permission: ModelBackend reads them if asked
            user._user_perm_cache = set(user.signed_in_user_perms)
            user._group_perm_cache = set(user.signed_in_group_perms)
        return user
