"""OpenAPI schema: every operation documents the error answers it can give, with their bodies.

- 400: a request body, a filter or a page parameter that does not validate (``{"field": ["…"]}``,
  or ``{"detail": "…"}`` for a refused business rule or a NUL character in any parameter, which
  crm.input_guard refuses for every operation);
- 401 / 403: the default-deny policy (not logged in; logged in, but the role may not);
- 404: no such object in the caller's stores, or a page past the end of a list;
- 429: too many requests (the throttles).
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


# DRF's validation errors: each field (or ``non_field_errors`` / ``detail``) with its messages; a
# nested serializer nests the same shape.
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "additionalProperties": {
        "anyOf": [
            {"type": "string"},
            {"type": "array", "items": {}},
            {"type": "object"},
        ]
    },
}


class CrmAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        extra = {"400": OpenApiResponse(VALIDATION_ERROR_SCHEMA, description="The input does not validate.")}
        extra["401"] = OpenApiResponse(ErrorSerializer, description="Not authenticated.")
        extra["403"] = OpenApiResponse(ErrorSerializer, description="Authenticated, but the role may not do this.")
        if self._is_retrieve_or_update():
            extra["404"] = OpenApiResponse(ErrorSerializer, description="No such object in your stores.")
        elif self._is_paginated_list():
            extra["404"] = OpenApiResponse(ErrorSerializer, description="No such page.")
        extra["429"] = OpenApiResponse(ErrorSerializer, description="Too many requests; try again later.")
        for status_code, response in extra.items():
            if status_code not in responses:
                responses[status_code] = self._get_response_for_code(response, status_code)
        return responses

    def _is_retrieve_or_update(self) -> bool:
        return "{" in self.path

    def _is_paginated_list(self) -> bool:
        return self.method == "GET" and self._is_list_view() and self._get_paginator() is not None
