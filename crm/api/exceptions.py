from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from crm.api.throttling import SEARCH_THROTTLED_MESSAGE
from crm.exceptions import ApplicationError


def exception_handler(exc, context):
    """Turn a refused business rule into a 400 with its message, like DRF's own validation errors."""
    if isinstance(exc, ApplicationError):
        exc = exceptions.ValidationError({"detail": exc.message, **exc.extra})
    elif isinstance(exc, exceptions.Throttled):
        exc = exceptions.Throttled(wait=exc.wait, detail=str(SEARCH_THROTTLED_MESSAGE))
    return drf_exception_handler(exc, context)
