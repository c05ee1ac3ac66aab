"""What each role's landing page shows, filled by the apps: the core knows no domain.

Each app may name on its AppConfig:

- ``landing_figures``: dotted paths of readers ``f(*, user, store_ids, today) -> list[LandingFigure]``,
  counting over ``store_ids`` (``None``: every store). The figures show in INSTALLED_APPS order.
- ``landing_actions``: ``LandingAction``s, the big buttons of a role's landing page (a role's main
  tool: the customer search for the desks, the call queue for the agents).
- ``landing_panels``: dotted paths of readers ``f(*, user, store_ids, today) -> list[LandingPanel]``:
  a short list on a role's page (a sales consultant's prospects needing action), with a link to the
  whole list. The panels show in INSTALLED_APPS order, after the figures.

This module is imported by the apps' ``apps.py``: it must not import models.
"""

import datetime
from dataclasses import dataclass, field

from django.apps import apps
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class LandingFigure:
    """One key figure: ``key`` names it in the view's ``figures``, ``page_name`` in the page
    (``data-figure``, for tests and scripts), ``label`` is what the user reads."""

    key: str
    label: str
    value: int
    page_name: str = ""
    link: str = ""  # a URL: the figure opens the page it counts (the arrivals board)

    def __post_init__(self) -> None:
        if not self.page_name:
            object.__setattr__(self, "page_name", self.key)


@dataclass(frozen=True)
class LandingAction:
    """A button on the landing page of ``roles``: ``url_name`` is reversed without arguments;
    ``page_name`` (``data-link``) and ``accesskey`` are optional. Buttons show by ``position``
    (a role's main action first), then in INSTALLED_APPS order."""

    url_name: str
    label: str
    roles: tuple[str, ...] = field(default_factory=tuple)
    page_name: str = ""
    accesskey: str = ""
    position: int = 100


@dataclass(frozen=True)
class ResolvedAction:
    url: str
    label: str
    page_name: str
    accesskey: str


@dataclass(frozen=True)
class LandingPanelRow:
    """One line of a panel: what the user reads, where it leads, and a detail beside it."""

    label: str
    url: str = ""
    detail: str = ""


@dataclass(frozen=True)
class LandingPanel:
    """A short list on the landing page: ``key`` names it in the page (``data-panel``); the link
    (``link_url``, ``link_label``) opens the whole list; ``empty_text`` shows when there is no row."""

    key: str
    title: str
    rows: tuple[LandingPanelRow, ...] = ()
    link_url: str = ""
    link_label: str = ""
    empty_text: str = ""


def _registered(attribute: str):
    for app_config in apps.get_app_configs():
        yield from getattr(app_config, attribute, ())


def landing_figures_collect(*, user, store_ids, today: datetime.date) -> list[LandingFigure]:
    """Every registered figure, in INSTALLED_APPS order."""
    figures = []
    for path in _registered("landing_figures"):
        figures.extend(import_string(path)(user=user, store_ids=store_ids, today=today))
    return figures


def landing_panels_collect(*, user, store_ids, today: datetime.date) -> list[LandingPanel]:
    """Every registered panel, in INSTALLED_APPS order."""
    panels = []
    for path in _registered("landing_panels"):
        panels.extend(import_string(path)(user=user, store_ids=store_ids, today=today))
    return panels


def landing_actions_for(user) -> list[ResolvedAction]:
    """The buttons of the user's role whose page exists, by position, then in INSTALLED_APPS order."""
    actions = []
    for action in sorted(_registered("landing_actions"), key=lambda action: action.position):
        if user.role not in action.roles:
            continue
        try:
            url = reverse(action.url_name)
        except NoReverseMatch:
            continue
        actions.append(
            ResolvedAction(url=url, label=str(action.label), page_name=action.page_name, accesskey=action.accesskey)
        )
    return actions
