import zoneinfo
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    """An IANA zone name, such as Europe/Berlin or Asia/Kolkata."""
    if value not in _zones():
        raise ValidationError(
            _("“%(value)s” is not an IANA time zone such as Europe/Berlin or Asia/Kolkata."),
            params={"value": value},
            code="unknown_timezone",
        )


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class Representative(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="representative")
    display_name = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    languages = models.JSONField(default=list, help_text='Language tags spoken on calls, e.g. ["en", "es"].')
    can_take_phone_calls = models.BooleanField(default=True)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.display_name


class WorkingHours(models.Model):
    """A weekly interval in the representative's own local time; several per day are fine."""

    representative = models.ForeignKey(Representative, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts = models.TimeField(help_text="Local time in the representative's zone.")
    ends = models.TimeField(help_text="Local time in the representative's zone.")

    class Meta:
        verbose_name_plural = "working hours"
        ordering = ["representative", "weekday", "starts"]
        constraints = [
            models.CheckConstraint(condition=Q(starts__lt=F("ends")), name="working_hours_starts_before_ends"),
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="working_hours_weekday_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts:%H:%M}–{self.ends:%H:%M}"


class TimeOff(models.Model):
    """A period [starts_at, ends_at) in which the representative takes no calls."""

    representative = models.ForeignKey(Representative, on_delete=models.CASCADE, related_name="time_off")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "time off"
        constraints = [
            models.CheckConstraint(condition=Q(starts_at__lt=F("ends_at")), name="time_off_starts_before_ends"),
        ]

    def __str__(self) -> str:
        return f"{self.representative}: {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%Y-%m-%d %H:%M}"
