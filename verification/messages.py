"""Which messages each change of a case makes, for the freelancer (emails) and the marketplace
(webhooks). Called by the services inside their transaction, so a message exists exactly when the
change that causes it was committed. Each function names the message it writes; the keys of the
messages are built here (and, for the deadline warnings, in `verification.deadlines.rules`)."""

from datetime import datetime, timedelta
from typing import Any

from notifications.keys import MessageKey, booking_revision, booking_topic
from notifications.rendering import AfterSending
from notifications.services import (
    calendar_write_enqueue,
    outbox_context_update_pending,
    outbox_enqueue,
    outbox_skip_pending,
    webhook_publish,
)
from scheduling.ics import join_url, phone_route
from scheduling.models import Booking
from scheduling.selectors import booking_calendar_write_wanted
from verification.deadlines.guards import can_submit_proposals
from verification.deadlines.rules import case_topic, notice_key
from verification.links import freelancer_url
from verification.models import Case
from verification.selectors import iso


def change_revision(case: Case) -> str:
    """The revision of a message about the change just made: the case's revision, which every
    change moves up, so two changes never share a key, however close in time."""
    return f"case-rev-{case.version}"


def case_context(case: Case) -> dict[str, Any]:
    return {
        "first_name": case.freelancer.first_name,
        "timezone": case.freelancer.timezone,
        "reason_category": str(case.get_reason_code_display()),
        "public_reason": case.public_reason,
        "link": freelancer_url(case),
        "grace_days": case.policy.grace_days,
        "deadline_at": iso(case.deadline_at),
    }


def _booking_context(case: Case, booking: Booking) -> dict[str, Any]:
    return {
        **case_context(case),
        "starts_at": iso(booking.starts_at),
        "join_url": join_url(booking),
        "phone": phone_route(booking),
        "representative": booking.representative.display_name,
    }


def case_email_enqueue(case: Case, *, key: MessageKey, now: datetime, due_at: datetime | None = None,
                       context: dict[str, Any]) -> None:
    outbox_enqueue(key=key, case_ref=case.id, recipient=case.freelancer.email, due_at=due_at or now, now=now,
                   context=context)


def notice_enqueue(case: Case, *, grace: AfterSending, now: datetime) -> None:
    """The notice: why, by when (the grace period, counted from when this email is sent), the link."""
    case_email_enqueue(case, key=notice_key(case), now=now,
                       context={**case_context(case), "deadline_at": grace.as_context()})


def booking_messages_enqueue(case: Case, booking: Booking, *, kind: str, now: datetime) -> None:
    """Confirmation (or 'moved') with the invite, and reminders before the call; older messages
    about this booking are dropped."""
    topic = booking_topic(booking.id)
    outbox_skip_pending(topic=topic, reason="the booking changed", now=now)
    context = _booking_context(case, booking)
    revision = booking_revision(booking.sequence)
    case_email_enqueue(case, key=MessageKey(kind, topic, revision), now=now, context=context)
    for minutes in case.policy.reminder_offsets_minutes:
        due = booking.starts_at - timedelta(minutes=minutes)
        if due > now:
            case_email_enqueue(case, key=MessageKey(f"reminder:{minutes}", topic, revision), due_at=due, now=now,
                               context=context)
    representative_calendar_update(booking, now=now)


def representative_calendar_update(booking: Booking, *, now: datetime) -> None:
    """The call into the representative's own calendar (and out of a former one's), when there is one."""
    if booking_calendar_write_wanted(booking=booking):
        calendar_write_enqueue(booking_id=booking.id, representative_id=booking.representative_id,
                               sequence=booking.sequence, now=now)


def booking_cancellation_enqueue(case: Case, booking: Booking, *, by_us: bool, now: datetime) -> None:
    topic = booking_topic(booking.id)
    outbox_skip_pending(topic=topic, reason="the booking was cancelled", now=now)
    kind = "booking_cancelled_by_us" if by_us else "booking_cancelled"
    case_email_enqueue(case, key=MessageKey(kind, topic, booking_revision(booking.sequence)), now=now,
                       context=_booking_context(case, booking))
    representative_calendar_update(booking, now=now)


def case_email_for_change(case: Case, *, kind: str, now: datetime, context: dict[str, Any] | None = None,
                          due_at: datetime | None = None) -> None:
    """An email about the change just made to the case (frozen, verified, a new link, ...)."""
    case_email_enqueue(case, key=MessageKey(kind, case_topic(case), change_revision(case)), now=now, due_at=due_at,
                       context={**case_context(case), **(context or {})})


def pending_emails_drop(case: Case, *, now: datetime) -> None:
    """Nothing still waiting about the case is sent any more (webhooks excepted)."""
    outbox_skip_pending(case_ref=case.id, reason=f"the case is {case.status.lower()}", now=now)


def closing_email_enqueue(case: Case, *, kind: str, now: datetime, context: dict[str, Any] | None = None) -> None:
    """The case ended: nothing still waiting about it is sent any more, then the closing email."""
    pending_emails_drop(case, now=now)
    case_email_for_change(case, kind=kind, now=now, context=context)


def new_link_enqueue(case: Case, *, now: datetime) -> None:
    """The link was revoked and a new one issued: every email still waiting carries the new one,
    and of the 'new link' emails only the newest is sent (an older one still waiting is dropped;
    one already claimed for sending is dropped when it is sent: `notifications.kinds`)."""
    outbox_skip_pending(case_ref=case.id, kinds=["new_link"], reason="a newer link was issued", now=now)
    outbox_context_update_pending(case_ref=case.id, key="link", value=freelancer_url(case), now=now)
    case_email_for_change(case, kind="new_link", now=now)


def marketplace_event_publish(case: Case, *, event: str, now: datetime, data: dict[str, Any] | None = None) -> None:
    """Tell the marketplace (a webhook to every subscribed endpoint). The event id is derived from
    the case's revision, so it is stable across retries and never shared by two changes."""
    webhook_publish(
        event=event, case_ref=case.id, revision=change_revision(case), now=now,
        data={"case_id": str(case.id), "external_id": case.freelancer.external_id, "status": case.status,
              "deadline_at": iso(case.deadline_at), "can_submit_proposals": can_submit_proposals(case, now=now),
              **(data or {})},
    )
