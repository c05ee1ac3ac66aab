from django.contrib import admin
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm.admin_base import (
    GroupWideModelAdmin,
    NotFoundOutsideScopeMixin,
    StoreScopedModelAdmin,
    UserStoresListFilter,
    staff_within_user_stores,
)
from crm.audit import audit_object_type_label
from crm.choices import Role
from crm.models import AuditLog, CalendarDay, Store, User
from crm.scoping import scope_to_user_stores, sees_all_stores

# The admin's own words, once for the whole site (Django's defaults say "Django administration").
admin.site.site_header = _("Dealership CRM administration")
admin.site.site_title = _("Dealership CRM")
admin.site.index_title = _("Data maintenance")


def _name_libraries_in_the_crms_words() -> None:
    """django-otp names its model and fields in English only (no gettext): the admin shows them in
    the reader's language. Only the names shown are set (not the ones migrations record), so no
    migration of the library follows. The apps' section titles are their AppConfigs'
    (crm/library_apps.py)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice._meta.verbose_name = _("authenticator device")
    TOTPDevice._meta.verbose_name_plural = _("authenticator devices")
    for field_name, label in {
        "user": _("Staff member"),
        "name": _("name"),
        "confirmed": _("confirmed"),
        "created_at": _("created at"),
        "last_used_at": _("last used at"),
    }.items():
        TOTPDevice._meta.get_field(field_name).verbose_name = label


_name_libraries_in_the_crms_words()


def _authenticator_device_admin():
    from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
    from django_otp.plugins.otp_totp.models import TOTPDevice

    class AuthenticatorDeviceAdmin(TOTPDeviceAdmin):
        """django-otp's admin of the staff's authenticator devices, with its words translated."""

        search_help_text = _("Search by username or e-mail address")

        @admin.display(description=_("QR code"))
        def qrcode_link(self, device):
            href = reverse("admin:otp_totp_totpdevice_config", kwargs={"pk": device.pk})
            return format_html('<a href="{}">{}</a>', href, _("Show the QR code"))

    if admin.site.is_registered(TOTPDevice):
        admin.site.unregister(TOTPDevice)
    admin.site.register(TOTPDevice, AuthenticatorDeviceAdmin)


_authenticator_device_admin()


def _role_label(group_name: str) -> str:
    """A role's group by the role's name ("服务顾问"), not its code ("service_advisor")."""
    return str(dict(Role.choices).get(group_name, group_name))


class RoleGroupListFilter(RelatedOnlyFieldListFilter):
    """The user list's filter by group, naming each role group by its role."""

    def field_choices(self, field, request, model_admin):
        return [(pk, _role_label(name)) for pk, name in super().field_choices(field, request, model_admin)]


class GroupAdmin(admin.ModelAdmin):
    """The role groups by their roles' names (the group name is the role's code)."""

    list_display = ["role"]
    search_fields = ["name"]
    ordering = ["name"]
    filter_horizontal = ["permissions"]

    @admin.display(description=_("Role"), ordering="name")
    def role(self, group) -> str:
        return _role_label(group.name)


admin.site.unregister(Group)
admin.site.register(Group, GroupAdmin)

# A store's identity is the group's to change; its manager keeps its contact details, SMS signature
# and call windows up to date.
STORE_IDENTITY_FIELDS = ("code", "name", "brand", "is_active")


@admin.register(Store)
class StoreAdmin(StoreScopedModelAdmin):
    """Stores: each user sees only their own; only group-wide staff add stores or change who a store is."""

    store_field = "id"
    list_display = ["code", "name", "brand", "phone", "is_active"]
    list_filter = ["brand", "is_active"]
    search_fields = ["code", "name"]

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and not sees_all_stores(request.user):
            return (*readonly, *STORE_IDENTITY_FIELDS)
        return readonly

    def has_add_permission(self, request) -> bool:
        return sees_all_stores(request.user) and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return sees_all_stores(request.user) and super().has_delete_permission(request, obj)


def _permission_names(permissions) -> set[str]:
    return {f"{permission.content_type.app_label}.{permission.codename}" for permission in permissions}


