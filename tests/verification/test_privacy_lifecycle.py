"""The privacy lifecycle: personal data of cases closed longer than the retention period is erased
by an idempotent, audited task; the marketplace exports everything held about a freelancer and
asks to erase it (409 while a case is open). The audit rows say that it happened, not the data."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import DatabaseError, transaction
from django.test import override_settings

from notifications.models import OutboxMessage
from scheduling.models import Booking
from tests.helpers import client_for, make_reps, send_due
from verification.links import LinkInvalid, case_from_token, freelancer_token
from verification.models import AuditEvent, Case, CaseStatus, Freelancer
from verification.services.privacy import cases_retention_apply

pytestmark = pytest.mark.django_db

EMAIL, NAME = "amara.okafor@example.com", "Amara Okafor"
PUBLIC_REASON = "The name on your profile differs from your payout account ref 7781."
WITHDRAW_REASON = "Flag raised against the wrong account 7781."


def flag(marketplace, external_id: str = "fl-77") -> Case:
    response = marketplace.post("/api/v1/cases", {
        "freelancer": {"external_id": external_id, "email": EMAIL, "name": NAME, "timezone": "Africa/Lagos",
                       "language": "en"},
        "reason_code": "profile_details", "public_reason": PUBLIC_REASON,
        "profile_claims": [{"field": "payout_name", "value": "A. Okafor"}],
        "standing": {"badges": ["Top Rated"]},
    }, format="json")
    assert response.status_code == 201, response.content
    return Case.objects.get(pk=response.json()["id"])


@pytest.fixture
def closed_case(marketplace, now, frozen_clock):
    """A case with every kind of personal data: contact details, claims, standing, a booking, emails
    sent, free text in its audit, then withdrawn (closed at `now`)."""
    make_reps(1, now=now)
    case = flag(marketplace)
    send_due(now)
    assert client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-04T13:00:00Z"},
                                 format="json").status_code == 201
    assert marketplace.post(f"/api/v1/cases/{case.id}/withdraw", {"reason": WITHDRAW_REASON},
                            format="json").status_code == 200
    send_due(now)
    case.refresh_from_db()
    assert case.status == CaseStatus.WITHDRAWN and case.closed_at == now
    return case


def personal_data_anywhere(case: Case) -> list[str]:
    """Which of the freelancer's personal data is still held anywhere about the case."""
    held = []
    texts = {
        "case": json.dumps([case.public_reason, case.profile_claims, case.standing_snapshot]),
        "freelancer": json.dumps(list(Freelancer.objects.filter(pk=case.freelancer_id)
                                      .values_list("email", "name", "external_id"))),
        "bookings": json.dumps(list(Booking.objects.filter(case_ref=case.id)
                                    .values_list("attendee_email", "attendee_name"))),
        "messages": json.dumps(list(OutboxMessage.objects.filter(case_ref=case.id)
                                    .values_list("recipient", "context"))),
        "audit": json.dumps(list(AuditEvent.objects.filter(case=case).values_list("reason", "before", "after"))),
    }
    for where, text in texts.items():
        for secret in (EMAIL, "Okafor", "7781", "Top Rated", "fl-77"):
            if secret in text:
                held.append(f"{where}: {secret}")
    return held


# --- retention --------------------------------------------------------------------------------------

def test_the_retention_task_erases_personal_data_after_the_period_once_and_audits_that_it_did(closed_case, now):
    case = closed_case
    token = freelancer_token(case, now=now)
    join_token = Booking.objects.get(case_ref=case.id).join_token
    assert personal_data_anywhere(case)  # given: it is all there
    # when the task runs before the period ends, nothing changes
    assert cases_retention_apply(now=now + timedelta(days=364))["cases_erased"] == 0
    assert Case.objects.get(pk=case.pk).anonymised_at is None
    # when it runs after the period
    later = now + timedelta(days=366)
    with time_machine.travel(later, tick=False):
        result = cases_retention_apply(now=later)
    assert result["cases_erased"] == 1
    case.refresh_from_db()
    assert personal_data_anywhere(case) == []
    assert case.anonymised_at == later and case.status == CaseStatus.WITHDRAWN  # the facts for statistics stay
    assert Booking.objects.get(case_ref=case.id).join_token != join_token
    with pytest.raises(LinkInvalid):
        case_from_token(token, now=now)
    assert Freelancer.objects.get(pk=case.freelancer_id).erased_at == later
    # and the audit says that it happened, not the data
    [erased] = AuditEvent.objects.filter(case=case, action="personal_data_erased")
    assert erased.actor == "system" and erased.reason == ""
    assert erased.after["why"] == "retention" and erased.after["bookings"] == 1
    assert AuditEvent.objects.filter(case=case, action="flagged").exists()  # the trail itself stays
    # and a second run changes nothing and audits nothing
    audit_rows = AuditEvent.objects.count()
    assert cases_retention_apply(now=later + timedelta(days=1)) == {"cases_erased": 0, "messages_erased_late": 0}
    assert AuditEvent.objects.count() == audit_rows


@override_settings(PRIVACY_RETENTION_DAYS=30)
def test_the_retention_period_is_a_setting(closed_case, now):
    assert cases_retention_apply(now=now + timedelta(days=31))["cases_erased"] == 1


