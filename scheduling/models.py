import hashlib
import secrets
import uuid
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
    can_take_phone_calls = models.BooleanField(default=True)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.display_name

    @property
    def language_codes(self) -> list[str]:
        return [language.code for language in self.languages.all()]


class RepresentativeLanguage(models.Model):
    """A language a representative holds calls in (a row each, so availability can filter by it)."""

    representative = models.ForeignKey(Representative, on_delete=models.CASCADE, related_name="languages")
    code = models.CharField(max_length=16, help_text="Language tag, e.g. en or pt-BR.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["representative", "code"], name="rep_language_once")]

    def __str__(self) -> str:
        return self.code


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


class Slot(models.Model):
    """A bookable period [starts_at, ends_at) of one representative: the call plus its buffer.

    Materialized from working hours for a rolling horizon. `is_booked` is claimed with a
    conditional UPDATE, so two bookings can never take the same slot.
    """

    # no index of its own: slot_once_per_rep_and_start starts with it (one index fewer to write per claim)
    representative = models.ForeignKey(Representative, on_delete=models.CASCADE, related_name="slots",
                                       db_index=False)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    is_booked = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["representative", "starts_at"], name="slot_once_per_rep_and_start"),
            models.CheckConstraint(condition=Q(starts_at__lt=F("ends_at")), name="slot_starts_before_ends"),
        ]
        indexes = [
            models.Index(fields=["starts_at", "representative"], name="slot_free_start_idx",
                         condition=Q(is_booked=False)),
            # freeze guard 5 counts the distinct start times of a window, free or taken, up to a minimum
            models.Index(fields=["starts_at"], name="slot_start_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.representative} {self.starts_at:%Y-%m-%d %H:%M}Z"


class BookingStatus(models.TextChoices):
    ACTIVE = "ACTIVE", _("Booked")
    CANCELLED = "CANCELLED", _("Cancelled")
    DONE = "DONE", _("Call held")


class Displacement(models.TextChoices):
    """What the system did to a booking whose representative became unavailable."""

    MOVED = "MOVED", _("Moved to another representative at the same time")
    CANCELLED = "CANCELLED", _("Cancelled: no representative free at that time")


def _join_token() -> str:
    return secrets.token_urlsafe(24)


def _dial_in_pin() -> str:
    return f"{secrets.randbelow(10**8):08d}"


class Booking(models.Model):
    """A freelancer's call with one representative. Moves keep the row, its UID and join details;
    every change increments `sequence` (the calendar invite's SEQUENCE).

    On PostgreSQL an exclusion constraint (migration 0003) also forbids two ACTIVE bookings of one
    representative whose [starts_at, ends_at) ranges overlap.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case_ref = models.UUIDField(help_text="The verification case this booking is for.")
    # no index of its own: booking_rep_start_idx starts with it (one index fewer to write per booking)
    representative = models.ForeignKey(Representative, on_delete=models.PROTECT, related_name="bookings",
                                       db_index=False)
    slot = models.ForeignKey(Slot, null=True, blank=True, on_delete=models.SET_NULL, related_name="bookings")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(help_text="End of the slot (call plus buffer).")
    status = models.CharField(max_length=12, choices=BookingStatus.choices, default=BookingStatus.ACTIVE)
    attendee_email = models.EmailField()
    attendee_name = models.CharField(max_length=200)
    language = models.CharField(max_length=16, blank=True, help_text="Asked-for call language, if any.")
    phone = models.BooleanField(default=False, help_text="Asked for a representative who takes phone calls.")
    join_token = models.CharField(max_length=64, unique=True, default=_join_token, editable=False)
    dial_in_pin = models.CharField(max_length=8, default=_dial_in_pin, editable=False)
    sequence = models.PositiveIntegerField(default=0)
    cancel_reason = models.CharField(max_length=40, blank=True)
    displacement = models.CharField(max_length=12, choices=Displacement.choices, blank=True)
    displaced_at = models.DateTimeField(null=True, blank=True)
    displacement_handled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["slot"], condition=Q(status="ACTIVE"), name="booking_one_active_per_slot"),
            models.UniqueConstraint(fields=["case_ref"], condition=Q(status="ACTIVE"),
                                    name="booking_one_active_per_case"),
            models.CheckConstraint(condition=Q(starts_at__lt=F("ends_at")), name="booking_starts_before_ends"),
        ]
        indexes = [
            models.Index(fields=["representative", "starts_at"], name="booking_rep_start_idx"),
            models.Index(fields=["representative", "starts_at"], name="booking_active_rep_start_idx",
                         condition=Q(status="ACTIVE")),  # least-loaded choice counts these
            models.Index(fields=["case_ref", "-created_at"], name="booking_case_latest_idx"),  # a case's bookings
            models.Index(fields=["displaced_at"], name="booking_displaced_idx",
                         condition=Q(displaced_at__isnull=False, displacement_handled_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.attendee_name} with {self.representative} at {self.starts_at:%Y-%m-%d %H:%M}Z"


def feed_token_hash(token: str) -> str:
    """What is stored of a calendar feed token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


class CalendarFeedToken(models.Model):
    """A representative's private calendar subscription (`/feeds/calendar/<token>.ics`).

    Only the SHA-256 of the token is stored; the token itself is shown once, when it is made.
    Rotating revokes the current row and makes a new one, so the rows are also the record of who
    made or revoked a feed link and when. At most one live (unrevoked) row per representative.
    """

    representative = models.ForeignKey(Representative, on_delete=models.CASCADE, related_name="feed_tokens")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=200)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["representative"], condition=Q(revoked_at__isnull=True),
                                    name="feed_token_one_live_per_rep"),
        ]

    def __str__(self) -> str:
        state = f"revoked {self.revoked_at:%Y-%m-%d %H:%M}Z" if self.revoked_at else "live"
        return f"Calendar feed of {self.representative} ({state})"


