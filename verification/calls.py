"""Calls and reviews: the representative's checklist and outcome, what each outcome does to the
case, automatic representative no-show detection, and second review. Services: keyword-only,
`now` passed in, one transaction each, domain errors out."""

from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Q

from scheduling.models import Booking, BookingStatus
from scheduling.services import booking_finish
from verification import notices
from verification.checklist import checklist_current
from verification.errors import CallNotAllowed, RequestNotAllowed, ReviewNotAllowed
from verification.models import (
    ON_A_CALL,
    AccommodationNeed,
    CallRecord,
    Case,
    CaseRequest,
    CaseStatus,
    Outcome,
    RequestKind,
    RequestStatus,
    Review,
    ReviewKind,
)
from verification.protected_terms import protected_terms_in
from verification.services import (
    audit_record,
    case_deadline_extend,
    case_lock,
    case_request_create,
    case_save,
    case_transition,
    case_verify,
)

REVIEWERS_GROUP = "Reviewers"


def checklist_questions(call: CallRecord) -> list[dict]:
    """The call's checklist version expanded for its case: one question per profile fact."""
    questions = []
    for item in call.checklist.items:
        if item.get("per_claim"):
            for claim in call.case.profile_claims[: item.get("max_claims", 3)]:
                questions.append({"key": f"fact:{claim['field']}", "label": f"{item['label']}: {claim['field']} = "
                                  f"{claim['value']}", "choices": item["choices"]})
        else:
            questions.append({"key": item["key"], "label": item["label"], "choices": item["choices"]})
    return questions


def _call_for(*, booking_id, user: User) -> CallRecord:
    call = CallRecord.objects.select_for_update().select_related("case", "checklist").filter(
        booking_id=booking_id).first()
    if call is None or (call.representative_user_id != user.pk and not user.is_superuser):
        raise CallNotAllowed("This is not one of your calls.")
    return call


@transaction.atomic
def call_start(*, booking_id, user: User, now: datetime) -> CallRecord:
    """Open the call: the checklist version and the start time are stored, so the three-minute
    timer keeps running across reloads. Starting twice changes nothing. The case is locked first,
    then the booking, as everywhere."""
    case, now = case_lock(Booking.objects.values_list("case_ref", flat=True).get(pk=booking_id), now=now)
    # of=("self",): lock the booking only; a lock on the representative row would hold up every
    # booking of theirs being committed (its foreign key needs FOR KEY SHARE on that row)
    booking = Booking.objects.select_for_update(of=("self",)).select_related("representative").get(pk=booking_id)
    if booking.representative.user_id != user.pk and not user.is_superuser:
        raise CallNotAllowed("This is not one of your calls.")
    call, created = CallRecord.objects.get_or_create(
        booking_id=booking.id,
        defaults={"case_id": booking.case_ref, "representative_user_id": booking.representative.user_id,
                  "checklist": checklist_current(now=now), "started_at": now},
    )
    if created:
        case_save(case, fields=[], now=now)
        audit_record(case=case, actor=f"user:{user.get_username()}", action="call_started", now=now,
                     after={"booking_id": str(booking.id), "checklist_version": call.checklist.version})
    return call


@transaction.atomic
def call_answer(*, booking_id, user: User, key: str, choice: str, now: datetime) -> CallRecord:
    call = _call_for(booking_id=booking_id, user=user)
    if call.outcome:
        raise CallNotAllowed("The outcome is recorded; the checklist can no longer change.")
    question = next((q for q in checklist_questions(call) if q["key"] == key), None)
    if question is None or choice not in question["choices"]:
        raise CallNotAllowed("Pick one of the listed answers.")
    call.answers = {**call.answers, key: choice}
    call.save(update_fields=["answers"])
    return call


def _assign_reviewer(*, case: Case, exclude_user_ids: set[int]) -> User | None:
    """The reviewer with the fewest open reviews who was never on this case's calls."""
    on_calls = set(CallRecord.objects.filter(case=case).values_list("representative_user_id", flat=True))
    return (
        User.objects.filter(groups__name=REVIEWERS_GROUP, is_active=True)
        .exclude(pk__in=on_calls | exclude_user_ids)
        .annotate(open_reviews=Count("reviews", filter=Q(reviews__decided_at__isnull=True)))
        .order_by("open_reviews", "pk")
        .first()
    )


def no_show_allowed_from(*, case: Case, booking: Booking) -> datetime:
    """A freelancer no-show can be recorded only after the policy's wait from the call's start."""
    return booking.starts_at + timedelta(minutes=case.policy.get("freelancer_no_show_wait_minutes", 2))


