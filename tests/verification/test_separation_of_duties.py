"""Separation of duties (issue 18), through the real console and freelancer pages with real users of
each role: nobody decides a review of a call they ran (whatever their role), nobody decides the
appeal against their own decision, a single reviewer leaves the appeal unassigned for an admin to
give to someone else, and each refused attempt is an audit row."""

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.test import Client

from scheduling.models import Booking
from tests.factories import CaseFactory, UserFactory
from tests.helpers import client_for, make_reps
from verification.checklist import checklist_questions
from verification.errors import DeciderNotIndependent
from verification.links import freelancer_token
from verification.models import AuditEvent, CallRecord, CaseStatus, Review, ReviewKind
from verify_site.exceptions import api_exception_handler

pytestmark = pytest.mark.django_db


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def reviewer(name: str):
    user = UserFactory(username=name)
    user.groups.add(Group.objects.get_or_create(name="Reviewers")[0])
    return user


@pytest.fixture
def booked(now, frozen_clock):
    [rep] = make_reps(1, now=now)
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-02T13:00:00Z"}, format="json")
    return case, Booking.objects.get(case_ref=case.id), rep.user


def run_call_to_escalation(client: Client, booking) -> None:
    """Start the call from the console, answer the checklist and escalate, as the page does."""
    with time_machine.travel(booking.starts_at, tick=False):
        assert client.post(f"/console/calls/{booking.id}/action/", {"start": "1"}).status_code == 302
        call = CallRecord.objects.get(booking_id=booking.id)
        answers = {f"answer:{q['key']}": q["choices"][0] for q in checklist_questions(call)}
        client.post(f"/console/calls/{booking.id}/action/",
                    {**answers, "outcome": "ESCALATED", "note": "ID photo page was damaged"})
    assert CallRecord.objects.get(booking_id=booking.id).outcome == "ESCALATED"


def decide(client: Client, review: Review, decision: str = "VERIFIED", **extra):
    return client.post(f"/console/reviews/{review.pk}/", {"decision": decision, **extra})


def refusals(case) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(case=case, action="review_decision_refused"))


def test_an_admin_who_ran_the_call_cannot_decide_its_review(booked, admin_user):
    case, booking, rep = booked
    reviewer("rui")
    admin = as_user(admin_user)
    run_call_to_escalation(admin, booking)  # the admin ran the call for the booked representative
    call = CallRecord.objects.get(booking_id=booking.id)
    assert (call.representative_user, call.started_by, call.outcome_by) == (rep, admin_user, admin_user)
    review = Review.objects.get(case=case)
    assert review.assigned_to.username == "rui"  # assignment already skips whoever ran it

    response = decide(admin, review)

    assert response.status_code == 403
    assert "You were on or ran a call for this case" in response.content.decode()
    review.refresh_from_db()
    case.refresh_from_db()
    assert review.decided_at is None and review.decision == "" and case.status == CaseStatus.IN_REVIEW
    [refused] = refusals(case)
    assert refused.actor == f"user:{admin_user.username}"
    assert refused.after == {"review_id": review.pk, "review_kind": "ESCALATION", "attempted_decision": "VERIFIED",
                             "rule": "ran_a_call"}

    assert decide(as_user(review.assigned_to), review).status_code == 302  # the independent reviewer can
    case.refresh_from_db()
    assert case.status == CaseStatus.VERIFIED


def test_the_booked_representative_cannot_decide_even_as_reviewer_and_admin(booked, admin_user):
    case, booking, rep = booked
    rep.groups.add(Group.objects.get_or_create(name="Reviewers")[0])
    rep.is_superuser = True
    rep.save()
    reviewer("rui")
    run_call_to_escalation(as_user(rep), booking)
    review = Review.objects.get(case=case)
    assert review.assigned_to.username == "rui"
    response = decide(as_user(rep), review)
    assert response.status_code == 403
    assert Review.objects.get(pk=review.pk).decided_at is None
    assert [r.after["rule"] for r in refusals(case)] == ["ran_a_call"]


