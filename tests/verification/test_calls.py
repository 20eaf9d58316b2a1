"""Calls, outcomes and reviews: what each outcome does to the case, the no-show windows, the
reviewer-is-not-the-caller rule, and the refusal of notes about protected characteristics."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group

from notifications.models import OutboxMessage
from scheduling.models import Booking, BookingStatus
from scheduling.screening import ProtectedTermsInText
from tests.factories import CaseFactory, UserFactory
from tests.helpers import client_for, make_reps
from verification.checklist import checklist_questions
from verification.deadlines.guards import can_submit_proposals, freeze_guard_failures
from verification.errors import CallNotAllowed, ReviewNotAllowed
from verification.models import AuditEvent, CallRecord, CaseStatus, ChecklistTemplate, Outcome, Review
from verification.services.calls import call_outcome, call_record, call_start
from verification.services.no_shows import bookings_rep_no_show_detect
from verification.services.reviews import case_appeal, review_decide

pytestmark = pytest.mark.django_db


@pytest.fixture
def booked(now, frozen_clock):
    [rep] = make_reps(1, now=now)
    case = CaseFactory(profile_claims=[{"field": "country", "value": "India"}, {"field": "name", "value": "A B"}])
    client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-02T13:00:00Z"}, format="json")
    booking = Booking.objects.get(case_ref=case.id)
    return case, booking, rep.user


def at_start(booking, minutes: float = 0):
    return booking.starts_at + timedelta(minutes=minutes)


def answer_all(booking, user, now) -> None:
    call = CallRecord.objects.get(booking_id=booking.id)
    for question in checklist_questions(call):
        call_record(booking_id=booking.id, user=user, answers={question["key"]: question["choices"][0]}, now=now)


def reviewer(name: str = "rui"):
    user = UserFactory(username=name)
    user.groups.add(Group.objects.get_or_create(name="Reviewers")[0])
    return user


def test_the_timer_start_is_stored_and_survives_a_reload(booked):
    case, booking, rep = booked
    first = call_start(booking_id=booking.id, user=rep, now=at_start(booking))
    again = call_start(booking_id=booking.id, user=rep, now=at_start(booking, 1.5))
    assert first.pk == again.pk and again.started_at == at_start(booking)
    assert again.checklist.version == 1
    questions = [q["key"] for q in checklist_questions(again)]
    assert questions == ["consent", "presence", "id_type", "id_issuer", "id_name", "fact:country", "fact:name", "close"]


def test_another_representative_cannot_touch_the_call(booked):
    case, booking, rep = booked
    other = UserFactory(username="other-rep")
    with pytest.raises(CallNotAllowed):
        call_start(booking_id=booking.id, user=other, now=at_start(booking))
    call_start(booking_id=booking.id, user=rep, now=at_start(booking))
    with pytest.raises(CallNotAllowed):
        call_outcome(booking_id=booking.id, user=other, outcome=Outcome.VERIFIED, now=at_start(booking, 3))


def test_answers_are_closed_choices(booked):
    case, booking, rep = booked
    call_start(booking_id=booking.id, user=rep, now=at_start(booking))
    with pytest.raises(CallNotAllowed):
        call_record(booking_id=booking.id, user=rep, answers={"id_name": "looks foreign"}, now=at_start(booking))
    with pytest.raises(CallNotAllowed):
        call_record(booking_id=booking.id, user=rep, answers={"skin_tone": "yes"}, now=at_start(booking))
    assert CallRecord.objects.get().answers == {}


def test_verified_needs_the_whole_checklist_then_restores_everything(booked, marketplace):
    case, booking, rep = booked
    call_start(booking_id=booking.id, user=rep, now=at_start(booking))
    with pytest.raises(CallNotAllowed, match="8 left"):
        call_outcome(booking_id=booking.id, user=rep, outcome=Outcome.VERIFIED, now=at_start(booking, 3))
    answer_all(booking, rep, at_start(booking, 1))
    call_outcome(booking_id=booking.id, user=rep, outcome=Outcome.VERIFIED, now=at_start(booking, 3))
    case.refresh_from_db()
    booking.refresh_from_db()
    assert case.status == CaseStatus.VERIFIED and case.standing_restored_at == at_start(booking, 3)
    assert booking.status == BookingStatus.DONE
    assert can_submit_proposals(case)


def test_retry_technical_is_not_a_failure(booked):
    case, booking, rep = booked
    deadline = case.deadline_at
    call_start(booking_id=booking.id, user=rep, now=at_start(booking))
    call_outcome(booking_id=booking.id, user=rep, outcome=Outcome.RETRY_TECHNICAL, now=at_start(booking, 2))
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.deadline_at == deadline + timedelta(hours=48)
    assert case.freelancer_no_shows == 0
    assert OutboxMessage.objects.filter(case_ref=case.id, kind="deadline_extended").exists()


def test_freelancer_no_show_only_after_the_wait_and_counted_up_to_the_limit(booked, now):
    case, booking, rep = booked
    call_start(booking_id=booking.id, user=rep, now=at_start(booking))
    no_show = Outcome.FREELANCER_NO_SHOW
    with pytest.raises(CallNotAllowed, match="Wait until"):
        call_outcome(booking_id=booking.id, user=rep, outcome=no_show, now=at_start(booking, 1))
    call_outcome(booking_id=booking.id, user=rep, outcome=no_show, now=at_start(booking, 2))
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.freelancer_no_shows == 1
    case.freelancer_no_shows = 2  # two missed calls already
    case.save()
    with time_machine.travel(at_start(booking, 3), tick=False):  # the freelancer books again after the call
        client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-02T14:30:00Z"}, format="json")
    second = Booking.objects.get(case_ref=case.id, status=BookingStatus.ACTIVE)
    call_start(booking_id=second.id, user=rep, now=at_start(second))
    call_outcome(booking_id=second.id, user=rep, outcome=Outcome.FREELANCER_NO_SHOW, now=at_start(second, 3))
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_REVIEW and Review.objects.get(case=case).kind == "NO_SHOW_LIMIT"


def test_alt_path_pauses_the_freeze(booked):
    case, booking, rep = booked
    call_start(booking_id=booking.id, user=rep, now=at_start(booking))
    call_outcome(booking_id=booking.id, user=rep, outcome=Outcome.ALT_PATH, now=at_start(booking, 1),
                       need="phone_only")
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert "nothing_pending" in [f.guard for f in freeze_guard_failures(case)]


def test_escalation_notes_about_protected_characteristics_are_refused_and_change_nothing(booked):
    case, booking, rep = booked
    reviewer()
    call_start(booking_id=booking.id, user=rep, now=at_start(booking))
    for note in ("She looked too young for the photo", "strong accent, not fluent", "wearing a hijab"):
        with pytest.raises(ProtectedTermsInText, match="nothing about appearance or a protected characteristic"):
            call_outcome(booking_id=booking.id, user=rep, outcome=Outcome.ESCALATED, now=at_start(booking, 2),
                               note=note)
    case.refresh_from_db()
    assert case.status == CaseStatus.SCHEDULED and not Review.objects.exists()
    assert CallRecord.objects.get().outcome == ""


def test_not_verified_is_never_chosen_on_a_call(booked):
    case, booking, rep = booked
    call_start(booking_id=booking.id, user=rep, now=at_start(booking))
    with pytest.raises(CallNotAllowed, match="Only a reviewer"):
        call_outcome(booking_id=booking.id, user=rep, outcome=Outcome.NOT_VERIFIED, now=at_start(booking, 2))


def test_escalation_goes_to_a_reviewer_who_was_not_on_the_call_then_appeal_to_another(booked):
    case, booking, rep = booked
    rep.groups.add(Group.objects.get_or_create(name="Reviewers")[0])  # the caller is also a reviewer
    first, second = reviewer("rui"), reviewer("sam")
    call_start(booking_id=booking.id, user=rep, now=at_start(booking))
    call_outcome(booking_id=booking.id, user=rep, outcome=Outcome.ESCALATED, now=at_start(booking, 2),
                       note="ID photo page was damaged")
    review = Review.objects.get(case=case)
    assert review.assigned_to in (first, second) and review.assigned_to != rep
    with pytest.raises(ReviewNotAllowed, match="You were on or ran a call"):
        review_decide(review_id=review.pk, user=rep, decision=Outcome.VERIFIED, now=at_start(booking, 60))
    with pytest.raises(ReviewNotAllowed, match="statement of reasons"):
        review_decide(review_id=review.pk, user=review.assigned_to, decision=Outcome.NOT_VERIFIED,
                            now=at_start(booking, 60))
    review_decide(review_id=review.pk, user=review.assigned_to, decision=Outcome.NOT_VERIFIED,
                        reason_code="id_invalid", statement="The ID document had expired.", now=at_start(booking, 60))
    case.refresh_from_db()
    assert case.status == CaseStatus.NOT_VERIFIED
    assert OutboxMessage.objects.get(case_ref=case.id, kind="not_verified").context["statement"] == \
        "The ID document had expired."
    appeal = case_appeal(case_id=case.id, statement="I have a new passport", actor="freelancer",
                               now=at_start(booking, 120))
    assert appeal.assigned_to not in (rep, review.assigned_to)
    review_decide(review_id=appeal.pk, user=appeal.assigned_to, decision=Outcome.VERIFIED,
                        now=at_start(booking, 180))
    case.refresh_from_db()
    assert case.status == CaseStatus.VERIFIED


def test_a_call_never_started_becomes_a_rep_no_show_automatically(booked):
    case, booking, rep = booked
    deadline = case.deadline_at
    assert bookings_rep_no_show_detect(now=booking.ends_at + timedelta(minutes=4)) == 0  # within the margin
    assert bookings_rep_no_show_detect(now=booking.ends_at + timedelta(minutes=6)) == 1
    case.refresh_from_db()
    booking.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.deadline_at == deadline + timedelta(hours=72)
    assert booking.status == BookingStatus.DONE and booking.cancel_reason == "rep_no_show"
    assert AuditEvent.objects.filter(case=case, action="rep_no_show").count() == 1
    assert OutboxMessage.objects.filter(case_ref=case.id, kind="rep_no_show").exists()
    assert bookings_rep_no_show_detect(now=booking.ends_at + timedelta(minutes=7)) == 0


def test_a_started_call_is_not_a_rep_no_show(booked):
    case, booking, rep = booked
    call_start(booking_id=booking.id, user=rep, now=at_start(booking))
    assert bookings_rep_no_show_detect(now=booking.ends_at + timedelta(hours=1)) == 0


def test_editing_a_checklist_in_the_admin_makes_a_new_version_and_calls_keep_theirs(booked, admin_client):
    case, booking, rep = booked
    call = call_start(booking_id=booking.id, user=rep, now=at_start(booking))
    admin_client.post("/admin/verification/checklisttemplate/1/change/",
                      {"items": '[{"key": "consent", "label": "Consent", "choices": ["yes", "no"]}]'})
    assert list(ChecklistTemplate.objects.values_list("version", flat=True)) == [2, 1]
    call.refresh_from_db()
    assert call.checklist.version == 1


def test_after_our_no_show_the_freelancer_may_book_the_very_next_times(booked):
    import time_machine

    from tests.helpers import send_due

    case, booking, rep = booked
    missed = booking.ends_at + timedelta(minutes=6)
    bookings_rep_no_show_detect(now=missed)
    soon = (booking.starts_at + timedelta(minutes=20)).isoformat().replace("+00:00", "Z")  # 9 minutes ahead
    with time_machine.travel(booking.starts_at + timedelta(minutes=11), tick=False):
        assert client_for(case).post("/api/v1/case/booking", {"starts_at": soon}, format="json").status_code == 201
    other = CaseFactory()
    with time_machine.travel(booking.starts_at + timedelta(minutes=11), tick=False):
        later = (booking.starts_at + timedelta(minutes=25)).isoformat().replace("+00:00", "Z")
        response = client_for(other).post("/api/v1/case/booking", {"starts_at": later}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "too_soon"  # others keep the usual notice
    from django.core import mail

    send_due(missed)
    assert any("without the usual notice" in m.body for m in mail.outbox if "missed your call" in m.subject)


def test_a_call_starts_even_if_the_checklist_rows_were_lost(booked):
    case, booking, rep = booked
    ChecklistTemplate.objects.all().delete()
    call = call_start(booking_id=booking.id, user=rep, now=at_start(booking))
    assert call.checklist.version == 1 and checklist_questions(call)[0]["key"] == "consent"