def _open_review(*, case: Case, kind: str, call: CallRecord | None, now: datetime) -> Review:
    return Review.objects.create(case=case, call=call, kind=kind, created_at=now,
                                 assigned_to=_assign_reviewer(case=case, exclude_user_ids=set()))


@transaction.atomic
def call_outcome(*, booking_id, user: User, outcome: str, now: datetime, note: str = "",
                 need: str = AccommodationNeed.NO_CAMERA) -> CallRecord:
    """Record the outcome of a call and move the case accordingly (one place for all outcomes)."""
    call = _call_for(booking_id=booking_id, user=user)
    actor = f"user:{user.get_username()}"
    if call.outcome:
        raise CallNotAllowed("The outcome of this call is already recorded.")
    if outcome not in ON_A_CALL:
        raise CallNotAllowed("Only a reviewer can decide that a profile is not verified.")
    case, now = case_lock(call.case_id, now=now)
    policy = case.policy
    if outcome == Outcome.FREELANCER_NO_SHOW:
        allowed_from = no_show_allowed_from(case=case, booking=Booking.objects.get(pk=call.booking_id))
        if now < allowed_from:
            raise CallNotAllowed(f"Wait until {allowed_from:%H:%M} UTC before recording a no-show.")
    if outcome == Outcome.ALT_PATH and need not in AccommodationNeed.values:
        raise CallNotAllowed("Pick which other route the freelancer needs.")
    if outcome == Outcome.VERIFIED:
        unanswered = [q["label"] for q in checklist_questions(call) if q["key"] not in call.answers]
        if unanswered:
            raise CallNotAllowed(f"Answer every checklist item first ({len(unanswered)} left).")
    if outcome == Outcome.ESCALATED:
        terms = protected_terms_in(note)
        if terms:
            raise CallNotAllowed(
                f"The note mentions {', '.join(terms)}: nothing about appearance or protected characteristics "
                "is recorded. Use the checklist answers and a closed reason instead.")
        if len(note) > 300:
            raise CallNotAllowed("Keep the note under 300 characters.")
    call.outcome, call.outcome_at, call.escalation_note = outcome, now, note if outcome == Outcome.ESCALATED else ""
    call.save(update_fields=["outcome", "outcome_at", "escalation_note"])
    booking_finish(booking_id=call.booking_id, now=now)
    audit_record(case=case, actor=actor, action="call_outcome", now=now, reason=note,
                 after={"outcome": outcome, "booking_id": str(call.booking_id)})

    if outcome == Outcome.VERIFIED:
        case_verify(case_id=case.id, actor=actor, reason="Checklist completed on the call.", now=now)
    elif outcome == Outcome.ESCALATED:
        case_transition(case_id=case.id, to_status=CaseStatus.IN_REVIEW, actor=actor, action="escalated",
                        reason=note, now=now)
        _open_review(case=case, kind=ReviewKind.ESCALATION, call=call, now=now)
    else:
        case_transition(case_id=case.id, to_status=CaseStatus.OPEN, actor=actor, action=outcome.lower(),
                        reason=note, now=now)
        case.refresh_from_db()
        if outcome == Outcome.RETRY_TECHNICAL:
            case_deadline_extend(case, hours=policy.get("technical_retry_extension_hours", 48), actor=actor, now=now,
                                 reason="A technical problem on the call: please book again. This is not a failure.")
        elif outcome == Outcome.FREELANCER_NO_SHOW:
            case.freelancer_no_shows += 1
            case_save(case, fields=["freelancer_no_shows"], now=now)
            if case.freelancer_no_shows > policy.get("freelancer_no_show_limit", 2):
                case_transition(case_id=case.id, to_status=CaseStatus.IN_REVIEW, actor="system",
                                action="no_show_limit", reason="Missed more calls than the policy allows.", now=now)
                _open_review(case=case, kind=ReviewKind.NO_SHOW_LIMIT, call=call, now=now)
        elif outcome == Outcome.ALT_PATH:
            case_request_create(case_id=case.id, kind=RequestKind.ACCOMMODATION, need=need, actor=actor, now=now,
                                note="Another route after the call; the freeze is paused until staff resolve it.")
    return call