@pytest.fixture
def refused_once(booked, client):
    """A case a single reviewer (rui) refused, then appealed by the freelancer on their page."""
    case, booking, rep = booked
    rui = reviewer("rui")
    run_call_to_escalation(as_user(rep), booking)
    review = Review.objects.get(case=case)
    assert decide(as_user(rui), review, "NOT_VERIFIED", reason_code="id_invalid",
                  statement="The ID document had expired.").status_code == 302
    assert client.post(f"/c/{freelancer_token(case)}/appeal/", {"statement": "I have a new passport"}
                       ).status_code == 302
    appeal = Review.objects.get(case=case, decided_at__isnull=True)
    return case, appeal, rui, rep


def test_with_a_single_reviewer_the_appeal_stays_unassigned_and_the_admin_is_told(refused_once, admin_user):
    case, appeal, rui, rep = refused_once
    assert appeal.kind == ReviewKind.APPEAL and appeal.assigned_to is None

    queue = as_user(admin_user).get("/console/reviews/").content.decode()
    assert "unassigned: no eligible reviewer" in queue
    page = as_user(admin_user).get(f"/console/reviews/{appeal.pk}/").content.decode()
    assert "Unassigned: no reviewer is eligible" in page and "Assign another person" in page
    options = page[page.index('name="assignee"'):page.index("</select>", page.index('name="assignee"'))]
    assert f'value="{admin_user.pk}"' in options  # the admin was on nothing
    assert f'value="{rui.pk}"' not in options and f'value="{rep.pk}"' not in options  # never the deciders

    response = as_user(admin_user).post(f"/console/reviews/{appeal.pk}/assign/", {"assignee": rui.pk})
    assert response.status_code == 400
    appeal.refresh_from_db()
    assert appeal.assigned_to is None  # the original decider is never let through

    sam = UserFactory(username="sam")  # staff, not yet a reviewer: the admin may still pick them
    response = as_user(admin_user).post(f"/console/reviews/{appeal.pk}/assign/", {"assignee": sam.pk})
    assert response.status_code == 302
    appeal.refresh_from_db()
    assert appeal.assigned_to == sam
    assigned = AuditEvent.objects.get(case=case, action="review_assigned")
    assert assigned.actor == f"user:{admin_user.username}" and assigned.after["assigned_to"] == "sam"

    sam.groups.add(Group.objects.get(name="Reviewers"))
    assert decide(as_user(sam), appeal).status_code == 302
    case.refresh_from_db()
    appeal.refresh_from_db()
    assert case.status == CaseStatus.VERIFIED and appeal.decided_by == sam


def test_the_earlier_decider_cannot_decide_the_appeal_even_when_assigned_to_it(refused_once):
    case, appeal, rui, rep = refused_once
    Review.objects.filter(pk=appeal.pk).update(assigned_to=rui)  # as an assignment before this rule did

    response = decide(as_user(rui), appeal)

    assert response.status_code == 403
    assert "You decided this case before" in response.content.decode()
    appeal.refresh_from_db()
    case.refresh_from_db()
    assert appeal.decided_at is None and case.status == CaseStatus.IN_REVIEW
    [refused] = refusals(case)
    assert refused.actor == "user:rui" and refused.after["rule"] == "earlier_decider"
    assert refused.after["review_kind"] == "APPEAL" and refused.reason.startswith("You decided this case before")


def test_an_admin_who_decided_the_case_cannot_decide_its_appeal(booked, client, admin_user):
    case, booking, rep = booked
    run_call_to_escalation(as_user(rep), booking)  # no reviewer at all: the escalation is unassigned
    review = Review.objects.get(case=case)
    assert review.assigned_to is None
    admin = as_user(admin_user)
    assert decide(admin, review, "NOT_VERIFIED", reason_code="id_invalid",
                  statement="The ID document had expired.").status_code == 302
    client.post(f"/c/{freelancer_token(case)}/appeal/", {"statement": "I have a new passport"})
    appeal = Review.objects.get(case=case, decided_at__isnull=True)

    response = decide(admin, appeal)

    assert response.status_code == 403
    assert Review.objects.get(pk=appeal.pk).decided_at is None
    assert [r.after["rule"] for r in refusals(case)] == ["earlier_decider"]


