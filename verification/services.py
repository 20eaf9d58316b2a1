"""Every write to a case goes through here. Each service runs in one transaction, takes `now`,
and raises a `DomainError` that callers map to an HTTP status with a stable code."""

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from scheduling import services as scheduling_services
from scheduling.models import Booking, Displacement
from scheduling.selectors import booking_active_for, bookings_displaced_unhandled, slot_exists
from scheduling.services import AlreadyBooked, BookingNotFound
from verification import freeze, notices, selectors, transitions
from verification.errors import (
    BookingTimeInvalid,
    CaseAlreadyOpen,
    CaseBusy,
    CaseNotBookable,
    CaseNotFound,
    ExtensionNotAllowed,
    IllegalTransition,
    RequestNotAllowed,
    RescheduleNotAllowed,
)
from verification.models import (
    FINAL_STATUSES,
    AuditEvent,
    Case,
    CaseRequest,
    CaseStatus,
    Freelancer,
    GracePolicy,
    RequestKind,
    RequestStatus,
    new_link_nonce,
)
from verification.selectors import case_summary, iso


def audit_record(
    *,
    case: Case,
    actor: str,
    action: str,
    now: datetime,
    reason: str = "",
    from_status: str = "",
    to_status: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        case=case,
        at=now,
        actor=actor,
        action=action,
        reason=reason,
        from_status=from_status,
        to_status=to_status,
        before=before or {},
        after=after or {},
    )


def policy_for(*, reason_code: str) -> GracePolicy:
    """The reason's own policy, else the default row, else the built-in defaults."""
    rows = GracePolicy.objects.filter(reason_code__in=[reason_code, GracePolicy.DEFAULT])
    policies = {policy.reason_code: policy for policy in rows}
    return (
        policies.get(reason_code)
        or policies.get(GracePolicy.DEFAULT)
        or GracePolicy(reason_code=GracePolicy.DEFAULT, warning_offsets_hours=[72, 24])
    )


def case_lock(case_id, *, now: datetime, skip_locked: bool = False) -> tuple[Case, datetime]:
    """The case, locked until the caller's transaction ends (every write to a case starts here),
    and the time to decide with: `now`, or the case's last change if that is later.

    A request takes its `now` when it starts; if it then waited for the lock behind another change
    (the deadline sweep freezing the case, say), it is decided after that change, never before it,
    so the audit of a case reads in the order its changes were committed. `skip_locked`: raise
    `CaseBusy` at once if another transaction holds the case (the sweep comes back to it)."""
    try:
        case = Case.objects.select_for_update(skip_locked=skip_locked).select_related("freelancer").get(pk=case_id)
    except Case.DoesNotExist:
        if skip_locked and Case.objects.filter(pk=case_id).exists():
            raise CaseBusy() from None
        raise CaseNotFound() from None
    return case, max(now, case.updated_at)


def case_save(case: Case, *, fields: list[str], now: datetime) -> None:
    """Write `fields` of a case the caller has locked (`case_lock`), with `now` the decision time
    it returned. Every write also sets `updated_at` (a later decision never precedes it) and moves
    `version` up by one (the key of the messages and webhooks about this change)."""
    case.updated_at = now
    case.version = F("version") + 1
    case.save(update_fields=[*fields, "updated_at", "version"])
    case.refresh_from_db(fields=["version"])


