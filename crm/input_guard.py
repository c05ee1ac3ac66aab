"""Input no part of the CRM can store: a NUL character in a text parameter.

PostgreSQL refuses NUL (0x00) in text, so a NUL anywhere a view or a query passes a parameter on —
a webhook's JSON, an API filter — was a server error. Django's form fields and DRF's serializers
refuse it with a message, but not every input goes through one (webhook payloads, API filters and
list pages' searches read from the query string). This refuses it once, for every request, with a
400: a JSON error for the API and machine callers, a list page without the offending parameter and
a message for a browser's GET."""

import json

from django.contrib import messages
from django.core.validators import ProhibitNullCharactersValidator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _

NUL = "\x00"


def contains_nul(value) -> bool:
    """Whether a decoded parameter, or any key or value of a JSON document, holds a NUL."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False


def _query_holds_nul(query) -> bool:
    """Whether any key or value of a QueryDict (GET or POST) holds a NUL."""
    return any(contains_nul(key) or contains_nul(values) for key, values in query.lists())


def _json_body(request: HttpRequest):
    try:
        return json.loads(request.body or b"null")
    except ValueError:  # not JSON after all (or not UTF-8): the view says so
        return None


def _is_page_read(request: HttpRequest) -> bool:
    return request.method in ("GET", "HEAD") and not request.path.startswith("/api/")


def _without_nul_parameters(request: HttpRequest) -> list[str]:
    """Drop the query parameters holding a NUL (a page's search box, its filters); their names."""
    names = [key for key, values in request.GET.lists() if contains_nul(key) or contains_nul(values)]
    if names:
        query = request.GET.copy()
        for name in names:
            del query[name]
        request.GET = query
    return names


def request_holds_nul(request: HttpRequest) -> bool:
    """A NUL in the query string of an API call, or in the body of any write."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return request.path.startswith("/api/") and _query_holds_nul(request.GET)
    if _query_holds_nul(request.GET):
        return True
    if request.content_type == "application/json":
        return contains_nul(_json_body(request))
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        # The form fields only: an uploaded file's bytes are the importer's to judge.
        return _query_holds_nul(request.POST)
    return False


def _wants_a_page(request: HttpRequest) -> bool:
    """A browser's form; the API and machine callers (webhooks) get JSON."""
    return not request.path.startswith("/api/") and "text/html" in request.headers.get("Accept", "")


class RefuseNulCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _is_page_read(request) and _without_nul_parameters(request):
            # A list page is still shown, without the search or filter that held the NUL, and says
            # why (Django's own words for a NUL in a form field); the status says it was refused.
            messages.error(request, ProhibitNullCharactersValidator.message)
            response = self.get_response(request)
            if response.status_code == 200:
                response.status_code = 400
            return response
        if request_holds_nul(request):
            message = _("The request contains a NUL character (0x00), which no field accepts.")
            if _wants_a_page(request):
                return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
            return JsonResponse({"detail": message}, status=400)
        return self.get_response(request)
