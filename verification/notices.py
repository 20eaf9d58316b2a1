"""Which messages each change of a case makes. Called by the services, inside their transaction,
so a message exists exactly when the change that causes it was committed."""

from datetime import datetime, timedelta

from notifications.services import outbox_context_update_pending, outbox_enqueue, outbox_skip_pending
from scheduling.ics import join_url, phone_route
from scheduling.models import Booking
from verification.links import freelancer_url
from verification.models import Case
from verification.selectors import iso


def _case_context(case: Case) -> dict:
    return {
        "first_name": case.freelancer.first_name,
        "timezone": case.freelancer.timezone,
        "reason_category": str(case.get_reason_code_display()),
        "public_reason": case.public_reason,
        "link": freelancer_url(case),
        "grace_days": case.policy.get("grace_days", 7),
        "deadline_at": iso(case.deadline_at),
    }


def _booking_context(case: Case, booking: Booking) -> dict:
    return {
        **_case_context(case),
        "starts_at": iso(booking.starts_at),
        "join_url": join_url(booking),
        "phone": phone_route(booking),
        "representative": booking.representative.display_name,
    }


def _enqueue(case: Case, *, kind: str, subject: str, now: datetime, due_at: datetime | None = None,
             version: int = 0, context: dict) -> None:
    outbox_enqueue(kind=kind, subject=subject, version=version, case_ref=case.id, recipient=case.freelancer.email,
                   due_at=due_at or now, now=now, context=context)


def notice(case: Case, *, now: datetime) -> None:
    _enqueue(case, kind="notice", subject=f"case:{case.id}", now=now, context=_case_context(case))


def deadline_warnings(case: Case, *, now: datetime) -> None:
    """Warnings at the policy's offsets before the (current) deadline; older ones are dropped. An
    offset already past (a short extension) is sent now: nobody is frozen without every warning."""
    outbox_skip_pending(case_ref=case.id, kinds=["deadline_warning"], reason="the deadline changed", now=now)
    for hours in case.policy.get("warning_offsets_hours", [72, 24]):
        due = max(case.deadline_at - timedelta(hours=hours), now)
        _enqueue(case, kind=f"deadline_warning:{hours}", subject=f"case:{case.id}", due_at=due, now=now,
                 version=int(case.deadline_at.timestamp()), context=_case_context(case))


def booking_made(case: Case, booking: Booking, *, kind: str, now: datetime) -> None:
    """Confirmation (or 'moved') with the invite, and reminders before the call; older messages
    about this booking are dropped."""
    subject = f"booking:{booking.id}"
    outbox_skip_pending(subject=subject, reason="the booking changed", now=now)
    context = _booking_context(case, booking)
    _enqueue(case, kind=kind, subject=subject, version=booking.sequence, now=now, context=context)
    for minutes in case.policy.get("reminder_offsets_minutes", [1440, 60, 10]):
        due = booking.starts_at - timedelta(minutes=minutes)
        if due > now:
            _enqueue(case, kind=f"reminder:{minutes}", subject=subject, version=booking.sequence, due_at=due,
                     now=now, context=context)


def booking_cancelled(case: Case, booking: Booking, *, by_us: bool, now: datetime) -> None:
    subject = f"booking:{booking.id}"
    outbox_skip_pending(subject=subject, reason="the booking was cancelled", now=now)
    _enqueue(case, kind="booking_cancelled_by_us" if by_us else "booking_cancelled", subject=subject,
             version=booking.sequence, now=now, context=_booking_context(case, booking))


def deadline_extended(case: Case, *, reason: str, now: datetime) -> None:
    _enqueue(case, kind="deadline_extended", subject=f"case:{case.id}", version=int(case.deadline_at.timestamp()),
             now=now, context={**_case_context(case), "reason": reason})
    deadline_warnings(case, now=now)


def closed_pending(case: Case, *, now: datetime) -> None:
    """Nothing pending about the case is sent any more (webhooks excepted)."""
    outbox_skip_pending(case_ref=case.id, reason=f"the case is {case.status.lower()}", now=now)


def message(case: Case, *, kind: str, now: datetime, context: dict | None = None) -> None:
    """A message about the change just made: keyed by the case's version, which every change moves
    up, so a second change (even within the same second, or with the same `now`) has its own."""
    _enqueue(case, kind=kind, subject=f"case:{case.id}", version=case.version, now=now,
             context={**_case_context(case), **(context or {})})


def new_link(case: Case, *, now: datetime) -> None:
    """The link was revoked and a new one issued: every message still waiting carries the new one,
    and of the 'new link' messages only the newest is sent (an older one still waiting is dropped;
    one already claimed for sending is dropped when it is sent: `notifications.kinds`)."""
    outbox_skip_pending(case_ref=case.id, kinds=["new_link"], reason="a newer link was issued", now=now)
    outbox_context_update_pending(case_ref=case.id, key="link", value=freelancer_url(case), now=now)
    message(case, kind="new_link", now=now)


def closed(case: Case, *, kind: str, now: datetime, context: dict | None = None) -> None:
    """The case ended: nothing pending about it is sent any more, then the closing message."""
    closed_pending(case, now=now)
    message(case, kind=kind, now=now, context=context)


def webhook(case: Case, *, event: str, now: datetime, data: dict | None = None) -> None:
    """Tell the marketplace; the event id is stable, so its receiver can de-duplicate. Keyed by the
    case's version, like `message`: two changes never share an event id, however close in time."""
    from notifications.webhooks import webhook_publish
    from verification.freeze import can_submit_proposals

    webhook_publish(
        event=event, case_ref=case.id, version=case.version, now=now,
        data={"case_id": str(case.id), "external_id": case.freelancer.external_id, "status": case.status,
              "deadline_at": iso(case.deadline_at), "can_submit_proposals": can_submit_proposals(case, now=now),
              **(data or {})},
    )
