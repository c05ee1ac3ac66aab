"""OpenAPI schema: every operation documents the 401 and 403 answers of the default-deny policy."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class CrmAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        extra = {
            "401": OpenApiResponse(ErrorSerializer, description="Not authenticated."),
            "403": OpenApiResponse(ErrorSerializer, description="Authenticated, but the role may not do this."),
        }
        if self._is_retrieve_or_update():
            extra["404"] = OpenApiResponse(ErrorSerializer, description="No such object in your stores.")
        elif self.method == "GET" and self._is_list_view():
            extra["429"] = OpenApiResponse(ErrorSerializer, description="Too many searches: wait a minute.")
        for status_code, response in extra.items():
            if status_code not in responses:
                responses[status_code] = self._get_response_for_code(response, status_code)
        return responses

    def _is_retrieve_or_update(self) -> bool:
        return "{" in self.path
