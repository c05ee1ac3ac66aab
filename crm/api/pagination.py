"""The API's pages: 50 rows by default, up to 500.

Counting every row of a big list on every page (an exact ``COUNT(*)`` over a million customers) is
what made the API's customer list slow for a whole group: the count is exact up to ``COUNT_CAP``
rows and, past that, PostgreSQL's own estimate of the list's size (``count_is_estimate`` says so).
The rows of a page are always exact; only the total is approximate, as a search engine's is.
"""

import json

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

COUNT_CAP = 10_000


def planner_row_estimate(queryset) -> int:
    """PostgreSQL's estimate of how many rows ``queryset`` returns (its plan's top row count), asked
    without its order: the rows are the same, and a sorted list of a whole group is planned as a
    parallel sort whose top node (Gather Merge) counts the workers' rows but not the leader's,
    5/6 of the rows on two workers (1,000,000 members shown as "about 833,332")."""
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class _Page(Page):
    def has_next(self) -> bool:
        # With an estimated total, a full page may be followed by more rows, whatever the estimate.
        if self.paginator.count_is_estimate:
            return len(self.object_list) == self.paginator.per_page
        return super().has_next()


class CappedCountPaginator(Paginator):
    """A paginator that counts exactly up to ``COUNT_CAP`` rows, and estimates past it. With an
    estimate, any page number is served (a page past the end is empty) and "next" follows full
    pages, so no row becomes unreachable when the estimate is low."""

    count_is_estimate = False

    def _get_page(self, *args, **kwargs) -> Page:
        return _Page(*args, **kwargs)

    def page(self, number) -> Page:
        number = self.validate_number(number)
        if not self.count_is_estimate:
            return super().page(number)
        bottom = (number - 1) * self.per_page  # never clamped to the estimate
        return self._get_page(self.object_list[bottom : bottom + self.per_page], number, self)

    def validate_number(self, number) -> int:
        if self.count and self.count_is_estimate:
            try:
                number = int(number)
            except (TypeError, ValueError):
                raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
            if number < 1:
                raise EmptyPage(self.error_messages["min_page"])
            return number
        return super().validate_number(number)

    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if not hasattr(object_list, "explain"):  # a list: its length is free
            return len(object_list)
        # Which rows are counted does not matter: no ordering.
        capped = object_list.order_by()[: COUNT_CAP + 1].count()
        if capped <= COUNT_CAP:
            return capped
        self.count_is_estimate = True
        return max(planner_row_estimate(object_list), capped)


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    django_paginator_class = CappedCountPaginator

    def get_paginated_response(self, data):
        return Response(
            {
                "count": self.page.paginator.count,
                "count_is_estimate": self.page.paginator.count_is_estimate,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count_is_estimate"] = {
            "type": "boolean",
            "description": "True when the list is longer than 10,000 rows and count is the database's estimate.",
            "example": False,
        }
        response["required"] = [*response.get("required", []), "count_is_estimate"]
        return response
