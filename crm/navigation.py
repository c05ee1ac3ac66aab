"""The top bar per role: the navigation entries and the global search, both filled by the apps.

Each app adds its entries in its AppConfig (``navigation``): a list of (url name, label, roles that
see it). One app names the target of the search box (``global_search``, a ``GlobalSearch``): the
first one in INSTALLED_APPS order; with none the bar shows no search box.

This module is imported by the apps' ``apps.py``: it must not import models.
"""

from dataclasses import dataclass
from functools import cached_property

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


@dataclass(frozen=True)
class GlobalSearch:
    """The search box of the top bar: a GET of ``q`` to ``url_name``. Staff holding
    ``phone_lookup_permission`` (an ``app_label.codename``) may type a whole phone number, which
    static/js/crm.js posts to ``phone_lookup_url_name`` instead (a number never goes into a URL)."""

    url_name: str
    label: str
    placeholder: str
    phone_lookup_url_name: str = ""
    phone_lookup_permission: str = ""


class GlobalSearchForm:
    """The registered search box as one user sees it; worked out only if a page shows it (a partial
    page asks for no permission)."""

    def __init__(self, search: GlobalSearch, user) -> None:
        self.search = search
        self.user = user
        self.label = search.label
        self.placeholder = search.placeholder

    @cached_property
    def url(self) -> str:
        return reverse(self.search.url_name)

    @cached_property
    def phone_lookup_url(self) -> str:
        search = self.search
        if search.phone_lookup_url_name and self.user.has_perm(search.phone_lookup_permission):
            return reverse(search.phone_lookup_url_name)
        return ""


def global_search_for(user) -> GlobalSearchForm | None:
    for app_config in apps.get_app_configs():
        search = getattr(app_config, "global_search", None)
        if search is not None:
            return GlobalSearchForm(search, user)
    return None