@transaction.atomic
def booking_rep_no_show(*, booking_id, now: datetime) -> bool:
    """A call never started by its end plus the margin: our fault. The case gets the policy's
    extension, and the freelancer an apology and priority: for 24 hours they may book the very next
    free times, without the usual notice. The case is locked first, then the booking, as everywhere."""
    case_ref = Booking.objects.filter(pk=booking_id).values_list("case_ref", flat=True).first()
    if case_ref is None:
        return False
    case, now = case_lock(case_ref, now=now)
    booking = Booking.objects.select_for_update().filter(pk=booking_id, status=BookingStatus.ACTIVE).first()
    if booking is None or CallRecord.objects.filter(booking_id=booking_id, started_at__isnull=False).exists():
        return False
    if now < booking.ends_at + timedelta(minutes=case.policy.get("rep_no_show_margin_minutes", 5)):
        return False
    booking_finish(booking_id=booking.pk, reason="rep_no_show", now=now)
    audit_record(case=case, actor="system", action="rep_no_show", now=now,
                 reason="The representative did not start the call.", after={"booking_id": str(booking.id)})
    if case.status == CaseStatus.SCHEDULED:
        case_transition(case_id=case.id, to_status=CaseStatus.OPEN, actor="system", action="rep_no_show_reopened",
                        reason="Our representative missed the call.", now=now)
        case.refresh_from_db()
    case.priority_until = now + timedelta(hours=24)
    case_save(case, fields=["priority_until"], now=now)
    case_deadline_extend(case, hours=case.policy.get("rep_no_show_extension_hours", 72), actor="system", now=now,
                         reason="We are sorry: our representative missed your call. Please book again.")
    notices.message(case, kind="rep_no_show", now=now)
    return True


def bookings_rep_no_show_detect(*, now: datetime) -> int:
    """Periodic: active bookings whose slot has ended and whose call was never started."""
    overdue = Booking.objects.filter(status=BookingStatus.ACTIVE, ends_at__lt=now).order_by("ends_at")
    return sum(booking_rep_no_show(booking_id=pk, now=now) for pk in list(overdue.values_list("pk", flat=True)[:500]))


@transaction.atomic
def case_appeal(*, case_id, statement: str, actor: str, now: datetime) -> Review:
    """After NOT_VERIFIED: the freelancer appeals; a reviewer not involved before decides."""
    case, now = case_lock(case_id, now=now)
    if case.status != CaseStatus.NOT_VERIFIED:
        raise RequestNotAllowed("Only a case that was not verified can be appealed.")
    previous = set(Review.objects.filter(case=case).exclude(assigned_to=None).values_list("assigned_to", flat=True))
    CaseRequest.objects.create(case=case, kind=RequestKind.APPEAL, note=statement, created_by=actor, created_at=now)
    case_transition(case_id=case.id, to_status=CaseStatus.IN_REVIEW, actor=actor, action="appealed",
                    reason=statement, now=now)
    return Review.objects.create(case=case, kind=ReviewKind.APPEAL, created_at=now,
                                 assigned_to=_assign_reviewer(case=case, exclude_user_ids=previous))


@transaction.atomic
def review_decide(*, review_id: int, user: User, decision: str, now: datetime, reason_code: str = "",
                  statement: str = "") -> Review:
    """A reviewer decides. Never someone who was on the case's calls; only the assignee or an admin."""
    review = Review.objects.select_for_update().select_related("case").get(pk=review_id)
    if review.decided_at:
        raise ReviewNotAllowed("This review is already decided.")
    if CallRecord.objects.filter(case=review.case, representative_user=user).exists():
        raise ReviewNotAllowed("You were on a call for this case; another reviewer must decide.")
    if review.assigned_to_id != user.pk and not user.is_superuser:
        raise ReviewNotAllowed("This review is assigned to someone else.")
    _, now = case_lock(review.case_id, now=now)
    actor = f"user:{user.get_username()}"
    if decision == Outcome.VERIFIED:
        review.decision = decision
        case_verify(case_id=review.case_id, actor=actor, reason=statement or "Verified on review.", now=now)
    elif decision == Outcome.NOT_VERIFIED:
        if reason_code not in dict(Review._meta.get_field("reason_code").choices) or not statement.strip():
            raise ReviewNotAllowed("Give a reason code and a statement of reasons the freelancer will see.")
        review.decision, review.reason_code, review.statement = decision, reason_code, statement
        case = case_transition(case_id=review.case_id, to_status=CaseStatus.NOT_VERIFIED, actor=actor,
                               action="not_verified", reason=statement, now=now, after={"reason_code": reason_code})
        notices.closed(case, kind="not_verified", now=now, context={"statement": statement})
        notices.webhook(case, event="case.not_verified", now=now, data={"reason_code": reason_code})
    else:
        raise ReviewNotAllowed("Decide VERIFIED or NOT_VERIFIED.")
    review.decided_at = now
    review.save(update_fields=["decision", "reason_code", "statement", "decided_at"])
    CaseRequest.objects.filter(case_id=review.case_id, kind=RequestKind.APPEAL, status=RequestStatus.PENDING).update(
        status=RequestStatus.RESOLVED, resolved_by=actor, resolved_at=now, resolution=review.decision)
    return review