# --- representatives' own calendars (docs/calendars.md) -----------------------------------------

class CalendarKind(models.TextChoices):
    CALDAV = "CALDAV", _("CalDAV calendar (busy times read, calls written)")
    ICAL = "ICAL", _("Private iCal address (busy times only)")


class CalendarConnection(models.Model):
    """A representative's own calendar: its busy events block their slots, and (CalDAV) each booked
    call is written into it. The password (CalDAV) or the private address (iCal) is encrypted with
    CALENDAR_CREDENTIALS_KEY (`scheduling.calendars.secrets`) and never shown back.

    `stale` is set when a sync failed (server down, slow, garbage): the last busy times are kept
    and `last_good_sync_at` says how old they are."""

    representative = models.OneToOneField(Representative, on_delete=models.CASCADE, related_name="calendar")
    kind = models.CharField(max_length=8, choices=CalendarKind.choices)
    address = models.CharField(max_length=500, help_text="CalDAV: the server URL given; iCal: its host only.")
    calendar_url = models.CharField(max_length=500, blank=True, help_text="CalDAV: the calendar collection found.")
    username = models.CharField(max_length=200, blank=True)
    secret = models.TextField(help_text="Encrypted: the password (CalDAV) or the private address (iCal).")
    sync_token = models.TextField(blank=True)
    stale = models.BooleanField(default=False)
    last_error = models.CharField(max_length=300, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_good_sync_at = models.DateTimeField(null=True, blank=True)
    busy_until = models.DateTimeField(null=True, blank=True, help_text="The busy times stored cover the "
                                      "calendar until then (recomputed when the calendar changes or the window rolls).")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(kind__in=["CALDAV", "ICAL"]), name="calendar_kind_known")]

    def __str__(self) -> str:
        return f"{self.representative}: {self.get_kind_display()} ({self.address})"


class CalendarObject(models.Model):
    """The timing of one calendar object (its events' start, end, recurrence, status and
    transparency; never titles, places, notes or people), kept so a sync can fetch only what changed
    and still expand every recurring event over the rolling booking window."""

    connection = models.ForeignKey(CalendarConnection, on_delete=models.CASCADE, related_name="calendar_objects")
    href = models.CharField(max_length=500)
    data = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "href"], name="calendar_object_once")]

    def __str__(self) -> str:
        return self.href


class BusyTime(models.Model):
    """A period [starts_at, ends_at) the representative's own calendar marks busy, within the
    booking window: no free slot overlaps one."""

    representative = models.ForeignKey(Representative, on_delete=models.CASCADE, related_name="busy_times")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(starts_at__lt=F("ends_at")), name="busy_starts_before_ends")]
        indexes = [models.Index(fields=["representative", "starts_at"], name="busy_rep_start_idx")]

    def __str__(self) -> str:
        return f"{self.representative_id} busy {self.starts_at:%Y-%m-%d %H:%M}Z"


class CalendarAuditEvent(models.Model):
    """Append-only: calendars connected, disconnected, calls handed over (who, what, when)."""

    representative = models.ForeignKey(Representative, on_delete=models.PROTECT, related_name="calendar_audit")
    at = models.DateTimeField()
    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=60)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Calendar audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Calendar audit events are append-only.")


class BookingCalendarEntry(models.Model):
    """Where a booking's event was written (a representative's CalDAV calendar), so a move to a
    colleague deletes it from the first calendar."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="calendar_entries")
    representative = models.ForeignKey(Representative, on_delete=models.CASCADE, related_name="+")
    calendar_url = models.CharField(max_length=500)
    sequence = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["booking", "representative"], name="booking_entry_once")]

    def __str__(self) -> str:
        return f"{self.booking_id} in {self.calendar_url}"
