"""Protected attributes are never recorded: profile claims outside the allow-list are refused with
a 400 naming the field, and every free text staff write is screened (word boundaries, inflections,
synonyms) and refused before anything is stored, not even an audit row."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from notifications.models import OutboxMessage
from scheduling.models import Booking, TimeOff
from scheduling.screening import ProtectedTermsInText, protected_terms_found
from tests.factories import CaseFactory, UserFactory
from tests.helpers import client_for, make_reps
from verification.checklist import checklist_questions
from verification.deadlines.services import case_extend, case_unfreeze
from verification.models import AuditEvent, CallRecord, Case, CaseRequest, CaseStatus, Freelancer, Outcome, Review
from verification.services.calls import call_outcome, call_start
from verification.services.cases import case_link_revoke, case_withdraw
from verification.services.requests import case_hold
from verification.services.reviews import review_decide

pytestmark = pytest.mark.django_db

MUST_PASS = [
    "The ID document is too old",
    "cross",
    "short",
    "Cross-checked the name against the payout record",
    "The call was short because the connection dropped",
    "The call was cut short",
    "Their ID document is too old",
    "Passport is older than ten years",
    "Old passport, expired in 2019",
    "The photo on the ID is black and white",
    "The background was too dark to read the document",
    "He was in a dark room, the document was unreadable",
    "The freelancer's payout name does not match the ID",
    "She asked to rebook for a better connection",
    "Pretty sure he is the account holder",
    "Managed to confirm the location",
    "Human error on our side",
    "Check the age of the document",
    "He was on mute for a minute",
    "The freelancer crossed out the old address",
    "Spoke Arabic with the interpreter",
    "The title on the profile is out of date",
    "Asked to escalate: the name on the ID differs from the payout name",
    "The message was sent in English",
]

MUST_REFUSE = [
    "Two women were on the call",
    "Their appearance did not match the profile photo",
    "Heavily accented English",
    "She is old",
    "He looked about 60 years old",
    "They seemed older than in the photo",
    "The applicant looked too young",
    "An old lady joined",
    "The freelancer is short",
    "He is black",
    "Her skin was darker than in the photo",
    "He wore a cross",
    "She wears a hijab",
    "Speaks broken English",
    "Not a native speaker",
    "Strong accent",
    "Stuttered a lot",
    "The person was blind",
    "In a wheelchair",
    "They are disabled people",
    "She's pregnant",
    "He is gay",
    "Good-looking guy",
    "The man seemed nervous",
    "Female voice",
    "Her hair was different",
]


@pytest.mark.parametrize("text", MUST_PASS)
def test_ordinary_notes_pass(text):
    assert protected_terms_found(text) == []


@pytest.mark.parametrize("text", MUST_REFUSE)
def test_notes_about_the_person_are_refused(text):
    assert protected_terms_found(text) != []


def test_the_refusal_names_the_words_and_the_category():
    with pytest.raises(ProtectedTermsInText) as refused:
        from scheduling.screening import text_screen

        text_screen("Two women were on the call", field="note")
    assert refused.value.status_code == 400 and refused.value.code == "protected_terms"
    assert refused.value.extra == {"field": "note", "terms": ["women"]}
    assert "gender or sex" in refused.value.detail


# --- profile claims ------------------------------------------------------------------------------

def flag_body(claims) -> dict:
    return {
        "freelancer": {"external_id": "fl-7", "email": "amara@example.com", "name": "Amara Okafor",
                       "timezone": "Africa/Lagos", "language": "en"},
        "reason_code": "profile_details", "public_reason": "Please confirm your profile.",
        "profile_claims": claims,
    }


@pytest.mark.parametrize("claim, field", [
    ({"field": "gender", "value": "female"}, "profile_claims[1].field"),
    ({"field": "Ethnicity", "value": "x"}, "profile_claims[1].field"),
    ({"field": "religion", "value": "x"}, "profile_claims[1].field"),
    ({"field": "title", "value": "Female web developer"}, "profile_claims[1].value"),
])
def test_a_claim_outside_the_allow_list_is_refused_with_a_400_naming_it_and_nothing_is_stored(
        marketplace, claim, field):
    response = marketplace.post("/api/v1/cases", flag_body([{"field": "country", "value": "Nigeria"}, claim]),
                                format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["field"] == field and body["code"] in ("claim_not_allowed", "protected_terms")
    assert not Case.objects.exists() and not Freelancer.objects.exists()
    assert not AuditEvent.objects.exists() and not OutboxMessage.objects.exists()


def test_allowed_claims_are_stored_with_normalised_field_names(marketplace):
    response = marketplace.post("/api/v1/cases", flag_body([
        {"field": "Payout name", "value": "A. Okafor"}, {"field": "country", "value": "Nigeria"},
        {"field": "title", "value": "Senior data engineer"}]), format="json")
    assert response.status_code == 201, response.content
    assert Case.objects.get().profile_claims == [
        {"field": "payout_name", "value": "A. Okafor"}, {"field": "country", "value": "Nigeria"},
        {"field": "title", "value": "Senior data engineer"}]


# --- staff free text -----------------------------------------------------------------------------

HOSTILE = "Two women were on the call"


@pytest.fixture
def booked(now, frozen_clock):
    [rep] = make_reps(1, now=now)
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-02T13:00:00Z"}, format="json")
    booking = Booking.objects.get(case_ref=case.id)
    reviewer = UserFactory(username="rui")
    reviewer.groups.add(Group.objects.get_or_create(name="Reviewers")[0])
    return case, booking, rep.user


def no_text_anywhere(text: str) -> None:
    assert not AuditEvent.objects.filter(reason__icontains=text).exists()
    assert not CallRecord.objects.filter(escalation_note__icontains=text).exists()
    assert not CaseRequest.objects.filter(note__icontains=text).exists()
    assert not CaseRequest.objects.filter(resolution__icontains=text).exists()
    assert not Review.objects.filter(statement__icontains=text).exists()
    assert not OutboxMessage.objects.filter(context__icontains=text).exists()


@pytest.mark.parametrize("outcome", [Outcome.RETRY_TECHNICAL, Outcome.FREELANCER_NO_SHOW, Outcome.ALT_PATH,
                                     Outcome.ESCALATED, Outcome.VERIFIED])
def test_every_outcomes_note_is_screened_before_anything_is_stored(booked, outcome):
    case, booking, rep = booked
    call_start(booking_id=booking.id, user=rep, now=booking.starts_at)
    audit_before = AuditEvent.objects.count()
    with pytest.raises(ProtectedTermsInText):
        call_outcome(booking_id=booking.id, user=rep, outcome=outcome, now=booking.starts_at + timedelta(minutes=20),
                     note=HOSTILE, need="phone_only")
    case.refresh_from_db()
    assert case.status == CaseStatus.SCHEDULED and AuditEvent.objects.count() == audit_before
    assert CallRecord.objects.get().outcome == ""
    no_text_anywhere(HOSTILE)


def test_the_console_refuses_the_note_with_the_message_and_stores_nothing(booked):
    case, booking, rep = booked
    client = Client()
    client.force_login(rep)
    client.post(f"/console/calls/{booking.id}/action/", {"start": "1"})
    page = client.post(f"/console/calls/{booking.id}/action/", {"outcome": "ESCALATED", "note": HOSTILE},
                       follow=True).content.decode()
    assert "nothing about appearance or a protected characteristic is recorded" in page
    assert CallRecord.objects.get().outcome == "" and not Review.objects.exists()
    no_text_anywhere(HOSTILE)


def test_a_reviewers_statement_is_screened(booked):
    case, booking, rep = booked
    call_start(booking_id=booking.id, user=rep, now=booking.starts_at)
    call_outcome(booking_id=booking.id, user=rep, outcome=Outcome.ESCALATED, now=booking.starts_at,
                 note="The ID photo page was damaged")
    review = Review.objects.get()
    for decision in (Outcome.NOT_VERIFIED, Outcome.VERIFIED):
        with pytest.raises(ProtectedTermsInText):
            review_decide(review_id=review.pk, user=review.assigned_to, decision=decision, reason_code="id_invalid",
                          statement="Their appearance did not match the profile photo",
                          now=booking.starts_at + timedelta(hours=1))
    review.refresh_from_db()
    case.refresh_from_db()
    assert review.decided_at is None and case.status == CaseStatus.IN_REVIEW
    no_text_anywhere("appearance")


@pytest.mark.parametrize("service", [case_hold, case_extend, case_unfreeze, case_link_revoke, case_withdraw])
def test_admin_reasons_are_screened(booked, now, service):
    case, booking, rep = booked
    audit_before = AuditEvent.objects.count()
    with pytest.raises(ProtectedTermsInText):
        service(case_id=case.id, actor="user:admin", reason="Heavily accented English", now=now)
    assert AuditEvent.objects.count() == audit_before
    no_text_anywhere("accented")


def test_the_marketplace_withdraw_reason_is_screened(marketplace, booked):
    case, booking, rep = booked
    response = marketplace.post(f"/api/v1/cases/{case.id}/withdraw", {"reason": "She is old"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "protected_terms"
    case.refresh_from_db()
    assert case.status == CaseStatus.SCHEDULED
    no_text_anywhere("She is old")


def test_a_time_off_note_is_screened(booked):
    case, booking, rep = booked
    client = Client()
    client.force_login(rep)
    page = client.post("/console/time-off/add/", {"off-starts": "2026-03-03T09:00", "off-ends": "2026-03-03T12:00",
                                                  "off-note": "Interview with a pregnant freelancer"},
                       follow=True).content.decode()
    assert "protected characteristic" in page
    assert not TimeOff.objects.exists()


def test_a_claim_stored_before_the_allow_list_is_never_asked_about(booked):
    case, booking, rep = booked
    Case.objects.filter(pk=case.pk).update(profile_claims=[{"field": "gender", "value": "female"},
                                                           {"field": "country", "value": "India"}])
    call = call_start(booking_id=booking.id, user=rep, now=booking.starts_at)
    call.case.refresh_from_db()
    keys = [q["key"] for q in checklist_questions(call)]
    assert "fact:country" in keys and "fact:gender" not in keys


def test_a_checklist_version_that_asks_about_the_person_is_refused_in_the_admin(admin_client):
    from verification.models import ChecklistTemplate

    before = ChecklistTemplate.objects.count()
    items = '[{"key": "g", "label": "Gender matches the profile", "choices": ["yes", "no"]}]'
    page = admin_client.post("/admin/verification/checklisttemplate/add/", {"items": items})
    assert page.status_code == 200 and "gender or sex" in page.content.decode()
    assert ChecklistTemplate.objects.count() == before
    ok = '[{"key": "id", "label": "The ID document is valid", "choices": ["yes", "no"]}]'
    assert admin_client.post("/admin/verification/checklisttemplate/add/", {"items": ok}).status_code == 302
    assert ChecklistTemplate.objects.count() == before + 1


def test_a_huge_text_is_refused_at_once_not_matched():
    import time

    from scheduling.errors import DomainError
    from scheduling.screening import text_screen

    started = time.monotonic()
    with pytest.raises(DomainError, match="too long") as refused:
        text_screen("The ID document was checked. " * 100_000, field="note")
    assert refused.value.status_code == 400 and time.monotonic() - started < 0.5
