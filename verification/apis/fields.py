"""Input fields shared by the API's serializers."""

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from scheduling.models import validate_timezone


def timezone_name(value: str) -> None:
    """An IANA zone name, as the model validates it."""
    try:
        validate_timezone(value)
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages) from None


def within_a_year(value: date) -> None:
    """A date a person might ask about: within a year of today (far dates overflow zone arithmetic)."""
    today = timezone.now().date()
    if abs((value - today).days) > 366:
        raise serializers.ValidationError(
            f"Pick a date within a year of today ({today - timedelta(days=366)} to {today + timedelta(days=366)})."
        )


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 instant that must carry its UTC offset: a naive time is ambiguous."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                raise serializers.ValidationError(
                    _("Include the UTC offset, e.g. 2026-03-03T09:30:00+05:30 or 2026-03-03T04:00:00Z.")
                )
        return super().to_internal_value(value)
