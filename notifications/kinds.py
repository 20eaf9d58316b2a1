"""The kinds of message, as data. Adding a kind: a row here and three templates in
templates/notifications/email/<kind>/ (subject.txt, body.txt, body.html).

`still_holds` returns why a message should be skipped (or None to send); it is asked right before
sending. What happens once a message was sent is not the outbox's business: the apps that wrote it
ask `notifications.selectors.messages_sent_at` (verification starts a grace period that way).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from scheduling.models import Booking, BookingStatus
from scheduling.selectors import booking_active_for, time_is_free

from .keys import booking_revision, booking_topic
from .models import OutboxMessage
from .webhooks import endpoint_active

Check = Callable[[OutboxMessage, datetime], str | None]


def booking_of(message: OutboxMessage) -> Booking | None:
    """The booking a booking message is about."""
    return Booking.objects.filter(pk=message.topic.removeprefix(booking_topic(""))).first()


def booking_current(message: OutboxMessage, now: datetime) -> str | None:
    booking = booking_of(message)
    if booking is None or booking.status != BookingStatus.ACTIVE:
        return "the booking was cancelled"
    if booking_revision(booking.sequence) != message.revision:
        return "the booking was moved; a newer message covers it"
    return None


def reminder_holds(message: OutboxMessage, now: datetime) -> str | None:
    reason = booking_current(message, now)
    if reason:
        return reason
    if booking_of(message).starts_at <= now:
        return "the call has already started"
    return None


def cancellation_current(message: OutboxMessage, now: datetime) -> str | None:
    booking = booking_of(message)
    if (booking is None or booking.status != BookingStatus.CANCELLED
            or booking_revision(booking.sequence) != message.revision):
        return "the booking is no longer cancelled at this version"
    return None


def not_booked(message: OutboxMessage, now: datetime) -> str | None:
    return "a call is booked" if booking_active_for(case_ref=message.case_ref) else None


def newest_of_its_kind(message: OutboxMessage, now: datetime) -> str | None:
    """Only the newest message of this kind about this topic is sent: a 'new link' message is
    made with every new link, in the same transaction, so a newer one means this link no longer
    works (its own message carries the one that does)."""
    newer = OutboxMessage.objects.filter(kind=message.kind, topic=message.topic, pk__gt=message.pk)
    return "a newer message of this kind replaces it" if newer.exists() else None


def earlier_time_open(message: OutboxMessage, now: datetime) -> str | None:
    """An earlier time offered to a freelancer is worth sending while it is still free (for their
    language and phone needs), far enough ahead to book, and earlier than their booked call."""
    starts_at = datetime.fromisoformat(message.context["starts_at"].replace("Z", "+00:00"))
    if starts_at - timedelta(minutes=settings.BOOKING_MIN_NOTICE_MINUTES) <= now:
        return "the time is too close now"
    booking = booking_active_for(case_ref=message.case_ref)
    if booking is None or booking.starts_at <= starts_at:
        return "the freelancer's call is no longer later than this time"
    if not time_is_free(starts_at=starts_at, language=booking.language, phone=booking.phone):
        return "the time was taken"
    return None


def booking_revision_current(message: OutboxMessage, now: datetime) -> str | None:
    """A calendar write writes the booking as it is when sent; one made for an older version of
    the booking is covered by the newer one's."""
    booking = booking_of(message)
    if booking is None:
        return "the booking is gone"
    if booking_revision(booking.sequence) != message.revision:
        return "the booking changed; a newer write covers it"
    return None


@dataclass(frozen=True)
class Kind:
    name: str
    still_holds: Check | None = None
    invite: bool = False  # attach the booking's calendar invite
    channel: str = "email"  # or "webhook", or "calendar" (the representative's own CalDAV calendar)


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in [
        Kind("notice"),
        Kind("booking_confirmed", still_holds=booking_current, invite=True),
        Kind("booking_moved", still_holds=booking_current, invite=True),
        Kind("booking_cancelled", still_holds=cancellation_current, invite=True),
        Kind("booking_cancelled_by_us", still_holds=cancellation_current, invite=True),
        Kind("reminder", still_holds=reminder_holds),
        Kind("deadline_warning", still_holds=not_booked),
        Kind("deadline_extended"),
        Kind("frozen"),
        Kind("verified"),
        Kind("not_verified"),
        Kind("withdrawn"),
        Kind("new_link", still_holds=newest_of_its_kind),
        Kind("rep_no_show"),
        Kind("rep_agenda"),
        Kind("earlier_time", still_holds=earlier_time_open),
        Kind("webhook", still_holds=endpoint_active, channel="webhook"),
        Kind("calendar_write", still_holds=booking_revision_current, channel="calendar"),
    ]
}


def kind_for(message: OutboxMessage) -> Kind:
    return KINDS[message.base_kind]
