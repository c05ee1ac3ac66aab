"""Staff roles as Django groups. Each app lists its permissions per role in its AppConfig
(``role_permissions``); this module turns those lists into the groups' permission sets."""

from django.apps import apps
from django.contrib.auth.models import Group, Permission

from crm.choices import Role


def role_permission_codenames() -> dict[str, set[tuple[str, str]]]:
    """Role code -> {(app_label, codename)} collected from every installed app."""
    result: dict[str, set[tuple[str, str]]] = {role.value: set() for role in Role}
    for app_config in apps.get_app_configs():
        for role, codenames in getattr(app_config, "role_permissions", {}).items():
            # "codename" is of the declaring app; "app_label.codename" names a library's permission.
            result[role].update(
                tuple(codename.split(".", 1)) if "." in codename else (app_config.label, codename)
                for codename in codenames
            )
    return result


def sync_role_groups() -> None:
    """Create one group per role and give it exactly the permissions the apps declare."""
    wanted = role_permission_codenames()
    permissions = {
        (permission.content_type.app_label, permission.codename): permission
        for permission in Permission.objects.select_related("content_type")
    }
    for role in Role:
        group, _created = Group.objects.get_or_create(name=role.value)
        group.permissions.set([permissions[key] for key in sorted(wanted[role.value]) if key in permissions])


def sync_role_groups_after_migrate(sender, **kwargs) -> None:
    # Run once, after the last app has migrated (its permissions now exist).
    last_app = list(apps.get_app_configs())[-1]
    if sender.label == last_app.label:
        sync_role_groups()
