"""Reads of the shared core: the landing figures and panels, the calendar, export requests, the audit page."""

import datetime

from django.db.models import Q
from django.db.models.functions import Concat
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext

from crm.calendar import WorkingCalendar, local_midnight
from crm.choices import Role
from crm.exceptions import ApplicationError
from crm.landing import LandingFigure, LandingPanel, landing_figures_collect, landing_panels_collect
from crm.models import AuditLog, CalendarDay, ExportRequest, Store, User
from crm.scoping import visible_store_ids


def landing_figures(*, user, today: datetime.date | None = None) -> list[LandingFigure]:
    """The key figures the apps register for the landing pages (crm.landing: customers, vehicles…),
    counted over the user's stores as of ``today``."""
    today = today or timezone.localdate()
    return landing_figures_collect(user=user, store_ids=visible_store_ids(user), today=today)


def landing_panels(*, user, today: datetime.date | None = None) -> list[LandingPanel]:
    """The short lists the apps register for the landing pages (crm.landing: a consultant's
    prospects…), over the user's stores as of ``today``."""
    today = today or timezone.localdate()
    return landing_panels_collect(user=user, store_ids=visible_store_ids(user), today=today)


def working_calendar(*, first_day: datetime.date | None = None, last_day: datetime.date | None = None):
    """The working-day calendar with the admin-entered official days (crm.CalendarDay) on top of
    chinesecalendar and the computed fallback; ``first_day``/``last_day`` limit which entries load."""
    entries = CalendarDay.objects.all()
    if first_day is not None:
        entries = entries.filter(date__gte=first_day)
    if last_day is not None:
        entries = entries.filter(date__lte=last_day)
    return WorkingCalendar(overrides={entry.date: entry.is_working_day for entry in entries})


# --- exports needing approval -------------------------------------------------------------------


def export_requests_to_decide(user):
    """Pending export requests of the stores the user manages (the manager role), oldest first."""
    if not (user and user.is_authenticated and user.role == Role.MANAGER):
        return ExportRequest.objects.none()
    store_ids = user.stores.values("id")
    requests = ExportRequest.objects.filter(status=ExportRequest.Status.PENDING, stores__in=store_ids).distinct()
    return requests.select_related("requested_by").prefetch_related("stores").order_by("requested_at", "id")


def export_requests_of(user, *, limit: int = 50):
    """The user's own export requests, newest first."""
    if not (user and user.is_authenticated):
        return ExportRequest.objects.none()
    requests = ExportRequest.objects.filter(requested_by=user).select_related("decided_by")
    return requests.prefetch_related("stores").order_by("-requested_at", "-id")[:limit]


def export_request_get_for_user(*, user, pk: int):
    """An export request the user asked for or may decide on, else 404."""
    if not (user and user.is_authenticated):
        raise Http404
    visible = Q(requested_by=user)
    if user.role == Role.MANAGER:
        visible |= Q(stores__in=user.stores.values("id"))
    try:
        return ExportRequest.objects.filter(visible).distinct().get(pk=pk)
    except (ExportRequest.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


# --- the audit page -----------------------------------------------------------------------------


def audit_log_for_user(
    *,
    user,
    actor: str = "",
    action: str = "",
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
):
    """Audit rows of the user's stores (the rows of staff working there; every row for staff
    granted the whole group), newest first, narrowed by actor (username or name), action and
    local dates (both included)."""
    rows = AuditLog.objects.select_related("actor")
    store_ids = visible_store_ids(user)
    if store_ids is not None:
        staff = User.stores.through.objects.filter(store_id__in=store_ids).values("user_id")
        rows = rows.filter(actor_id__in=staff)
    if actor:
        rows = rows.annotate(actor_name=Concat("actor__last_name", "actor__first_name")).filter(
            Q(actor__username__icontains=actor) | Q(actor_name__icontains=actor)
        )
    if action:
        rows = rows.filter(action=action)
    if date_from:
        rows = rows.filter(at__gte=local_midnight(date_from))
    if date_to:
        rows = rows.filter(at__lt=local_midnight(date_to + datetime.timedelta(days=1)))
    return rows.order_by("-at", "-id")


# --- stores -------------------------------------------------------------------------------------


def store_for_code(code: str | None):
    """The store of that code (None for no code); ApplicationError for a code no store has."""
    if not code:
        return None
    try:
        return Store.objects.get(code=code)
    except Store.DoesNotExist:
        raise ApplicationError(gettext("Unknown store code: %(code)s") % {"code": code}) from None


# --- staff of record ----------------------------------------------------------------------------

USER_TABLE = User._meta.db_table
USER_STORES_TABLE = User.stores.through._meta.db_table


def staff_of_record_sql(*, name: str, store: str) -> str:
    """SQL of the member of staff a DMS name (``Vehicle.sales_consultant``, ``RepairOrder.service_advisor``)
    stands for in a store: the one active user of the store (``User.stores``) whose full name (family
    name first, no space: ``get_full_name``) or username equals the trimmed name. NULL when the name is
    blank, or when nobody or several people answer to it (the task then goes to the store's queue).
    ``name`` and ``store`` are SQL expressions (a column, a parameter); no parameters of its own."""
    return f"""(
        SELECT CASE WHEN count(*) = 1 THEN min(staff.id) END
        FROM {USER_TABLE} staff
        JOIN {USER_STORES_TABLE} staff_store ON staff_store.user_id = staff.id AND staff_store.store_id = {store}
        WHERE staff.is_active AND btrim({name}) <> ''
          AND (staff.username = btrim({name}) OR btrim(staff.last_name || staff.first_name) = btrim({name}))
    )"""


def staff_of_record(*, store_id: int, name: str):
    """The member of staff a DMS name stands for in a store, by the rule of ``staff_of_record_sql``
    (the same SQL, for one name): a ``User``, or None when nobody or several answer to it."""
    from django.db import connection

    from crm.models import User

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {staff_of_record_sql(name='%(name)s', store='%(store)s')}", {"name": name or "", "store": store_id}
        )
        user_id = cursor.fetchone()[0]
    return User.objects.filter(pk=user_id).first() if user_id else None


def staff_still_in_store_sql(*, user: str, store: str) -> str:
    """SQL: whether user ``user`` is active and still a member of store ``store`` (SQL expressions)."""
    return f"""EXISTS (
        SELECT 1 FROM {USER_TABLE} staff
        JOIN {USER_STORES_TABLE} staff_store ON staff_store.user_id = staff.id AND staff_store.store_id = {store}
        WHERE staff.id = {user} AND staff.is_active
    )"""
