"""The OpenAPI schema's naming: serializers nested in an API view (HackSoft's `InputSerializer` /
`OutputSerializer` per operation) are named after their view, so every component is unique
(`CaseCreateApi.InputSerializer` -> `CaseCreateInput`). Every operation also documents the error
answers it can give (400/401/403/404/409/429), all in the one shape of `verify_site.exceptions`."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """Every API error: a stable `code`, a human `detail`; `fields` for invalid input, `retry_after`
    (seconds) for 429 and some 409s; a domain error may add facts of its own (e.g. `next_free_times`)."""

    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(child=serializers.JSONField(), required=False,
                                   help_text="Invalid input: messages by field name (nested for nested fields).")
    retry_after = serializers.IntegerField(required=False, help_text="Seconds to wait (also `Retry-After`).")


ERROR_RESPONSES = {
    400: "Invalid input (`code` `invalid`, see `fields`), malformed or too deeply nested JSON (`malformed_json`), "
         "or a domain rule (e.g. `in_the_past`).",
    401: "Missing, wrong, revoked or expired credentials (`not_authenticated`, `authentication_failed`, "
         "`link_expired`).",
    403: "The credentials may not do this (`permission_denied`, `forbidden`).",
    404: "Not found (`not_found`, `booking_not_found`, ...).",
    409: "Conflicts with the current state (`slot_taken`, `already_booked`, `reschedule_limit_reached`, "
         "`change_too_soon`, `illegal_transition`, ...).",
    429: "Too many requests (`throttled`): wait `Retry-After` seconds (docs/security.md#limits).",
}


class ViewScopedAutoSchema(AutoSchema):
    def get_serializer_name(self, serializer, direction) -> str:
        cls = serializer.__class__
        outer, _, inner = cls.__qualname__.rpartition(".")
        if outer and outer.endswith("Api"):
            return outer.removesuffix("Api") + inner.removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)

    def _get_response_bodies(self, direction="response"):
        """The operation's own answers (from `extend_schema`), then every error answer it lacks.
        Outside /api/v1/ (the calendar feed) the errors an operation documents get the error shape."""
        responses = super()._get_response_bodies(direction=direction)
        for status, response in responses.items():
            if status >= "400" and "content" not in response:
                responses[status] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=response.get("description", "")), status,
                    direction=direction)
        if self.path.startswith("/api/v1/"):
            for status, description in ERROR_RESPONSES.items():
                if str(status) not in responses:
                    responses[str(status)] = self._get_response_for_code(
                        OpenApiResponse(ErrorSerializer, description=description), str(status), direction=direction)
        return responses
