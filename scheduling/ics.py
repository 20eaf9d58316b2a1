"""Calendar invites for a booking, built with icalendar (never by string templates).

UID is stable for the booking's life and SEQUENCE is the booking's; a moved booking is a new
REQUEST with a higher SEQUENCE, a cancelled one a CANCEL with STATUS:CANCELLED.
"""

import hashlib
from datetime import UTC, timedelta
from email.utils import parseaddr

from django.conf import settings
from icalendar import Alarm, Calendar, Event, vCalAddress, vText

from scheduling.models import Booking, BookingStatus

WHAT_TO_HAVE_READY = (
    "Have a government-issued photo ID at hand. The call takes about three minutes. "
    "Nothing about your appearance is recorded, and no recording or image of the call is kept."
)


def join_url(booking: Booking) -> str:
    return settings.JOIN_URL_TEMPLATE.format(token=booking.join_token)


def phone_route(booking: Booking) -> dict[str, str] | None:
    """The dial-in route (no webcam needed), when a number is configured."""
    if not settings.DIAL_IN_NUMBER:
        return None
    return {"number": settings.DIAL_IN_NUMBER, "pin": booking.dial_in_pin}


def presence_code(booking: Booking) -> str:
    """A short code shown on the freelancer's page during the call; the representative's checklist
    asks them to read it out, which shows the person on the call holds the link."""
    digest = hashlib.sha256(f"presence:{booking.join_token}".encode()).hexdigest()
    return f"{int(digest, 16) % 10_000:04d}"


def call_is_on(booking: Booking, *, now) -> bool:
    """From five minutes before the start until the slot ends."""
    return booking.starts_at - timedelta(minutes=5) <= now < booking.ends_at + timedelta(minutes=10)


def call_ends_at(booking: Booking):
    return booking.starts_at + timedelta(minutes=settings.CALL_MINUTES)


def booking_uid(booking: Booking) -> str:
    """The UID of the booking's event everywhere: the freelancer's invite and the representative's
    own calendar (`scheduling.services.calendar_writes`)."""
    return f"{booking.id}@verification-calls"


def invite_method(booking: Booking) -> str:
    return "CANCEL" if booking.status == BookingStatus.CANCELLED else "REQUEST"


def booking_invite(booking: Booking) -> bytes:
    method = invite_method(booking)
    calendar = Calendar()
    calendar.add("prodid", "-//Verification-call scheduler//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)

    event = Event()
    event.add("uid", booking_uid(booking))
    event.add("sequence", booking.sequence)
    event.add("dtstamp", booking.updated_at.astimezone(UTC))
    event.add("dtstart", booking.starts_at.astimezone(UTC))
    event.add("dtend", call_ends_at(booking).astimezone(UTC))
    event.add("summary", "Identity verification call (about 3 minutes)")
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("location", join_url(booking))
    lines = [f"Join by video: {join_url(booking)}"]
    phone = phone_route(booking)
    if phone:
        lines.append(f"Or join by phone, no camera needed: {phone['number']}, PIN {phone['pin']}")
    lines += ["", WHAT_TO_HAVE_READY]
    if method == "CANCEL":
        lines = ["This call was cancelled. Book a new time from the link in your email."]
    event.add("description", "\n".join(lines))

    organizer_name, organizer_email = parseaddr(settings.DEFAULT_FROM_EMAIL)
    organizer = vCalAddress(f"mailto:{organizer_email}")
    organizer.params["cn"] = vText(organizer_name or "Verification team")
    event["organizer"] = organizer
    attendee = vCalAddress(f"mailto:{booking.attendee_email}")
    attendee.params["cn"] = vText(booking.attendee_name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText("ACCEPTED")
    event.add("attendee", attendee, encode=0)

    if method == "REQUEST":
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", "Identity verification call in 10 minutes")
        alarm.add("trigger", timedelta(minutes=-10))
        event.add_component(alarm)
    calendar.add_component(event)
    return calendar.to_ical()
