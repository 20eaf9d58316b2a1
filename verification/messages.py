"""Which messages each change of a case makes, for the freelancer (emails) and the marketplace
(webhooks). Called by the services inside their transaction, so a message exists exactly when the
change that causes it was committed. Each function names the message it writes; the keys of the
messages are built here (and, for the deadline warnings, in `verification.deadlines.rules`)."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.utils import translation

from notifications.keys import MessageKey, booking_revision, booking_topic
from notifications.models import WebhookEndpoint
from notifications.rendering import AfterSending
from notifications.selectors import webhook_endpoints_active
from notifications.services import (
    Outgoing,
    calendar_write_enqueue,
    outbox_context_update_pending,
    outbox_enqueue_many,
    outbox_skip_pending,
    outbox_supersede_pending_webhooks,
    webhook_messages,
)
from scheduling.ics import join_url, phone_route
from scheduling.models import Booking
from scheduling.selectors import booking_calendar_write_wanted
from verification.deadlines.guards import can_submit_proposals
from verification.deadlines.rules import case_topic, notice_key
from verification.languages import case_language
from verification.links import freelancer_url
from verification.models import Case
from verification.selectors import iso


def change_revision(case: Case) -> str:
    """The revision of a message about the change just made: the case's revision, which every
    change moves up, so two changes never share a key, however close in time."""
    return f"case-rev-{case.version}"


def reason_category(case: Case) -> str:
    """The reason category as the freelancer reads it (in the active language)."""
    return str(case.get_reason_code_display())


def case_context(case: Case) -> dict[str, Any]:
    """What every email about the case needs. `language` is the freelancer's (the email is rendered
    in it, `notifications.rendering`); the reason category is put in that language here."""
    language = case_language(case)
    with translation.override(language):
        category = reason_category(case)
    return {
        "language": language,
        "first_name": case.freelancer.first_name,
        "timezone": case.freelancer.timezone,
        "reason_category": category,
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


def case_email(case: Case, *, key: MessageKey, now: datetime, due_at: datetime | None = None,
               context: dict[str, Any]) -> Outgoing:
    """An email to the freelancer about the case, to write (`outbox_enqueue_many`)."""
    return Outgoing(key=key, case_ref=case.id, recipient=case.freelancer.email, due_at=due_at or now, context=context)


def case_email_enqueue(case: Case, *, key: MessageKey, now: datetime, due_at: datetime | None = None,
                       context: dict[str, Any]) -> None:
    outbox_enqueue_many(messages=[case_email(case, key=key, now=now, due_at=due_at, context=context)], now=now)


def notice_enqueue(case: Case, *, grace: AfterSending, now: datetime) -> None:
    """The notice: why, by when (the grace period, counted from when this email is sent), the link."""
    case_email_enqueue(case, key=notice_key(case), now=now,
                       context={**case_context(case), "deadline_at": grace.as_context()})


def case_opened_enqueue(case: Case, *, grace: AfterSending, now: datetime) -> None:
    """A case was opened: the notice (`notice_enqueue`) and the marketplace's `case.created`
    webhooks (`marketplace_event_publish`), in one statement."""
    notice = {**case_context(case), "deadline_at": grace.as_context()}
    outbox_enqueue_many(now=now, messages=[
        case_email(case, key=notice_key(case), now=now, context=notice),
        *marketplace_event(case, event="case.created", now=now, endpoints=webhook_endpoints_active()),
    ])


CONFIRMATION_KINDS = ("booking_confirmed", "booking_moved")


def booking_messages_enqueue(case: Case, booking: Booking, *, kind: str, now: datetime) -> None:
    """Confirmation (or 'moved') with the invite, and reminders before the call; older messages
    about this booking are dropped. Rapid churn is coalesced: a move whose booking's confirmation
    was never sent is confirmed as a new booking, and a cancellation email still waiting from just
    before this booking is dropped (the new confirmation says all there is to say)."""
    topic = booking_topic(booking.id)
    changed = booking.sequence > 0  # every change of a booking moves its sequence: at 0 it was just made,
    if changed:  # and nothing about it was queued or written anywhere yet (two statements saved)
        if outbox_skip_pending(topic=topic, kinds=["booking_confirmed"], reason="the booking changed", now=now):
            kind = "booking_confirmed"  # the freelancer never heard of the time it moved from
        outbox_skip_pending(topic=topic, reason="the booking changed", now=now)
    if kind == "booking_confirmed":
        outbox_skip_pending(case_ref=case.id, kinds=["booking_cancelled"], reason="booked again", now=now)
    context = _booking_context(case, booking)
    revision = booking_revision(booking.sequence)
    email = partial(Outgoing, recipient=case.freelancer.email, case_ref=case.id, context=context)
    outbox_enqueue_many(now=now, messages=[  # one statement: the confirmation and the reminders still ahead
        email(key=MessageKey(kind, topic, revision), due_at=now),
        *(email(key=MessageKey(f"reminder:{minutes}", topic, revision), due_at=booking.starts_at - offset)
          for minutes in case.policy.reminder_offsets_minutes
          if booking.starts_at - (offset := timedelta(minutes=minutes)) > now),
    ])
    representative_calendar_update(booking, now=now, written_before=changed)


def representative_calendar_update(booking: Booking, *, now: datetime, written_before: bool = True) -> None:
    """The call into the representative's own calendar (and out of a former one's), when there is one.
    `written_before=False`: the booking was just made, so no calendar holds it yet."""
    if booking_calendar_write_wanted(booking=booking, written_before=written_before):
        calendar_write_enqueue(booking_id=booking.id, representative_id=booking.representative_id,
                               sequence=booking.sequence, now=now)


def booking_cancellation_enqueue(case: Case, booking: Booking, *, by_us: bool, now: datetime) -> None:
    """The cancellation email. A freelancer who cancels before the confirmation went out gets
    neither (nothing to undo in their mailbox)."""
    topic = booking_topic(booking.id)
    unsent = outbox_skip_pending(topic=topic, kinds=CONFIRMATION_KINDS, reason="the booking was cancelled", now=now)
    outbox_skip_pending(topic=topic, reason="the booking was cancelled", now=now)
    if unsent and not by_us:
        return
    kind = "booking_cancelled_by_us" if by_us else "booking_cancelled"
    case_email_enqueue(case, key=MessageKey(kind, topic, booking_revision(booking.sequence)), now=now,
                       context=_booking_context(case, booking))
    representative_calendar_update(booking, now=now)


def email_for_change(case: Case, *, kind: str, now: datetime, context: dict[str, Any] | None = None,
                     due_at: datetime | None = None, base: dict[str, Any] | None = None) -> Outgoing:
    """An email about the change just made to the case (frozen, verified, a new link, ...).
    `base`: `case_context(case)` if the caller has it already."""
    return case_email(case, key=MessageKey(kind, case_topic(case), change_revision(case)), now=now, due_at=due_at,
                      context={**(base or case_context(case)), **(context or {})})


def case_email_for_change(case: Case, *, kind: str, now: datetime, context: dict[str, Any] | None = None,
                          due_at: datetime | None = None) -> None:
    outbox_enqueue_many(messages=[email_for_change(case, kind=kind, now=now, context=context, due_at=due_at)],
                        now=now)


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


def marketplace_event(case: Case, *, event: str, now: datetime, endpoints: Iterable[WebhookEndpoint],
                      data: dict[str, Any] | None = None) -> list[Outgoing]:
    """The webhooks telling the marketplace about the change just made, one per endpoint of
    `endpoints` that wants the event. The event id is derived from the case's revision, so it is
    stable across retries and never shared by two changes."""
    return webhook_messages(
        event=event, case_ref=case.id, revision=change_revision(case), now=now, endpoints=endpoints,
        data={"case_id": str(case.id), "external_id": case.freelancer.external_id, "status": case.status,
              "deadline_at": iso(case.deadline_at), "can_submit_proposals": can_submit_proposals(case),
              **(data or {})},
    )


def earlier_time_enqueue(case: Case, *, offer_id: int, starts_at: datetime, booked_at: datetime, due_at: datetime,
                         now: datetime) -> None:
    """An earlier time opened: offer it with a link to move the call there (the link is built from
    `link` when the email is rendered, so a revoked link is replaced in it too). Checked again
    right before sending (`notifications.kinds.earlier_time_open`)."""
    case_email_enqueue(case, key=MessageKey("earlier_time", f"earlier-offer:{offer_id}", "offer"), now=now,
                       due_at=due_at, context={**case_context(case), "offer_id": offer_id, "starts_at": iso(starts_at),
                                               "booked_at": iso(booked_at)})


def earlier_times_drop(case: Case, *, now: datetime) -> None:
    """The freelancer no longer wants earlier times: offers still waiting are not sent."""
    outbox_skip_pending(case_ref=case.id, kinds=["earlier_time"], reason="no longer wants earlier times", now=now)


# Events whose newest one says all the earlier ones said (the booked time): one still waiting is
# replaced by the next, so a freelancer booking again and again makes one webhook, not one each time.
SUPERSEDED_EVENTS = frozenset({"case.scheduled"})


def marketplace_event_publish(case: Case, *, event: str, now: datetime, data: dict[str, Any] | None = None) -> None:
    """Tell the marketplace (a webhook to every subscribed endpoint)."""
    if event in SUPERSEDED_EVENTS:
        outbox_supersede_pending_webhooks(case_ref=case.id, event=event, reason="a newer event of this type", now=now)
    outbox_enqueue_many(messages=marketplace_event(case, event=event, now=now, data=data,
                                                   endpoints=webhook_endpoints_active()), now=now)
