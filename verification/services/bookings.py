"""The freelancer books, moves and cancels their call; calls we had to cancel are made good."""

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from scheduling.errors import AlreadyBooked, BookingNotFound, SlotTaken, message
from scheduling.models import Booking, Displacement
from scheduling.selectors import booking_active_for, bookings_displaced_unhandled, slot_exists
from scheduling.services import bookings as scheduling_bookings
from verification import messages
from verification.deadlines.services import case_deadline_extend
from verification.errors import (
    BookingTimeInvalid,
    CaseNotBookable,
    EarlierOfferNotFound,
    EarlierTimesNeedBooking,
    EarlierTimeTaken,
    RescheduleNotAllowed,
)
from verification.models import BOOKABLE_STATUSES, CANCELLED_BY_FREELANCER, Case, CaseStatus, EarlierTimeOffer
from verification.selectors import case_booking_is_a_change, case_booking_window, case_reschedules_left, iso
from verification.services.audit import audit_record
from verification.services.cases import case_lock, case_save, case_transition
from verification.services.earlier import earlier_time_offer


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


def _check_change_of_time(*, case: Case, now: datetime) -> None:
    """A change of the call's time (a move, or a new booking after cancelling one) counts against
    the policy's limit and comes at least BOOKING_CHANGE_COOLDOWN_SECONDS after the last change.
    (A frozen freelancer's booking is never a change: `case_booking_is_a_change`.)"""
    if case_reschedules_left(case) <= 0:
        raise RescheduleNotAllowed(
            "reschedule_limit_reached",
            message(_("You have already changed the time of your call %(limit)s times, the most allowed "
                      "(cancelling and booking again counts as a change). If you need another time, ask for help "
                      "from your case page."), limit=case.policy.max_reschedules),
        )
    if case.time_changed_at is None:
        return
    wait = case.time_changed_at + timedelta(seconds=settings.BOOKING_CHANGE_COOLDOWN_SECONDS) - now
    if wait > timedelta(0):
        seconds = math.ceil(wait.total_seconds())
        raise RescheduleNotAllowed("change_too_soon", message(
            _("You changed your call a moment ago. Wait %(seconds)s seconds before changing it again."),
            seconds=seconds), extra={"retry_after": seconds})


def _count_change_of_time(case: Case, *, now: datetime) -> None:
    case.reschedule_count += 1
    case.time_changed_at = now
    case_save(case, fields=["reschedule_count", "time_changed_at"], now=now)


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
    rebooking = case_booking_is_a_change(case)
    if rebooking:
        _check_change_of_time(case=case, now=now)
    _check_bookable_time(case=case, starts_at=starts_at, now=now)
    if rebooking:
        _count_change_of_time(case, now=now)
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
def case_booking_reschedule(*, case_id, starts_at: datetime, actor: str, now: datetime, reason: str = "") -> Booking:
    """Move the booked call: the new slot is claimed before the old one is released; the time it
    leaves is offered to those who want an earlier one."""
    case, now = case_lock(case_id, now=now)
    current = booking_active_for(case_ref=case.id)
    if current is None:
        raise BookingNotFound()
    if current.starts_at - now < case.policy.reschedule_cutoff:
        hours = round(case.policy.reschedule_cutoff.total_seconds() / 3600, 1)
        raise RescheduleNotAllowed("too_close_to_call", message(
            _("Calls cannot be moved in the last %(hours)s hours before they start. Join as planned."),
            hours=f"{hours:g}"))
    _check_change_of_time(case=case, now=now)
    _check_bookable_time(case=case, starts_at=starts_at, now=now)
    before, left = iso(current.starts_at), current.starts_at
    booking = scheduling_bookings.booking_move(case_ref=case.id, starts_at=starts_at, now=now)
    _count_change_of_time(case, now=now)
    audit_record(case=case, actor=actor, action="rescheduled", now=now, before={"starts_at": before},
                 after={"starts_at": iso(booking.starts_at), "booking_id": str(booking.id)}, reason=reason)
    messages.booking_messages_enqueue(case, booking, kind="booking_moved", now=now)
    earlier_time_offer(starts_at=left, now=now, skip={case.id})
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
        raise CaseNotBookable(_("The call has already started; it can no longer be cancelled."))
    booking = scheduling_bookings.booking_cancel(case_ref=case.id, reason=CANCELLED_BY_FREELANCER, now=now)
    case_transition(case=case, to_status=CaseStatus.OPEN, actor=actor, action="booking_cancelled", reason="",
                    now=now, after={"booking_id": str(booking.id)})
    messages.booking_cancellation_enqueue(case, booking, by_us=False, now=now)
    earlier_time_offer(starts_at=booking.starts_at, now=now, skip={case.id})
    return booking


@transaction.atomic
def case_earlier_times_set(*, case_id, wanted: bool, actor: str, now: datetime) -> Case:
    """Turn "tell me if an earlier time opens" on or off (audited; no change, no row). Turning it
    off drops the offers still waiting to be sent."""
    case, now = case_lock(case_id, now=now)
    if wanted and booking_active_for(case_ref=case.id) is None:
        raise EarlierTimesNeedBooking()
    if case.wants_earlier == wanted:
        return case
    case.wants_earlier = wanted
    case_save(case, fields=["wants_earlier"], now=now)
    audit_record(case=case, actor=actor, action="earlier_times_on" if wanted else "earlier_times_off", now=now,
                 before={"wants_earlier": not wanted}, after={"wants_earlier": wanted})
    if not wanted:
        messages.earlier_times_drop(case, now=now)
    return case


@transaction.atomic
def case_earlier_time_accept(*, case_id, offer_id: int, actor: str, now: datetime) -> Booking:
    """The freelancer takes an earlier time they were offered: a normal move (the move limit and
    the cut-off before the call apply, and it counts as one change). If the time is gone (taken,
    too close now) or their call is no longer later, EarlierTimeTaken, and their booking is exactly
    as it was."""
    case, now = case_lock(case_id, now=now)
    offer = EarlierTimeOffer.objects.select_for_update().filter(pk=offer_id, case=case).first()
    if offer is None:
        raise EarlierOfferNotFound()
    current = booking_active_for(case_ref=case.id)
    if offer.accepted_at is not None or current is None or current.starts_at <= offer.starts_at:
        raise EarlierTimeTaken(_("Your call is already at that time or earlier; nothing was changed."))
    try:
        booking = case_booking_reschedule(case_id=case.id, starts_at=offer.starts_at, actor=actor, now=now,
                                          reason=f"Took an earlier time that opened (offer {offer.pk}).")
    except (SlotTaken, BookingTimeInvalid) as problem:
        raise EarlierTimeTaken(extra={"booking_starts_at": current.starts_at}) from problem
    offer.accepted_at = now
    offer.save(update_fields=["accepted_at"])
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