@admin.register(User)
class UserAdmin(NotFoundOutsideScopeMixin, DjangoUserAdmin):
    """Staff: nobody grants what they do not hold. A user who is not a superuser sees and edits only
    staff whose every store is theirs (others are a 404, the password form included), cannot make a
    superuser, cannot grant the whole group unless they see it, and gives only stores, roles and
    permissions they hold themselves."""

    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        (_("Stores"), {"fields": ["stores", "sees_all_stores", "phone"]}),
    ]
    add_fieldsets = [
        *DjangoUserAdmin.add_fieldsets,
        (_("Stores"), {"classes": ["wide"], "fields": ["stores"]}),
    ]
    list_display = ["username", "last_name", "first_name", "is_active", "sees_all_stores"]
    list_filter = [
        ("groups", RoleGroupListFilter),
        ("stores", UserStoresListFilter),
        "is_active",
        "sees_all_stores",
    ]
    filter_horizontal = ["groups", "user_permissions", "stores"]

    def get_queryset(self, request):
        return super().get_queryset(request) & staff_within_user_stores(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser:
            return True
        # Editing someone (their password too) who holds more than you would be holding it yourself.
        return obj.get_all_permissions() <= request.user.get_all_permissions()

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.has_change_permission(request, obj) and super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly = (*readonly, "is_superuser")
            if not sees_all_stores(request.user):
                readonly = (*readonly, "sees_all_stores")
        return readonly

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if "stores" in form.base_fields and not sees_all_stores(request.user):
            # A user of no store would vanish from the list of the one who made them.
            form.base_fields["stores"].required = True
        return form

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        user = request.user
        if not user.is_superuser:
            if db_field.name == "stores":
                kwargs["queryset"] = scope_to_user_stores(Store.objects.all(), user, store_field="id")
            elif db_field.name == "groups":
                kwargs["queryset"] = Group.objects.filter(pk__in=self._grantable_group_ids(user))
            elif db_field.name == "user_permissions":
                kwargs["queryset"] = Permission.objects.filter(pk__in=self._grantable_permission_ids(user))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @staticmethod
    def _grantable_permission_ids(user) -> list[int]:
        held = user.get_all_permissions()
        permissions = Permission.objects.select_related("content_type")
        return [permission.pk for permission in permissions if _permission_names([permission]) <= held]

    @staticmethod
    def _grantable_group_ids(user) -> list[int]:
        held = user.get_all_permissions()
        groups = Group.objects.prefetch_related("permissions__content_type")
        return [group.pk for group in groups if _permission_names(group.permissions.all()) <= held]


class AuditObjectTypeListFilter(admin.SimpleListFilter):
    """The audit rows by the kind of record they touched, named as the model is."""

    title = _("Records")
    parameter_name = "object_type"

    def lookups(self, request, model_admin):
        types = model_admin.get_queryset(request).order_by().values_list("object_type", flat=True).distinct()
        return sorted(((code, audit_object_type_label(code)) for code in types if code), key=lambda pair: pair[1])

    def queryset(self, request, queryset):
        return queryset.filter(object_type=self.value()) if self.value() else queryset


@admin.register(AuditLog)
class AuditLogAdmin(NotFoundOutsideScopeMixin, admin.ModelAdmin):
    """The audit trail: read-only for everyone, superusers included. Staff who do not see the whole
    group see the rows of staff whose every store is theirs (their own included): the reads and
    exports of their stores' people, never another store's."""

    list_display = ["at", "actor", "action", "records"]
    list_filter = ["action", AuditObjectTypeListFilter]
    search_fields = ["actor__username"]
    date_hierarchy = "at"
    list_select_related = ["actor"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if sees_all_stores(request.user):
            return queryset
        return queryset.filter(actor__in=staff_within_user_stores(request.user))

    @admin.display(description=_("Records"), ordering="object_type")
    def records(self, row) -> str:
        return audit_object_type_label(row.object_type)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CalendarDay)
class CalendarDayAdmin(GroupWideModelAdmin):
    """The official calendar holds for every store: changed only by group-wide staff."""

    list_display = ["date", "kind", "name"]
    list_filter = ["kind"]
    date_hierarchy = "date"
