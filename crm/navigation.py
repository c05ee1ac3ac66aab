"""The top bar per role: the navigation entries and the global search, both filled by the apps.

Each app adds its entries in its AppConfig (``navigation``): a list of (url name, label, roles that
see it), optionally with a fourth element ``"more"`` for pages used now and then, which go under the
bar's "More" menu. The bar shows at most ``TOP_BAR_ITEMS`` entries in one row; the rest go under
"More" as well, in registry order. The current page is the entry whose URL is the longest prefix of
the path (``/customers/segments/`` is Segments, not Customers).

One app names the target of the search box (``global_search``, a ``GlobalSearch``): the first one
in INSTALLED_APPS order; with none the bar shows no search box.

This module is imported by the apps' ``apps.py``: it must not import models.
"""

from dataclasses import dataclass
from functools import cached_property, lru_cache

from django.apps import apps
from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.translation import get_language

# Entries in the bar itself; with the brand, the search box and the user menu they fit one row at a
# desk (1,366 px).
TOP_BAR_ITEMS = 6
MORE = "more"


@dataclass(frozen=True)
class NavigationItem:
    url: str
    label: str
    is_active: bool
    in_more_menu: bool = False


def navigation_for(user, current_path: str) -> list[NavigationItem]:
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    entries = _role_entries(user.role, get_language(), get_script_prefix(), urlconf)
    active_url = current_entry_url(current_path, [url for url, _label, _more in entries])
    in_bar = [url for url, _label, more in entries if not more][:TOP_BAR_ITEMS]
    return [
        NavigationItem(url=url, label=label, is_active=url == active_url, in_more_menu=url not in in_bar)
        for url, label, _more in entries
    ]


@lru_cache(maxsize=128)
def _role_entries(role, language, script_prefix, urlconf) -> tuple[tuple[str, str, bool], ...]:
    """A role's entries as (URL, label, under "More"), in registry order: the same for every request
    of the role in one language (a dozen reverses and translations each page, worked out once per
    process). The URLs depend on the script prefix and the URL conf, which are part of the key as
    the language is."""
    entries = []
    for app_config in apps.get_app_configs():
        for url_name, label, roles, *placement in getattr(app_config, "navigation", []):
            if role not in roles:
                continue
            try:
                url = reverse(url_name)
            except NoReverseMatch:
                continue
            entries.append((url, str(label), placement == [MORE]))
    return tuple(entries)


def current_entry_url(current_path: str, urls: list[str]) -> str | None:
    """The most specific entry for the path: the longest URL that prefixes it ("/" only for itself)."""
    matches = [url for url in urls if (current_path == url if url == "/" else current_path.startswith(url))]
    return max(matches, key=len, default=None)


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
