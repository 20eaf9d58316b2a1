"""The representatives' calendar feed: `GET /feeds/calendar/<token>.ics`, the token being the
secret (no login: calendar apps cannot log in). Unknown, rotated or revoked tokens get 404;
each token may be fetched CALENDAR_FEED_RATE times (429 with Retry-After beyond)."""

import logging

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from scheduling.ics import representative_feed
from scheduling.models import feed_token_hash
from scheduling.selectors import feed_bookings, representative_for_feed_token

logger = logging.getLogger(__name__)


class CalendarFeedThrottle(SimpleRateThrottle):
    """Per feed token (its hash: the token itself goes nowhere), on the shared cache (Redis), so
    every web process counts together. Not per address: Google and Microsoft fetch every
    subscriber's feed from a few shared addresses."""

    scope = "calendar_feed"

    def get_rate(self) -> str:
        return settings.CALENDAR_FEED_RATE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": feed_token_hash(view.kwargs.get("token", ""))}


class _JsonErrorsOnly(BaseContentNegotiation):
    """A calendar app asks for text/calendar; errors are JSON whatever it asked for."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


class CalendarFeedApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [CalendarFeedThrottle]
    content_negotiation_class = _JsonErrorsOnly

    @extend_schema(operation_id="calendar_feed", auth=[],
                   responses={(200, "text/calendar"): OpenApiResponse(description="The representative's calls."),
                              404: OpenApiResponse(description="Unknown, rotated or revoked token."),
                              429: OpenApiResponse(description="Fetched too often; see Retry-After.")})
    def get(self, request, token: str):
        now = timezone.now()
        representative = representative_for_feed_token(token=token)
        if representative is None:
            raise exceptions.NotFound("No such calendar feed. Make a new link in the console.")
        body = representative_feed(
            representative=representative, now=now,
            bookings=feed_bookings(representative_id=representative.pk, now=now),
            console_url=lambda booking: settings.PUBLIC_BASE_URL + reverse("console-call", args=[booking.id]),
        )
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Cache-Control"] = "private, no-store"
        response["Content-Disposition"] = 'inline; filename="verification-calls.ics"'
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        """A 404 or 429 here would be logged by Django as "Not Found: <path>", token included:
        log it without the token instead (and tell Django it was logged)."""
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400:
            logger.warning("calendar feed %s: /feeds/calendar/<token>.ics", response.status_code)
            response._has_been_logged = True  # django.utils.log.log_response skips it
        return response

