"""The freelancer books, moves and cancels their call; calls we had to cancel are made good."""

from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from scheduling.errors import AlreadyBooked, BookingNotFound, message
from scheduling.models import Booking, Displacement
from scheduling.selectors import booking_active_for, bookings_displaced_unhandled, slot_exists
from scheduling.services import bookings as scheduling_bookings
from verification import messages
from verification.deadlines.services import case_deadline_extend
from verification.errors import BookingTimeInvalid, CaseNotBookable, RescheduleNotAllowed
from verification.models import BOOKABLE_STATUSES, Case, CaseStatus
from verification.selectors import case_booking_window, case_reschedules_left, iso
from verification.services.audit import audit_record
from verification.services.cases import case_lock, case_save, case_transition


def _check_bookable_time(*, case: Case, starts_at: datetime, now: datetime) -> None:
    start, end = case_booking_window(case=case, now=now)
    if starts_at <= now:
        raise BookingTimeInvalid("in_the_past", _("That time has already passed. Pick a time in the future."))
    if starts_at < start:
        minutes = int((start - now).total_seconds() // 60)
        raise BookingTimeInvalid("too_soon", message(
            _("Calls must be booked at least %(minutes)s minutes ahead. Pick a later time."), minutes=minutes))
    if starts_at >= end:
        raise BookingTimeInvalid("after_deadline", _("That time is after your deadline. Pick a time before it."))
    if not slot_exists(starts_at=starts_at):
        raise BookingTimeInvalid(
            "not_a_slot_time", _("No call starts at that time. Pick one of the times from the availability list.")
        )


@transaction.atomic
def case_booking_create(
    *, case_id, starts_at: datetime, language: str = "", phone: bool = False, actor: str, now: datetime
) -> Booking:
    """The freelancer books a time; the least-loaded free representative at that time is assigned."""
    case, now = case_lock(case_id, now=now)
    if case.status not in BOOKABLE_STATUSES:
        if case.status == CaseStatus.SCHEDULED:
            raise AlreadyBooked()
        raise CaseNotBookable(message(_("A case that is %(status)s cannot book a call."),
                                       status=case.get_status_display().lower()))
    _check_bookable_time(case=case, starts_at=starts_at, now=now)
    booking = scheduling_bookings.booking_create(
        case_ref=case.id, starts_at=starts_at, attendee_email=case.freelancer.email,
        attendee_name=case.freelancer.name, language=language, phone=phone, now=now,
    )
    case_transition(case=case, to_status=CaseStatus.SCHEDULED, actor=actor, action="booked", reason="", now=now,
                    after={"booking_id": str(booking.id), "starts_at": iso(booking.starts_at)})
    messages.booking_messages_enqueue(case, booking, kind="booking_confirmed", now=now)
    messages.marketplace_event_publish(case, event="case.scheduled", now=now,
                                       data={"starts_at": iso(booking.starts_at)})
    return booking


@transaction.atomic
def case_booking_reschedule(*, case_id, starts_at: datetime, actor: str, now: datetime) -> Booking:
    """Move the booked call: the new slot is claimed before the old one is released."""
    case, now = case_lock(case_id, now=now)
    current = booking_active_for(case_ref=case.id)
    if current is None:
        raise BookingNotFound()
    if case_reschedules_left(case) <= 0:
        raise RescheduleNotAllowed(
            "reschedule_limit_reached",
            message(_("You have used all %(limit)s reschedules. You can still cancel and book a new time."),
                    limit=case.policy.max_reschedules),
        )
    if current.starts_at - now < case.policy.reschedule_cutoff:
        hours = round(case.policy.reschedule_cutoff.total_seconds() / 3600, 1)
        raise RescheduleNotAllowed("too_close_to_call", message(
            _("Calls cannot be moved in the last %(hours)s hours before they start. Join as planned."),
            hours=f"{hours:g}"))
    _check_bookable_time(case=case, starts_at=starts_at, now=now)
    before = iso(current.starts_at)
    booking = scheduling_bookings.booking_move(case_ref=case.id, starts_at=starts_at, now=now)
    case.reschedule_count += 1
    case_save(case, fields=["reschedule_count"], now=now)
    audit_record(case=case, actor=actor, action="rescheduled", now=now, before={"starts_at": before},
                 after={"starts_at": iso(booking.starts_at), "booking_id": str(booking.id)})
    messages.booking_messages_enqueue(case, booking, kind="booking_moved", now=now)
    return booking


def case_booking_choose(*, case_id, starts_at: datetime, language: str = "", phone: bool = False, actor: str,
                        now: datetime) -> tuple[Booking, bool]:
    """The freelancer picked a time on the page: book it, or move the booked call there.
    Returns (booking, moved)."""
    if booking_active_for(case_ref=case_id) is not None:
        return case_booking_reschedule(case_id=case_id, starts_at=starts_at, actor=actor, now=now), True
    return case_booking_create(case_id=case_id, starts_at=starts_at, language=language, phone=phone, actor=actor,
                               now=now), False


@transaction.atomic
def case_booking_cancel(*, case_id, actor: str, now: datetime) -> Booking:
    case, now = case_lock(case_id, now=now)
    current = booking_active_for(case_ref=case.id)
    if current is None:
        raise BookingNotFound()
    if current.starts_at <= now:
        raise CaseNotBookable("The call has already started; it can no longer be cancelled.")
    booking = scheduling_bookings.booking_cancel(case_ref=case.id, reason="cancelled_by_freelancer", now=now)
    case_transition(case=case, to_status=CaseStatus.OPEN, actor=actor, action="booking_cancelled", reason="",
                    now=now, after={"booking_id": str(booking.id)})
    messages.booking_cancellation_enqueue(case, booking, by_us=False, now=now)
    return booking


@transaction.atomic
def case_booking_displaced_handle(*, booking_id, now: datetime) -> None:
    """A representative became unavailable for a booked call. Moved: nothing changes for the case
    (the freelancer keeps their time). Cancelled: the case goes back to OPEN and its deadline is
    extended by the policy's our-fault extension. Either way it is audited, once. The case is locked
    first, then the booking, as everywhere."""
    case, now = case_lock(Booking.objects.values_list("case_ref", flat=True).get(pk=booking_id), now=now)
    booking = Booking.objects.select_for_update(of=("self",)).select_related("representative").get(pk=booking_id)
    if booking.displacement_handled_at is not None:
        return
    if booking.displacement == Displacement.MOVED:
        case_save(case, fields=[], now=now)
        audit_record(case=case, actor="system", action="booking_moved", now=now,
                     reason="The representative became unavailable; another one takes the call at the same time.",
                     after={"booking_id": str(booking.id), "representative_id": booking.representative_id})
        messages.booking_messages_enqueue(case, booking, kind="booking_moved", now=now)
    else:
        if case.status == CaseStatus.SCHEDULED:
            case_transition(case=case, to_status=CaseStatus.OPEN, actor="system", action="booking_cancelled_by_us",
                            reason="No representative is free at that time.", now=now,
                            after={"booking_id": str(booking.id)})
        if not case.is_final and case.deadline_at:
            case_deadline_extend(case=case, hours=case.policy.our_fault_extension_hours, actor="system", now=now,
                                 reason=_("We cancelled the booked call (no representative free at that time)."))
        messages.booking_cancellation_enqueue(case, booking, by_us=True, now=now)
    scheduling_bookings.booking_displacement_handled(booking_id=booking.id, now=now)


def bookings_displaced_handle(*, now: datetime) -> int:
    """Periodic: audit and make good every booking the system moved or cancelled."""
    handled = 0
    for booking in bookings_displaced_unhandled():
        case_booking_displaced_handle(booking_id=booking.pk, now=now)
        handled += 1
    return handled
