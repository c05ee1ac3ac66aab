"""The retention dashboard (流失分析) for managers: the month-end states over 24 months, a month's
movement between states with churn and win-back rates, who was won back by what, and the customers
behind each figure; and satisfaction over time (满意度趋势)."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from crm.api.pagination import CappedCountPaginator
from crm.calendar import add_months
from customers.choices import CustomerState
from customers.forms import RetentionCustomersForm, RetentionFilterForm, SatisfactionTrendForm
from customers.selectors.satisfaction_trend import satisfaction_trend
from customers.selectors.win_backs import win_back_attribution
from customers.state_selectors import (
    STATES,
    WON_BACK_FROM,
    FigureCustomers,
    previous_state_label,
    retention_dashboard,
    retention_store_ids,
)
from customers.states import parse_month

PAGE_SIZE = 25


class FigurePaginator(CappedCountPaginator):
    """The API's rule for a long list (exact up to a cap, an estimate past it) with the count the
    customers behind a figure give themselves (customers.state_selectors.FigureCustomers)."""

    @cached_property
    def count(self) -> int:
        count = self.object_list.count()
        self.count_is_estimate = self.object_list.count_is_estimate
        return count


def _figure_url(*, store, month, previous: list[str], state: str, by: str = "") -> str:
    query = [("month", month.strftime("%Y-%m")), ("to", state)]
    query += [("previous", value or "none") for value in previous]
    if by:
        query.append(("by", by))
    if store:
        query.insert(0, ("store", store.pk))
    return f"{reverse('customers:retention_customers')}?{urlencode(query)}"


def _won_back_label(*, store_ids: list[int], month, key: str) -> str:
    """The name of the "won back by" figure ``key`` (blank for none)."""
    if not key:
        return ""
    attribution = win_back_attribution(store_ids=store_ids, month=month)
    names = {figure.key: figure.label for figure in [*attribution.sources, *attribution.agents]}
    return names.get(key, _("No customers"))


@login_required
@permission_required("customers.view_retention", raise_exception=True)
@require_GET
def retention_dashboard_view(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    query = request.GET.copy()
    if not query.get("month"):  # the month picker shows the month whose movement is on the page
        query["month"] = f"{add_months(today.replace(day=1), -1):%Y-%m}"
    form = RetentionFilterForm(query, user=request.user, today=today)
    valid = form.is_valid()
    store = form.cleaned_data.get("store") if valid else None
    month = form.cleaned_data["month"] if valid else form.default_month
    store_ids = retention_store_ids(user=request.user, store_id=store.pk if store else None)
    dashboard = retention_dashboard(store_ids=store_ids, month=month, today=today)
    movement = dashboard.movement
    rows = [
        {
            "row": row,
            "cells": [
                (state, count, _figure_url(store=store, month=month, previous=[row.previous_state], state=state))
                for state, count in row.cells
            ],
        }
        for row in movement.rows
    ]
    attribution = win_back_attribution(store_ids=store_ids, month=month)

    def won_back_rows(figures):
        return [
            (figure, _figure_url(store=store, month=month, previous=WON_BACK_FROM, state=CustomerState.ACTIVE,
                                 by=figure.key))
            for figure in figures
        ]  # fmt: skip

    chart = {
        "won_back": {
            "labels": [figure.label for figure in attribution.sources],
            "returns": [figure.returns for figure in attribution.sources],
            "revenue": [float(figure.revenue) for figure in attribution.sources],
            "names": {"returns": _("Customers won back"), "revenue": _("Revenue (yuan)")},
        },
        "months": [entry.month.strftime("%Y-%m") for entry in dashboard.months],
        "partial": [entry.partial for entry in dashboard.months],
        "active": [entry.active for entry in dashboard.months],
        "labels": {"active": _("Active owners"), "partial": _("month in progress")},
    }
    context = {
        "form": form,
        "dashboard": dashboard,
        "movement": movement,
        "rows": rows,
        "states": [CustomerState(state) for state in STATES],
        "won_back_url": _figure_url(store=store, month=month, previous=WON_BACK_FROM, state=CustomerState.ACTIVE),
        "chart": chart,
        "attribution": attribution,
        "won_back_sources": won_back_rows(attribution.sources),
        "won_back_agents": won_back_rows(attribution.agents),
    }
    return render(request, "customers/retention.html", context, status=200 if valid else 400)


@login_required
@permission_required("customers.view_retention", raise_exception=True)
@require_GET
def retention_customers_view(request: HttpRequest) -> HttpResponse:
    """The customers behind one figure of the movement of a month, a page at a time."""
    today = timezone.localdate()
    form = RetentionCustomersForm(request.GET, user=request.user, today=today)
    if not form.is_valid():
        context = {"form": form, "page": None}
        return render(request, "customers/retention_customers.html", context, status=400)
    data = form.cleaned_data
    store = data.get("store")
    back = [("store", store.pk)] if store else []
    store_ids = retention_store_ids(user=request.user, store_id=store.pk if store else None)
    customers = FigureCustomers(
        user=request.user,
        store_ids=store_ids,
        month=data["month"],
        previous_states=data["previous"],
        state=data["to"],
        search=data["q"].strip(),
        won_back_by=data["by"],
    )
    page = FigurePaginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "month": data["month"],
        "store": store,
        "state_label": CustomerState(data["to"]).label,
        "previous_labels": [previous_state_label(value) for value in data["previous"]],
        "won_back": sorted(data["previous"]) == sorted(WON_BACK_FROM) and data["to"] == CustomerState.ACTIVE,
        "dashboard_query": urlencode([*back, ("month", data["month"].strftime("%Y-%m"))]),
        "won_back_by": _won_back_label(store_ids=store_ids, month=data["month"], key=data["by"]),
    }
    return render(request, "customers/retention_customers.html", context)


@login_required
@permission_required("customers.view_retention", raise_exception=True)
@require_GET
def satisfaction_trend_view(request: HttpRequest) -> HttpResponse:
    """Satisfaction over time: the monthly average score and share dissatisfied per rule, store,
    advisor or consultant of record, and the period's distribution of scores."""
    today = timezone.localdate()
    query = request.GET.copy()  # the month pickers show the period on the page
    if not query.get("last"):
        query["last"] = f"{today:%Y-%m}"
    last = parse_month(query["last"])
    if not query.get("first") and last is not None:
        query["first"] = f"{add_months(last, -11):%Y-%m}"
    form = SatisfactionTrendForm(query, user=request.user, today=today)
    if not form.is_valid():
        return render(request, "customers/satisfaction.html", {"form": form, "trend": None}, status=400)
    data = form.cleaned_data
    store = data.get("store")
    trend = satisfaction_trend(
        store_ids=retention_store_ids(user=request.user, store_id=store.pk if store else None),
        first=data["first"],
        last=data["last"],
        grouping=data["by"],
        today=today,
    )
    search = data["q"].strip()
    groups = [group for group in trend.groups if search.lower() in group.label.lower()] if search else trend.groups
    page = Paginator(groups, PAGE_SIZE).get_page(request.GET.get("page"))
    for group in page.object_list:
        group.rows = group.month_figures(trend.months)

    def number(value):
        return None if value is None else float(value)

    chart = {
        "months": [entry.month.strftime("%Y-%m") for entry in trend.months],
        "partial": [entry.partial for entry in trend.months],
        "average": [number(entry.figures.average) for entry in trend.months],
        "share": [number(entry.figures.dissatisfied_share) for entry in trend.months],
        "groups": [
            {
                "label": group.label,
                "average": [number(figures.average) for _m, figures in group.month_figures(trend.months)],
            }
            for group in trend.chart_groups
        ],
        "distribution": [count for _score, count in trend.distribution],
        "labels": {
            "average": _("Average score (1–5)"),
            "share": _("Dissatisfied (%)"),
            "partial": _("month in progress"),
            "results": _("Results"),
            "score": _("Score"),
        },
    }
    context = {
        "form": form,
        "trend": trend,
        "page": page,
        "chart": chart,
        "grouping_label": dict(form.fields["by"].choices)[data["by"]],
        "first": data["first"],
        "last": data["last"],
    }
    return render(request, "customers/satisfaction.html", context)
