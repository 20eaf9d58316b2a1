"""The call: the representative starts it (the timer's start is stored), answers the closed
checklist and records one outcome, whose effect on the case is `verification.services.outcomes`."""

from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from scheduling.errors import message
from scheduling.models import Booking
from scheduling.screening import text_screen
from scheduling.services.bookings import booking_finish
from verification.access import acts_for
from verification.checklist import checklist_current, checklist_questions
from verification.errors import CallNotAllowed
from verification.models import AccommodationNeed, CallRecord, Case
from verification.services.audit import audit_record
from verification.services.cases import case_lock, case_save
from verification.services.outcomes import OUTCOMES, Effect

NOTE_MAX = 300


def no_show_allowed_from(*, case: Case, booking: Booking) -> datetime:
    """A freelancer no-show can be recorded only after the policy's wait from the call's start."""
    return booking.starts_at + case.policy.freelancer_no_show_wait


def _call_for(*, booking_id, user: User) -> CallRecord:
    call = CallRecord.objects.select_for_update(of=("self",)).select_related("case", "checklist").filter(
        booking_id=booking_id).first()
    if call is None or not acts_for(user, call.representative_user_id):
        raise CallNotAllowed(_("This is not one of your calls."))
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
    if not acts_for(user, booking.representative.user_id):
        raise CallNotAllowed(_("This is not one of your calls."))
    call, created = CallRecord.objects.get_or_create(
        booking_id=booking.id,
        defaults={"case_id": booking.case_ref, "representative_user_id": booking.representative.user_id,
                  "started_by": user, "checklist": checklist_current(now=now), "started_at": now},
    )
    if created:
        case_save(case, fields=[], now=now)
        audit_record(case=case, actor=f"user:{user.get_username()}", action="call_started", now=now,
                     after={"booking_id": str(booking.id), "checklist_version": call.checklist.version})
    return call


def _answers_record(call: CallRecord, answers: dict[str, str]) -> None:
    if not answers:
        return
    if call.outcome:
        raise CallNotAllowed(_("The outcome is recorded; the checklist can no longer change."))
    questions = {q["key"]: q for q in checklist_questions(call)}
    for key, choice in answers.items():
        if key not in questions or choice not in questions[key]["choices"]:
            raise CallNotAllowed(_("Pick one of the listed answers."))
    call.answers = {**call.answers, **answers}
    call.save(update_fields=["answers"])


@transaction.atomic
def call_record(*, booking_id, user: User, answers: dict[str, str], now: datetime, outcome: str = "",
                note: str = "", need: str = "") -> CallRecord:
    """What the representative saved on the call page: checklist answers, and the outcome if one
    was chosen. All or nothing: a refused outcome keeps the answers unsaved too. The note is
    screened for protected characteristics before anything is written."""
    text_screen(note, field="note")
    call = _call_for(booking_id=booking_id, user=user)
    _answers_record(call, answers)
    if outcome:
        call = call_outcome(booking_id=booking_id, user=user, outcome=outcome, now=now, note=note, need=need)
    return call


@transaction.atomic
def call_outcome(*, booking_id, user: User, outcome: str, now: datetime, note: str = "",
                 need: str = AccommodationNeed.NO_CAMERA) -> CallRecord:
    """Record the outcome of a call and move the case accordingly (`OUTCOMES`). Whatever the outcome,
    its note goes into the audit log: it is screened first (`scheduling.screening`)."""
    text_screen(note, field="note")
    call = _call_for(booking_id=booking_id, user=user)
    if call.outcome:
        raise CallNotAllowed(_("The outcome of this call is already recorded."))
    rule = OUTCOMES.get(outcome)
    if rule is None:
        raise CallNotAllowed(_("Only a reviewer can decide that a profile is not verified."))
    case, now = case_lock(call.case_id, now=now)
    if rule.after_no_show_wait:
        allowed_from = no_show_allowed_from(case=case, booking=Booking.objects.get(pk=call.booking_id))
        if now < allowed_from:
            raise CallNotAllowed(message(_("Wait until %(time)s UTC before recording a no-show."),
                                         time=f"{allowed_from:%H:%M}"))
    if rule.needs_route and need not in AccommodationNeed.values:
        raise CallNotAllowed(_("Pick which other route the freelancer needs."))
    if rule.needs_every_answer:
        unanswered = [q["label"] for q in checklist_questions(call) if q["key"] not in call.answers]
        if unanswered:
            raise CallNotAllowed(message(_("Answer every checklist item first (%(left)s left)."), left=len(unanswered)))
    if len(note) > NOTE_MAX:
        raise CallNotAllowed(message(_("Keep the note under %(limit)s characters."), limit=NOTE_MAX))
    actor = f"user:{user.get_username()}"
    call.outcome, call.outcome_at, call.escalation_note = outcome, now, note if rule.keeps_note else ""
    call.outcome_by = user
    call.save(update_fields=["outcome", "outcome_at", "escalation_note", "outcome_by"])
    booking_finish(booking_id=call.booking_id, now=now)
    audit_record(case=case, actor=actor, action="call_outcome", now=now, reason=note,
                 after={"outcome": outcome, "booking_id": str(call.booking_id)})
    rule.effect(Effect(case=case, call=call, actor=actor, note=note, need=need, now=now))
    return call