def test_contact_details_stay_while_the_freelancer_has_a_newer_case(closed_case, marketplace, now):
    newer = flag(marketplace)  # flagged again: a new open case
    assert newer.freelancer_id == closed_case.freelancer_id
    cases_retention_apply(now=now + timedelta(days=366))
    closed_case.refresh_from_db()
    assert closed_case.anonymised_at is not None and closed_case.public_reason == ""
    freelancer = Freelancer.objects.get(pk=newer.freelancer_id)
    assert freelancer.email == EMAIL and freelancer.erased_at is None
    assert Case.objects.get(pk=newer.pk).public_reason == PUBLIC_REASON


@pytest.mark.postgres  # the append-only trigger is PostgreSQL's
def test_the_audit_log_stays_append_only_apart_from_the_redaction(closed_case):
    row = AuditEvent.objects.filter(case=closed_case).first()
    for change in ({"action": "something_else"}, {"actor": "user:mallory"}, {"reason": "rewritten"}):
        with pytest.raises(DatabaseError), transaction.atomic():
            AuditEvent.objects.filter(pk=row.pk).update(**change)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=row.pk)._raw_delete(AuditEvent.objects.db)
    assert AuditEvent.objects.get(pk=row.pk).action == row.action


# --- export and erase (marketplace API) -------------------------------------------------------------

def test_export_returns_everything_held_and_is_audited(closed_case, marketplace):
    response = marketplace.get("/api/v1/freelancers/fl-77/export")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["freelancer"]["email"] == EMAIL and body["freelancer"]["name"] == NAME
    [case] = body["cases"]
    assert case["public_reason"] == PUBLIC_REASON and case["profile_claims"][0]["field"] == "payout_name"
    assert case["bookings"][0]["attendee_email"] == EMAIL
    assert {"flagged", "withdrawn"} <= {row["action"] for row in case["audit"]}
    assert any(message["recipient"] == EMAIL for message in case["messages"])
    [exported] = AuditEvent.objects.filter(case=closed_case, action="personal_data_exported")
    assert exported.actor == "marketplace:marketplace-test" and exported.reason == "" and exported.after == {}


def test_export_and_erase_of_an_unknown_freelancer_are_404(marketplace, db):
    for response in (marketplace.get("/api/v1/freelancers/nobody/export"),
                     marketplace.post("/api/v1/freelancers/nobody/erase")):
        # refused before the view (NulCharacterMiddleware): a NUL in a path names nothing
        assert response.status_code == 404 and response.json()["code"] in ("not_found", "freelancer_not_found")


def test_erase_is_refused_with_409_while_a_case_is_open_and_changes_nothing(marketplace, now, frozen_clock):
    case = flag(marketplace)
    audit_rows = AuditEvent.objects.count()
    response = marketplace.post("/api/v1/freelancers/fl-77/erase")
    assert response.status_code == 409 and response.json()["code"] == "freelancer_case_open"
    case.refresh_from_db()
    assert case.public_reason == PUBLIC_REASON and case.freelancer.email == EMAIL
    assert AuditEvent.objects.count() == audit_rows


def test_erase_after_the_case_ended_anonymises_at_once_and_is_audited(closed_case, marketplace):
    response = marketplace.post("/api/v1/freelancers/fl-77/erase")
    assert response.status_code == 200, response.content
    assert response.json()["cases"] == 1
    closed_case.refresh_from_db()
    assert personal_data_anywhere(closed_case) == []
    [erased] = AuditEvent.objects.filter(case=closed_case, action="personal_data_erased")
    assert erased.actor == "marketplace:marketplace-test" and erased.after["why"] == "erase_request"
    # the external id is gone too: nothing more is held, so a second request finds nothing
    assert marketplace.post("/api/v1/freelancers/fl-77/erase").status_code == 404
    assert marketplace.get("/api/v1/freelancers/fl-77/export").status_code == 404
    # and the retention task later has nothing left to do
    assert cases_retention_apply(now=closed_case.closed_at + timedelta(days=400))["cases_erased"] == 0


@override_settings(API_DOCS_PUBLIC=True)
def test_the_export_and_erase_operations_are_in_the_schema(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/v1/freelancers/{external_id}/export" in schema
    assert "/api/v1/freelancers/{external_id}/erase" in schema


def test_a_case_reopened_by_an_appeal_is_not_erased_whatever_its_old_closing_time(now):
    from tests.factories import CaseFactory

    appealed = CaseFactory(status=CaseStatus.IN_REVIEW, closed_at=now - timedelta(days=800))
    assert cases_retention_apply(now=now)["cases_erased"] == 0
    appealed.refresh_from_db()
    assert appealed.anonymised_at is None and appealed.public_reason != ""


def test_a_nul_in_the_external_id_is_a_404_not_a_500(marketplace, db):
    for response in (marketplace.get("/api/v1/freelancers/%00/export"),
                     marketplace.post("/api/v1/freelancers/%00/erase")):
        # refused before the view (NulCharacterMiddleware): a NUL in a path names nothing
        assert response.status_code == 404 and response.json()["code"] in ("not_found", "freelancer_not_found")


@override_settings(PRIVACY_RETENTION_DAYS=180)
def test_the_freelancer_is_told_how_long_their_data_is_kept(client, now, frozen_clock):
    from tests.factories import CaseFactory

    case = CaseFactory()
    page = client.get(f"/c/{freelancer_token(case)}/").content.decode()
    assert "erased 180 days after it ends" in page
