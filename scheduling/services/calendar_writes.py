"""Each booked call written into its representative's own CalDAV calendar, moved and cancelled in
step. Run by the outbox (kind `calendar_write`), so a killed worker or a server that is down is
retried; the write is a PUT of the whole event at <calendar>/<booking id>.ics with the booking's UID
(the freelancer's invite carries the same one), so writing it twice leaves one event.

The event names the case reference and the freelancer's first name only."""

import zlib
from contextlib import contextmanager
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection as db
from django.urls import reverse
from icalendar import Calendar, Event

from scheduling.calendars.caldav_client import event_delete, event_put
from scheduling.calendars.secrets import secret_open
from scheduling.ics import booking_uid, call_ends_at
from scheduling.models import Booking, BookingCalendarEntry, BookingStatus, CalendarConnection, CalendarKind


def case_reference(booking: Booking) -> str:
    return booking.case_ref.hex[:8].upper()


def booking_event(booking: Booking, *, now: datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Verification-call scheduler//EN")
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", booking_uid(booking))
    event.add("sequence", booking.sequence)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", booking.starts_at.astimezone(UTC))
    event.add("dtend", call_ends_at(booking).astimezone(UTC))
    first_name = (booking.attendee_name.split() or ["freelancer"])[0]
    event.add("summary", f"Verification call: case {case_reference(booking)}, {first_name}")
    event.add("description", f"Open the call: {settings.PUBLIC_BASE_URL}{reverse('console-call', args=[booking.pk])}")
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    return calendar.to_ical()


@contextmanager
def _one_writer(booking_id) -> None:
    """One write of a booking at a time (a session advisory lock on PostgreSQL, held while the
    calendar server is spoken to, no transaction open): a writer that waited reads the booking
    again, so an older write never lands after a newer one."""
    if db.vendor != "postgresql":
        yield
        return
    key = zlib.crc32(f"calendar-write:{booking_id}".encode())
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        with db.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def _caldav(representative_id: int) -> CalendarConnection | None:
    return CalendarConnection.objects.filter(representative_id=representative_id, kind=CalendarKind.CALDAV).first()


def booking_calendar_write(*, booking_id, now: datetime) -> str:
    """Make the representatives' calendars show the booking as it is now: deleted from a calendar
    it was written to whose representative no longer has it, written (PUT) to its
    representative's calendar while it is booked or held, deleted when cancelled. Raises
    CalendarProblem when a server fails (the outbox retries). Returns what it did. Call it outside
    a transaction."""
    with _one_writer(booking_id):
        booking = Booking.objects.filter(pk=booking_id).first()
        if booking is None:
            return "gone"
        name = str(booking.pk)
        done = []
        for entry in BookingCalendarEntry.objects.filter(booking=booking):
            if entry.representative_id == booking.representative_id and booking.status != BookingStatus.CANCELLED:
                continue
            former = _caldav(entry.representative_id)
            if former is not None:
                event_delete(calendar_url=entry.calendar_url, username=former.username,
                             password=secret_open(former.secret), name=name)
            entry.delete()
            done.append("deleted")
        connection = _caldav(booking.representative_id)
        if connection is not None and booking.status != BookingStatus.CANCELLED:
            event_put(calendar_url=connection.calendar_url, username=connection.username,
                      password=secret_open(connection.secret), name=name, data=booking_event(booking, now=now))
            BookingCalendarEntry.objects.update_or_create(
                booking=booking, representative_id=booking.representative_id,
                defaults={"calendar_url": connection.calendar_url, "sequence": booking.sequence})
            done.append("written")
        return ", ".join(done) or "nothing to write"