@transaction.atomic
def case_flag(
    *,
    external_id: str,
    email: str,
    name: str,
    timezone: str,
    language: str,
    reason_code: str,
    public_reason: str,
    profile_claims: list[dict[str, str]],
    standing: dict[str, Any],
    actor: str,
    now: datetime,
) -> Case:
    """Open a case for a freelancer, creating or refreshing the freelancer's contact details, and
    queue the notice. The deadline is set when the notice is actually sent (`case_notice_sent`)."""
    contact = {"email": email, "name": name, "timezone": timezone, "language": language}
    freelancer, created = Freelancer.objects.select_for_update().get_or_create(
        external_id=external_id, defaults={**contact, "created_at": now, "updated_at": now}
    )
    open_case = Case.objects.filter(freelancer=freelancer).exclude(status__in=FINAL_STATUSES).first()
    if open_case is not None:
        raise CaseAlreadyOpen(extra={"case": case_summary(open_case)})
    if not created and any(getattr(freelancer, k) != v for k, v in contact.items()):
        for field, value in contact.items():
            setattr(freelancer, field, value)
        freelancer.updated_at = now
        freelancer.save(update_fields=[*contact, "updated_at"])

    policy = policy_for(reason_code=reason_code).snapshot()
    try:
        with transaction.atomic():
            case = Case.objects.create(
                freelancer=freelancer,
                reason_code=reason_code,
                public_reason=public_reason,
                profile_claims=profile_claims,
                standing_snapshot=standing,
                status=CaseStatus.OPEN,
                policy=policy,
                created_by=actor,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:  # a concurrent flag won the one-open-case constraint
        open_case = Case.objects.filter(freelancer=freelancer).exclude(status__in=FINAL_STATUSES).first()
        raise CaseAlreadyOpen(extra={"case": case_summary(open_case)} if open_case else None) from None
    audit_record(
        case=case,
        actor=actor,
        action="flagged",
        now=now,
        reason=public_reason,
        to_status=CaseStatus.OPEN,
        after={"reason_code": reason_code, "policy": policy},
    )
    notices.notice(case, now=now)
    notices.webhook(case, event="case.created", now=now)
    return case


@transaction.atomic
def case_notice_sent(*, case_id, now: datetime) -> Case:
    """The notice left: the grace period starts now (never at flag time), warnings are scheduled."""
    case, now = case_lock(case_id, now=now)
    if case.notice_sent_at is not None or case.is_final:
        return case
    case.notice_sent_at = now
    case.deadline_at = now + timedelta(days=case.policy.get("grace_days", 7))
    case_save(case, fields=["notice_sent_at", "deadline_at"], now=now)
    audit_record(case=case, actor="system", action="notice_sent", now=now,
                 after={"notice_sent_at": iso(now), "deadline_at": iso(case.deadline_at)})
    notices.deadline_warnings(case, now=now)
    return case


@transaction.atomic
def case_transition(
    *,
    case_id,
    to_status: str,
    actor: str,
    action: str,
    reason: str,
    now: datetime,
    after: dict[str, Any] | None = None,
) -> Case:
    """The one place a case's status changes: lock, check the table, save, audit."""
    case, now = case_lock(case_id, now=now)
    if not transitions.is_allowed(case.status, to_status):
        raise IllegalTransition(
            f"A case that is {case.get_status_display().lower()} cannot become "
            f"{CaseStatus(to_status).label.lower()}.",
            extra={"case": case_summary(case)},
        )
    from_status = case.status
    case.status = to_status
    fields = ["status"]
    if case.is_final:
        case.closed_at = now
        fields.append("closed_at")
    case_save(case, fields=fields, now=now)
    audit_record(
        case=case,
        actor=actor,
        action=action,
        now=now,
        reason=reason,
        from_status=from_status,
        to_status=to_status,
        before={"status": from_status},
        after={"status": to_status, **(after or {})},
    )
    return case


@transaction.atomic
def case_withdraw(*, case_id, actor: str, reason: str, now: datetime) -> Case:
    _, now = case_lock(case_id, now=now)
    case = case_transition(
        case_id=case_id, to_status=CaseStatus.WITHDRAWN, actor=actor, action="withdrawn", reason=reason, now=now
    )
    if booking_active_for(case_ref=case.id) is not None:
        scheduling_services.booking_cancel(case_ref=case.id, reason="case_withdrawn", now=now)
    notices.closed(case, kind="withdrawn", now=now)
    notices.webhook(case, event="case.withdrawn", now=now, data={"reason": reason})
    return case


# --- booking ----------------------------------------------------------------------------------

def _check_bookable_time(*, case: Case, starts_at: datetime, now: datetime) -> None:
    start, end = selectors.case_booking_window(case=case, now=now)
    if starts_at <= now:
        raise BookingTimeInvalid("in_the_past", "That time has already passed. Pick a time in the future.")
    if starts_at < start:
        minutes = int((start - now).total_seconds() // 60)
        raise BookingTimeInvalid("too_soon",
                                 f"Calls must be booked at least {minutes} minutes ahead. Pick a later time.")
    if starts_at >= end:
        raise BookingTimeInvalid("after_deadline", "That time is after your deadline. Pick a time before it.")
    if not slot_exists(starts_at=starts_at):
        raise BookingTimeInvalid(
            "not_a_slot_time", "No call starts at that time. Pick one of the times from the availability list."
        )


@transaction.atomic
def case_booking_create(
    *, case_id, starts_at: datetime, language: str = "", phone: bool = False, actor: str, now: datetime
) -> Booking:
    """The freelancer books a time; the least-loaded free representative at that time is assigned."""
    case, now = case_lock(case_id, now=now)
    if case.status not in selectors.BOOKABLE_STATUSES:
        if case.status == CaseStatus.SCHEDULED:
            raise AlreadyBooked()
        raise CaseNotBookable(f"A case that is {case.get_status_display().lower()} cannot book a call.")
    _check_bookable_time(case=case, starts_at=starts_at, now=now)
    booking = scheduling_services.booking_create(
        case_ref=case.id, starts_at=starts_at, attendee_email=case.freelancer.email,
        attendee_name=case.freelancer.name, language=language, phone=phone, now=now,
    )
    case = case_transition(
        case_id=case.id, to_status=CaseStatus.SCHEDULED, actor=actor, action="booked", reason="", now=now,
        after={"booking_id": str(booking.id), "starts_at": iso(booking.starts_at)},
    )
    notices.booking_made(case, booking, kind="booking_confirmed", now=now)
    notices.webhook(case, event="case.scheduled", now=now, data={"starts_at": iso(booking.starts_at)})
    return booking


@transaction.atomic
def case_booking_reschedule(*, case_id, starts_at: datetime, actor: str, now: datetime) -> Booking:
    case, now = case_lock(case_id, now=now)
    current = booking_active_for(case_ref=case.id)
    if current is None:
        raise BookingNotFound()
    if selectors.case_reschedules_left(case) <= 0:
        raise RescheduleNotAllowed(
            "reschedule_limit_reached",
            f"You have used all {case.policy.get('max_reschedules', 3)} reschedules. "
            "You can still cancel and book a new time.",
        )
    cutoff = timedelta(hours=case.policy.get("reschedule_cutoff_hours", 1))
    if current.starts_at - now < cutoff:
        raise RescheduleNotAllowed(
            "too_close_to_call", f"Calls cannot be moved in the last {cutoff} before they start. Join as planned."
        )
    _check_bookable_time(case=case, starts_at=starts_at, now=now)
    before = iso(current.starts_at)
    booking = scheduling_services.booking_move(case_ref=case.id, starts_at=starts_at, now=now)
    case.reschedule_count += 1
    case_save(case, fields=["reschedule_count"], now=now)
    audit_record(
        case=case, actor=actor, action="rescheduled", now=now,
        before={"starts_at": before}, after={"starts_at": iso(booking.starts_at), "booking_id": str(booking.id)},
    )
    notices.booking_made(case, booking, kind="booking_moved", now=now)
    return booking


def case_booking_choose(*, case_id, starts_at: datetime, language: str = "", phone: bool = False, actor: str,
                        now: datetime) -> tuple[Booking, bool]:
    """The freelancer picked a time: book it, or move the booked call there. Returns (booking, moved)."""
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
    booking = scheduling_services.booking_cancel(case_ref=case.id, reason="cancelled_by_freelancer", now=now)
    case_transition(
        case_id=case.id, to_status=CaseStatus.OPEN, actor=actor, action="booking_cancelled", reason="", now=now,
        after={"booking_id": str(booking.id)},
    )
    notices.booking_cancelled(case, booking, by_us=False, now=now)
    return booking


@transaction.atomic
def case_booking_displaced_handle(*, booking_id, now: datetime) -> None:
    """A representative became unavailable for a booked call. Moved: nothing changes for the case
    (the freelancer keeps their time). Cancelled: the case goes back to OPEN and its deadline is
    extended by the policy's our-fault extension. Either way it is audited, once. The case is locked
    first, then the booking, as everywhere."""
    case, now = case_lock(Booking.objects.values_list("case_ref", flat=True).get(pk=booking_id), now=now)
    booking = Booking.objects.select_for_update().get(pk=booking_id)
    if booking.displacement_handled_at is not None:
        return
    if booking.displacement == Displacement.MOVED:
        case_save(case, fields=[], now=now)
        audit_record(case=case, actor="system", action="booking_moved", now=now,
                     reason="The representative became unavailable; another one takes the call at the same time.",
                     after={"booking_id": str(booking.id), "representative_id": booking.representative_id})
        notices.booking_made(case, booking, kind="booking_moved", now=now)
    else:
        if case.status == CaseStatus.SCHEDULED:
            case_transition(case_id=case.id, to_status=CaseStatus.OPEN, actor="system",
                            action="booking_cancelled_by_us", reason="No representative is free at that time.",
                            now=now, after={"booking_id": str(booking.id)})
            case.refresh_from_db()
        if not case.is_final and case.deadline_at:
            case_deadline_extend(case, hours=case.policy.get("our_fault_extension_hours", 72), actor="system",
                                 reason="We cancelled the booked call (no representative free at that time).", now=now)
        notices.booking_cancelled(case, booking, by_us=True, now=now)
    scheduling_services.booking_displacement_handled(booking_id=booking.id, now=now)


def bookings_displaced_handle(*, now: datetime) -> int:
    handled = 0
    for booking in bookings_displaced_unhandled():
        case_booking_displaced_handle(booking_id=booking.pk, now=now)
        handled += 1
    return handled


# --- deadline, freeze, extensions, requests ---------------------------------------------------

def case_deadline_extend(
    case: Case, *, hours: int, actor: str, reason: str, now: datetime, guard: str = "",
) -> Case:
    """Move the deadline later (from the later of the deadline and now), audit, tell the freelancer
    and the marketplace, and re-plan the warnings. The case row must be locked by the caller."""
    before = case.deadline_at
    case.deadline_at = max(case.deadline_at or now, now) + timedelta(hours=hours)
    case_save(case, fields=["deadline_at"], now=now)
    audit_record(case=case, actor=actor, action="deadline_extended", now=now, reason=reason,
                 before={"deadline_at": iso(before)},
                 after={"deadline_at": iso(case.deadline_at), **({"guard": guard} if guard else {})})
    notices.deadline_extended(case, reason=reason, now=now)
    notices.webhook(case, event="case.deadline_extended", now=now, data={"reason": reason})
    return case


@transaction.atomic
def case_deadline_check(*, case_id, now: datetime, skip_locked: bool = False) -> str:
    """At the deadline: freeze if every guard holds, otherwise extend and record which guard failed.
    `skip_locked`: a case another transaction holds is left for the next sweep ("busy")."""
    try:
        case, now = case_lock(case_id, now=now, skip_locked=skip_locked)
    except CaseBusy:
        return "busy"
    if case.status != CaseStatus.OPEN or case.deadline_at is None or case.deadline_at > now:
        return "skipped"
    failures = freeze.freeze_guard_failures(case)
    if failures:
        reason = "; ".join(f.why for f in failures)
        case_deadline_extend(case, hours=case.policy.get("guard_extension_hours", 48), actor="system",
                             reason=f"Not frozen: {reason}.", now=now, guard=",".join(f.guard for f in failures))
        return "extended"
    case = case_transition(case_id=case.id, to_status=CaseStatus.FROZEN, actor="system", action="frozen",
                           reason="The deadline passed with every freeze guard holding.", now=now)
    case.frozen_at = now
    case_save(case, fields=["frozen_at"], now=now)
    notices.closed_pending(case, now=now)
    notices.message(case, kind="frozen", now=now)
    notices.webhook(case, event="case.frozen", now=now)
    return "frozen"


def cases_deadline_sweep(*, now: datetime, batch_size: int = 500) -> dict[str, int]:
    """Every open case past its deadline: O(cases due), read in batches by the deadline index
    without locking them. Each case is then decided in its own transaction that locks only that
    case, so a booking on a case further down the batch never waits behind the batch; a case
    another transaction holds (a booking, a second sweep) is skipped ("busy") and comes back at
    the next sweep if it is still due."""
    outcomes: dict[str, int] = {}
    all_due = Case.objects.filter(status=CaseStatus.OPEN, deadline_at__lte=now).order_by("deadline_at", "pk")
    due, batch = all_due, []
    while True:
        if batch:  # the next batch starts after the last case of this one: each due case is read once
            last_id, last_deadline = batch[-1]
            due = all_due.filter(deadline_at__gte=last_deadline).exclude(deadline_at=last_deadline, pk__lte=last_id)
        batch = list(due.values_list("pk", "deadline_at")[:batch_size])
        for case_id, _ in batch:
            outcome = case_deadline_check(case_id=case_id, now=now, skip_locked=True)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if len(batch) < batch_size:
            return outcomes


@transaction.atomic
def case_extension_request(*, case_id, actor: str, now: datetime) -> Case:
    """The freelancer's one self-service extension, granted at once per the policy."""
    case, now = case_lock(case_id, now=now)
    refusal = selectors.case_extension_refusal(case, now=now)
    if refusal:
        raise ExtensionNotAllowed(refusal)
    days = case.policy.get("self_extension_days", 3)
    CaseRequest.objects.create(case=case, kind=RequestKind.EXTENSION, status=RequestStatus.GRANTED,
                               created_by=actor, created_at=now, resolved_by="system", resolved_at=now,
                               resolution=f"Granted automatically: {days} days.")
    return case_deadline_extend(case, hours=24 * days, actor=actor, reason=f"Self-service extension of {days} days.",
                                now=now)


@transaction.atomic
def case_request_create(*, case_id, kind: str, actor: str, now: datetime, need: str = "", note: str = ""
                        ) -> CaseRequest:
    """An accommodation request or admin hold: pauses the freeze until resolved."""
    case, now = case_lock(case_id, now=now)
    if case.is_final:
        raise RequestNotAllowed("This case has ended.")
    if CaseRequest.objects.filter(case=case, kind=kind, status=RequestStatus.PENDING).exists():
        raise RequestNotAllowed("A request of this kind is already pending; staff will answer it.")
    request = CaseRequest.objects.create(case=case, kind=kind, need=need, note=note, created_by=actor,
                                         created_at=now)
    case_save(case, fields=[], now=now)
    audit_record(case=case, actor=actor, action=f"{kind.lower()}_requested", now=now, reason=note,
                 after={"request_id": request.pk, "need": need})
    return request


@transaction.atomic
def case_request_resolve(*, request_id: int, status: str, actor: str, reason: str, now: datetime) -> CaseRequest:
    case, now = case_lock(CaseRequest.objects.values_list("case_id", flat=True).get(pk=request_id), now=now)
    request = CaseRequest.objects.select_for_update().get(pk=request_id)
    if request.status != RequestStatus.PENDING:
        raise RequestNotAllowed("This request was already resolved.")
    request.status, request.resolved_by, request.resolved_at, request.resolution = status, actor, now, reason
    request.save(update_fields=["status", "resolved_by", "resolved_at", "resolution"])
    case_save(case, fields=[], now=now)
    audit_record(case=case, actor=actor, action=f"{request.kind.lower()}_{status.lower()}", now=now, reason=reason,
                 after={"request_id": request.pk})
    return request


def case_hold(*, case_id, actor: str, reason: str, now: datetime) -> CaseRequest:
    return case_request_create(case_id=case_id, kind=RequestKind.HOLD, actor=actor, now=now, note=reason)


@transaction.atomic
def case_hold_release(*, case_id, actor: str, reason: str, now: datetime) -> None:
    hold = CaseRequest.objects.filter(case_id=case_id, kind=RequestKind.HOLD, status=RequestStatus.PENDING).first()
    if hold is None:
        raise RequestNotAllowed("This case has no hold.")
    case_request_resolve(request_id=hold.pk, status=RequestStatus.RESOLVED, actor=actor, reason=reason, now=now)


@transaction.atomic
def case_extend(*, case_id, actor: str, reason: str, now: datetime, hours: int | None = None) -> Case:
    """Admin: extend by `hours`, or by the policy's guard extension."""
    case, now = case_lock(case_id, now=now)
    if case.is_final:
        raise ExtensionNotAllowed("This case has ended.")
    return case_deadline_extend(case, hours=hours or case.policy.get("guard_extension_hours", 48), actor=actor,
                                reason=reason, now=now)


@transaction.atomic
def case_unfreeze(*, case_id, actor: str, reason: str, now: datetime) -> Case:
    """Admin: lift a freeze; the new deadline gives the freelancer the policy's extension."""
    _, now = case_lock(case_id, now=now)
    case = case_transition(case_id=case_id, to_status=CaseStatus.OPEN, actor=actor, action="unfrozen",
                           reason=reason, now=now)
    case.frozen_at = None
    case_save(case, fields=["frozen_at"], now=now)
    case = case_deadline_extend(case, hours=case.policy.get("guard_extension_hours", 48), actor=actor, reason=reason,
                                now=now)
    notices.webhook(case, event="case.unfrozen", now=now, data={"reason": reason})
    return case


@transaction.atomic
def case_verify(*, case_id, actor: str, reason: str, now: datetime) -> Case:
    """VERIFIED: proposals come back at once (the freeze is lifted), the standing snapshot taken at
    flag time is restored (the marketplace is told with it), the freelancer is told."""
    _, now = case_lock(case_id, now=now)
    case = case_transition(case_id=case_id, to_status=CaseStatus.VERIFIED, actor=actor, action="verified",
                           reason=reason, now=now)
    case.frozen_at = None
    case.standing_restored_at = now
    case_save(case, fields=["frozen_at", "standing_restored_at"], now=now)
    audit_record(case=case, actor=actor, action="standing_restored", now=now,
                 after={"standing": case.standing_snapshot})
    notices.closed(case, kind="verified", now=now)
    notices.webhook(case, event="case.verified", now=now, data={"standing": case.standing_snapshot})
    return case


@transaction.atomic
def case_link_revoke(*, case_id, actor: str, reason: str, now: datetime) -> Case:
    """Admin: every link issued so far stops working; a new one is mailed to the freelancer (and
    replaces the old one in every message still waiting to be sent)."""
    case, now = case_lock(case_id, now=now)
    case.link_nonce = new_link_nonce()  # every earlier token stops matching
    case_save(case, fields=["link_nonce"], now=now)
    audit_record(case=case, actor=actor, action="link_revoked", now=now, reason=reason)
    notices.new_link(case, now=now)
    return case
