"""The kinds of message, as data. Adding a kind: a row here and three templates in
templates/notifications/email/<kind>/ (subject.txt, body.txt, body.html).

`still_holds` returns why a message should be skipped (or None to send); it is asked right before
sending. `after_sent` runs in the transaction that records the message as sent, written before the
message is handed over and committed when the server accepts it (or rolled back if it does not);
apps that depend on notifications (verification) attach theirs with `on_sent`, explicitly, at
start-up.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from scheduling.models import Booking, BookingStatus
from scheduling.selectors import booking_active_for

from .models import OutboxMessage
from .webhooks import endpoint_active

Check = Callable[[OutboxMessage, datetime], str | None]
AfterSent = Callable[[OutboxMessage, datetime], None]


def _booking(message: OutboxMessage) -> Booking | None:
    return Booking.objects.filter(pk=message.subject.removeprefix("booking:")).first()


def booking_current(message: OutboxMessage, now: datetime) -> str | None:
    booking = _booking(message)
    if booking is None or booking.status != BookingStatus.ACTIVE:
        return "the booking was cancelled"
    if booking.sequence != message.version:
        return "the booking was moved; a newer message covers it"
    return None


def reminder_holds(message: OutboxMessage, now: datetime) -> str | None:
    reason = booking_current(message, now)
    if reason:
        return reason
    if _booking(message).starts_at <= now:
        return "the call has already started"
    return None


def cancellation_current(message: OutboxMessage, now: datetime) -> str | None:
    booking = _booking(message)
    if booking is None or booking.status != BookingStatus.CANCELLED or booking.sequence != message.version:
        return "the booking is no longer cancelled at this version"
    return None


def not_booked(message: OutboxMessage, now: datetime) -> str | None:
    return "a call is booked" if booking_active_for(case_ref=message.case_ref) else None


def notice_deadline(message: OutboxMessage, now: datetime) -> dict:
    """The grace period starts when the notice is actually sent: now."""
    return {"deadline_at": (now + timedelta(days=message.context["grace_days"])).isoformat()}


@dataclass
class Kind:
    name: str
    still_holds: Check | None = None
    invite: bool = False  # attach the booking's calendar invite
    extra_context: Callable[[OutboxMessage, datetime], dict] | None = None  # computed when sent
    channel: str = "email"  # or "webhook"
    after_sent: list[AfterSent] = field(default_factory=list)


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in [
        Kind("notice", extra_context=notice_deadline),
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
        Kind("new_link"),
        Kind("rep_no_show"),
        Kind("rep_agenda"),
        Kind("webhook", still_holds=endpoint_active, channel="webhook"),
    ]
}


def kind_for(message: OutboxMessage) -> Kind:
    return KINDS[message.base_kind]


def on_sent(kind: str, hook: AfterSent) -> None:
    """Attach a step to run when a message of this kind has been sent (idempotent)."""
    if hook not in KINDS[kind].after_sent:
        KINDS[kind].after_sent.append(hook)