def test_the_refusal_has_the_api_error_shape():
    response = api_exception_handler(DeciderNotIndependent("You decided this case before.", rule="earlier_decider"),
                                     {})
    assert response.status_code == 403
    assert response.data == {"code": "decider_not_independent", "detail": "You decided this case before.",
                             "rule": "earlier_decider"}


ROLE_PAGES = {
    #                        reviews review call  hours-add calendar
    "representative": (403, 403, 200, 302, 200),
    "reviewer": (200, 200, 403, 403, 403),
    "staff_without_role": (403, 403, 403, 403, 403),
    "admin": (200, 200, 200, 403, 200),
}


@pytest.mark.parametrize("role", list(ROLE_PAGES))
def test_console_pages_a_role_may_not_use_answer_403(booked, role, admin_user, now):
    case, booking, rep = booked
    rui = reviewer("rui")
    review = Review.objects.create(case=case, kind="ESCALATION", assigned_to=rui, created_at=now)
    user = {"representative": rep, "reviewer": rui, "staff_without_role": UserFactory(username="plain-staff"),
            "admin": admin_user}[role]
    client = as_user(user)
    got = (client.get("/console/reviews/").status_code, client.get(f"/console/reviews/{review.pk}/").status_code,
           client.get(f"/console/calls/{booking.id}/").status_code,
           client.post("/console/hours/add/", {"hours-weekday": "5", "hours-starts": "09:00",
                                               "hours-ends": "10:00"}).status_code,
           client.get("/console/calendar/").status_code)
    assert got == ROLE_PAGES[role]
    if role == "representative":
        assert "Reviews" not in client.get("/console/").content.decode().split("</nav>")[0]
    if role == "reviewer":  # the menu names only the pages they may open
        nav = client.get("/console/reviews/").content.decode().split("</nav>")[0]
        assert "Reviews" in nav and "/console/calendar/" not in nav
    if role == "staff_without_role":
        assert client.get("/console/").status_code == 403


def test_the_django_admin_cannot_assign_the_earlier_decider_either(refused_once, admin_user):
    case, appeal, rui, rep = refused_once
    admin = as_user(admin_user)
    url = f"/admin/verification/review/{appeal.pk}/change/"
    for excluded in (rui, rep):
        response = admin.post(url, {"assigned_to": excluded.pk})
        assert response.status_code == 200 and "decided it before; pick someone else" in response.content.decode()
    appeal.refresh_from_db()
    assert appeal.assigned_to is None
    sam = reviewer("sam")
    assert admin.post(url, {"assigned_to": sam.pk}).status_code == 302
    appeal.refresh_from_db()
    assert appeal.assigned_to == sam
    assert AuditEvent.objects.get(case=case, action="review_assigned").after["assigned_to"] == "sam"


def test_the_migration_finds_who_ran_earlier_calls_in_the_audit_log(booked, admin_user):
    """Calls and reviews from before the rule: who started the call and who recorded its outcome
    come from their audit rows, the decider is the assignee."""
    import importlib

    from django.apps import apps

    case, booking, rep = booked
    rui = reviewer("rui")
    run_call_to_escalation(as_user(admin_user), booking)
    review = Review.objects.get(case=case)
    assert decide(as_user(rui), review).status_code == 302
    CallRecord.objects.update(started_by=None, outcome_by=None)  # as the rows were before the migration
    Review.objects.update(decided_by=None)

    importlib.import_module("verification.migrations.0016_separation_of_duties").backfill(apps, None)

    call = CallRecord.objects.get(booking_id=booking.id)
    assert (call.started_by, call.outcome_by) == (admin_user, admin_user)
    assert Review.objects.get(pk=review.pk).decided_by == rui
