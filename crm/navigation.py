"""The navigation bar per role. Each app adds its entries in its AppConfig (``navigation``): a list
of (url name, label, roles that see it)."""

from dataclasses import dataclass

from django.apps import apps
from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class NavigationItem:
    url: str
    label: str
    is_active: bool


def navigation_for(user, current_path: str) -> list[NavigationItem]:
    role = user.role
    items = []
    for app_config in apps.get_app_configs():
        for url_name, label, roles in getattr(app_config, "navigation", []):
            if role not in roles:
                continue
            try:
                url = reverse(url_name)
            except NoReverseMatch:
                continue
            is_active = current_path == url if url == "/" else current_path.startswith(url)
            items.append(NavigationItem(url=url, label=str(label), is_active=is_active))
    return items
