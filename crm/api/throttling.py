"""API searches count against a per-user rate (``RATE_LIMIT_SEARCH``), like the search pages."""

from django.utils.translation import gettext_lazy as _
from rest_framework.throttling import UserRateThrottle


class SearchRateThrottle(UserRateThrottle):
    """Only requests with a ``search`` parameter count; the rate is in the cache (Redis)."""

    scope = "search"

    def allow_request(self, request, view):
        if not request.query_params.get("search", "").strip():
            return True
        return super().allow_request(request, view)


SEARCH_THROTTLED_MESSAGE = _("Too many searches in a short time. Please wait a minute and try again.")
