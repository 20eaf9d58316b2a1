"""Every API error is JSON `{"code", "detail", "fields"?}` with a stable code."""

import logging
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from scheduling.errors import DomainError

logger = logging.getLogger(__name__)

_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "malformed_json",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.Throttled: "throttled",
    exceptions.ValidationError: "invalid",
}


def _flatten(detail: Any) -> Any:
    """ValidationError detail -> plain lists of messages, nested by field."""
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _rendered(value: Any) -> Any:
    """A domain error's extra data as the API renders it: instants as UTC ISO 8601 (`...Z`)."""
    if isinstance(value, datetime):
        return serializers.DateTimeField().to_representation(value)
    if isinstance(value, list | tuple):
        return [_rendered(item) for item in value]
    if isinstance(value, dict):
        return {key: _rendered(item) for key, item in value.items()}
    return value


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        body = {"code": exc.code, "detail": str(exc.detail), **_rendered(exc.extra)}
        return Response(body, status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer 500
    code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "error")
    custom = getattr(exc.detail, "code", None) if isinstance(exc, exceptions.APIException) else None
    if custom and custom != getattr(exc, "default_code", None):
        code = custom  # raised with an explicit code, e.g. link_expired
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if isinstance(fields, list):
            fields = {"non_field_errors": fields}
        response.data = {
            "code": code,
            "detail": _("Some fields are missing or invalid; see `fields`."),
            "fields": fields,
        }
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        response.data = {"code": code, "detail": str(detail)}
        if isinstance(exc, exceptions.Throttled):
            response.data["retry_after"] = int(response.headers.get("Retry-After", 0))  # seconds, as the header
    return response


def json_not_found(request, exception=None) -> JsonResponse:
    return JsonResponse({"code": "not_found", "detail": _("Not found.")}, status=status.HTTP_404_NOT_FOUND)


def json_server_error(request) -> JsonResponse:
    return JsonResponse(
        {"code": "server_error", "detail": _("Something went wrong on our side; it has been logged.")},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
