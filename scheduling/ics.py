"""Calendar invites for a booking, built with icalendar (never by string templates).

UID is stable for the booking's life and SEQUENCE is the booking's; a moved booking is a new
REQUEST with a higher SEQUENCE, a cancelled one a CANCEL with STATUS:CANCELLED.
"""

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from icalendar import Alarm, Calendar, Event, vCalAddress, vDuration, vText

from scheduling.models import Booking, BookingStatus, Representative

WHAT_TO_HAVE_READY = gettext_lazy(
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
    asks them to read it out, which shows the person on the call holds the link.

    An HMAC of the booking with a server key (`PRESENCE_CODE_KEY`, else one derived from
    SECRET_KEY): nobody holding only the join URL (or the invite) can compute it."""
    digest = salted_hmac("scheduling.presence-code", f"{booking.id}", secret=settings.PRESENCE_CODE_KEY or None,
                         algorithm="sha256").hexdigest()
    return f"{int(digest, 16) % 10_000:04d}"


def call_is_on(booking: Booking, *, now) -> bool:
    """From five minutes before the start until the slot ends."""
    return booking.starts_at - timedelta(minutes=5) <= now < booking.ends_at + timedelta(minutes=10)


def call_ends_at(booking: Booking):
    return booking.starts_at + timedelta(minutes=settings.CALL_MINUTES)


def booking_uid(booking: Booking) -> str:
    """The event's UID, the same for the booking's whole life (moves keep it; SEQUENCE goes up) and
    everywhere: the freelancer's invite, the representative's feed and their own calendar
    (`scheduling.services.calendar_writes`)."""
    return f"{booking.id}@verification-calls"


def invite_method(booking: Booking) -> str:
    return "CANCEL" if booking.status == BookingStatus.CANCELLED else "REQUEST"


def booking_invite(booking: Booking) -> bytes:
    """The invite, its texts in the active language (the caller activates the case's)."""
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
    event.add("summary", _("Identity verification call (about 3 minutes)"))
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("location", join_url(booking))
    lines = [_("Join by video: %(url)s") % {"url": join_url(booking)}]
    phone = phone_route(booking)
    if phone:
        lines.append(_("Or join by phone, no camera needed: %(number)s, PIN %(pin)s") % phone)
    lines += ["", str(WHAT_TO_HAVE_READY)]
    if method == "CANCEL":
        lines = [_("This call was cancelled. Book a new time from the link in your email.")]
    event.add("description", "\n".join(lines))

    organizer_name, organizer_email = parseaddr(settings.DEFAULT_FROM_EMAIL)
    organizer = vCalAddress(f"mailto:{organizer_email}")
    organizer.params["cn"] = vText(organizer_name or _("Verification team"))
    event["organizer"] = organizer
    attendee = vCalAddress(f"mailto:{booking.attendee_email}")
    attendee.params["cn"] = vText(booking.attendee_name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText("ACCEPTED")
    event.add("attendee", attendee, encode=0)

    if method == "REQUEST":
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", _("Identity verification call in 10 minutes"))
        alarm.add("trigger", timedelta(minutes=-10))
        event.add_component(alarm)
    calendar.add_component(event)
    return calendar.to_ical()


def representative_feed(*, representative: Representative, bookings: Iterable[Booking], now: datetime,
                        console_url: Callable[[Booking], str]) -> bytes:
    """A representative's calendar subscription: their calls as a published calendar.

    Each call has its booking's UID and SEQUENCE (the freelancer's invite has the same), so a moved
    call is the same event at a new time, and a cancelled one stays a while as STATUS:CANCELLED so
    calendars that kept it strike it out. The freelancer is named by first name and the case
    reference only; no join link (it would let anyone holding the feed join the call): the
    console link, behind the staff login, has it."""
    calendar = Calendar()
    calendar.add("prodid", "-//Verification-call scheduler//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add("calscale", "GREGORIAN")
    refresh = timedelta(minutes=settings.CALENDAR_FEED_REFRESH_MINUTES)
    calendar.add("x-wr-calname", f"Verification calls ({representative.display_name})")
    calendar.add("name", f"Verification calls ({representative.display_name})")
    calendar.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(refresh))
    for booking in bookings:
        cancelled = booking.status == BookingStatus.CANCELLED
        first_name = feed_first_name(booking.attendee_name)
        reference = case_reference(booking.case_ref)
        event = Event()
        event.add("uid", booking_uid(booking))
        event.add("sequence", booking.sequence)
        event.add("dtstamp", now.astimezone(UTC))
        event.add("last-modified", booking.updated_at.astimezone(UTC))
        event.add("dtstart", booking.starts_at.astimezone(UTC))
        event.add("dtend", call_ends_at(booking).astimezone(UTC))
        event.add("summary", f"{'Cancelled: ' if cancelled else ''}Verification call: {first_name} (case {reference})")
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
        event.add("url", console_url(booking))
        lines = [f"Open the call in the console: {console_url(booking)}"]
        if booking.phone:
            lines.append("The freelancer asked to join by phone.")
        if cancelled:
            lines = ["This call was cancelled."]
        event.add("description", "\n".join(lines))
        calendar.add_component(event)
    return calendar.to_ical()


def feed_first_name(name: str) -> str:
    return name.split()[0] if name.strip() else "Freelancer"


def case_reference(case_ref) -> str:
    """How staff pages name a case in short: the first 8 hex digits of its id."""
    return str(case_ref)[:8]
