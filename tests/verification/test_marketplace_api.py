"""The marketplace API v1 as the marketplace uses it: flag -> eligibility -> withdraw."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from tests.helpers import send_due
from verification.links import case_from_token
from verification.models import AuditEvent, Case, CaseStatus, Freelancer, GracePolicy, IdempotencyRecord, ReasonCode
from verification.tasks import idempotency_keys_prune

pytestmark = pytest.mark.django_db


def flag_body(**overrides) -> dict:
    body = {
        "freelancer": {
            "external_id": "fl-42",
            "email": "amara@example.com",
            "name": "Amara Okafor",
            "timezone": "Africa/Lagos",
            "language": "en",
        },
        "reason_code": "profile_details",
        "public_reason": "The name on your profile differs from your payout account.",
        "profile_claims": [{"field": "country", "value": "Nigeria"}],
        "standing": {"badges": ["Top Rated"], "job_success": 97},
    }
    body.update(overrides)
    return body


def test_flag_eligibility_withdraw_journey(marketplace, now):
    # given a default policy of 7 days
    with time_machine.travel(now, tick=False):
        # when the marketplace flags a freelancer
        created = marketplace.post("/api/v1/cases", flag_body(), format="json")
    # then a case is open and its notice queued; the grace period has not started yet
    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) == {"id", "status", "notice_sent_at", "deadline_at", "freelancer_url"}
    assert body["status"] == "OPEN"
    assert body["notice_sent_at"] is None and body["deadline_at"] is None
    assert len(mail.outbox) == 0
    # when the notice actually leaves, 30 seconds later
    assert send_due(now + timedelta(seconds=30)) == {"sent": 1}
    # then the grace period counts from then: 7 days
    [notice] = mail.outbox
    assert notice.to == ["amara@example.com"] and "Please confirm your profile" in notice.subject
    case = Case.objects.get(pk=body["id"])
    assert case.notice_sent_at == now + timedelta(seconds=30)
    assert case.deadline_at == now + timedelta(days=7, seconds=30)
    assert "Monday 9 March 2026, 13:00 (Africa/Lagos, WAT)" in notice.body  # the deadline in their zone
    assert case.freelancer.external_id == "fl-42"
    assert case.standing_snapshot == {"badges": ["Top Rated"], "job_success": 97}
    assert case.profile_claims == [{"field": "country", "value": "Nigeria"}]
    assert case.policy.grace_days == 7 and case.policy_snapshot["grace_days"] == 7
    assert case.created_by == "marketplace:marketplace-test"
    # and the link in freelancer_url opens exactly this case
    token = body["freelancer_url"].rstrip("/").rsplit("/", 1)[1]
    assert case_from_token(token, now=now) == case

    # when the marketplace asks whether the freelancer may submit proposals (grace period)
    eligibility = marketplace.get("/api/v1/freelancers/fl-42/eligibility")
    assert eligibility.status_code == 200
    assert eligibility.json() == {
        "external_id": "fl-42",
        "can_submit_proposals": True,
        "case": {"id": body["id"], "status": "OPEN", "deadline_at": "2026-03-09T12:00:30Z"},
    }

    # when it withdraws the case
    withdrawn = marketplace.post(f"/api/v1/cases/{body['id']}/withdraw", {"reason": "Flag raised in error"},
                                 format="json")
    assert withdrawn.status_code == 200, withdrawn.content
    assert withdrawn.json()["status"] == "WITHDRAWN"
    case.refresh_from_db()
    assert case.status == CaseStatus.WITHDRAWN and case.closed_at is not None
    # and the audit log tells the whole story, who, what and why
    events = list(AuditEvent.objects.filter(case=case).values_list("actor", "action", "from_status", "to_status",
                                                                    "reason"))
    assert events == [
        ("marketplace:marketplace-test", "flagged", "", "OPEN", case.public_reason),
        ("system", "notice_sent", "", "", ""),
        ("marketplace:marketplace-test", "withdrawn", "OPEN", "WITHDRAWN", "Flag raised in error"),
    ]
    # and a new flag is now possible
    again = marketplace.post("/api/v1/cases", flag_body(), format="json")
    assert again.status_code == 201


def test_policy_for_the_reason_code_wins_over_default(marketplace, now):
    GracePolicy.objects.create(reason_code=ReasonCode.PERIODIC_CHECK, grace_days=14, warning_offsets_hours=[48])
    response = marketplace.post("/api/v1/cases", flag_body(reason_code="periodic_check"), format="json")
    send_due(now + timedelta(days=365))
    case = Case.objects.get(pk=response.json()["id"])
    assert case.deadline_at - case.notice_sent_at == timedelta(days=14)
    assert case.policy.warning_offsets_hours == (48,)


def test_editing_a_policy_does_not_move_running_deadlines(marketplace, now):
    response = marketplace.post("/api/v1/cases", flag_body(), format="json")
    GracePolicy.objects.filter(reason_code="default").update(grace_days=1)
    send_due(now + timedelta(days=365))
    case = Case.objects.get(pk=response.json()["id"])
    assert case.deadline_at - case.notice_sent_at == timedelta(days=7)


def test_never_seen_freelancer_is_eligible(marketplace):
    response = marketplace.get("/api/v1/freelancers/nobody/eligibility")
    assert response.status_code == 200
    assert response.json() == {"external_id": "nobody", "can_submit_proposals": True, "case": None}


def test_eligibility_shows_open_case_before_older_closed_ones(marketplace):
    first = marketplace.post("/api/v1/cases", flag_body(), format="json").json()
    marketplace.post(f"/api/v1/cases/{first['id']}/withdraw", format="json")
    second = marketplace.post("/api/v1/cases", flag_body(), format="json").json()
    assert marketplace.get("/api/v1/freelancers/fl-42/eligibility").json()["case"]["id"] == second["id"]


def test_frozen_freelancer_may_not_submit_proposals(marketplace):
    created = marketplace.post("/api/v1/cases", flag_body(), format="json").json()
    Case.objects.filter(pk=created["id"]).update(status=CaseStatus.FROZEN)
    assert marketplace.get("/api/v1/freelancers/fl-42/eligibility").json()["can_submit_proposals"] is False


def test_flagging_a_freelancer_with_an_open_case_returns_409_with_that_case(marketplace):
    first = marketplace.post("/api/v1/cases", flag_body(), format="json").json()
    response = marketplace.post("/api/v1/cases", flag_body(public_reason="Another reason"), format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "case_already_open"
    assert body["case"]["id"] == first["id"] and body["case"]["status"] == "OPEN"
    assert Case.objects.count() == 1 and AuditEvent.objects.count() == 1


def test_flag_refreshes_the_freelancers_contact_details(marketplace):
    first = marketplace.post("/api/v1/cases", flag_body(), format="json").json()
    marketplace.post(f"/api/v1/cases/{first['id']}/withdraw", format="json")
    moved = flag_body()
    moved["freelancer"] = {**moved["freelancer"], "email": "new@example.com", "timezone": "Europe/Paris"}
    assert marketplace.post("/api/v1/cases", moved, format="json").status_code == 201
    freelancer = Freelancer.objects.get(external_id="fl-42")
    assert (freelancer.email, freelancer.timezone) == ("new@example.com", "Europe/Paris")


def test_case_detail(marketplace):
    created = marketplace.post("/api/v1/cases", flag_body(), format="json").json()
    response = marketplace.get(f"/api/v1/cases/{created['id']}")
    assert response.status_code == 200
    assert response.json()["external_id"] == "fl-42"
    assert response.json()["reason_code"] == "profile_details"


# --- idempotency -----------------------------------------------------------------------------

def test_idempotency_key_replays_the_first_response(marketplace):
    first = marketplace.post("/api/v1/cases", flag_body(), format="json", HTTP_IDEMPOTENCY_KEY="req-1")
    replay = marketplace.post("/api/v1/cases", flag_body(), format="json", HTTP_IDEMPOTENCY_KEY="req-1")
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert Case.objects.count() == 1 and AuditEvent.objects.count() == 1


def test_idempotency_key_reused_for_a_different_body_is_refused(marketplace):
    marketplace.post("/api/v1/cases", flag_body(), format="json", HTTP_IDEMPOTENCY_KEY="req-1")
    other = flag_body()
    other["freelancer"] = {**other["freelancer"], "external_id": "fl-43"}
    response = marketplace.post("/api/v1/cases", other, format="json", HTTP_IDEMPOTENCY_KEY="req-1")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert not Freelancer.objects.filter(external_id="fl-43").exists()


def test_failed_request_is_not_remembered_so_a_fixed_retry_works(marketplace):
    bad = marketplace.post("/api/v1/cases", flag_body(reason_code="nope"), format="json",
                           HTTP_IDEMPOTENCY_KEY="req-2")
    assert bad.status_code == 400
    fixed = marketplace.post("/api/v1/cases", flag_body(reason_code="nope"), format="json",
                             HTTP_IDEMPOTENCY_KEY="req-2")
    assert fixed.status_code == 400  # same bad request, still answered, not replayed as success
    assert Case.objects.count() == 0


def test_idempotency_keys_are_per_client(marketplace, db):
    _, other_key = APIKey.objects.create_key(name="other")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {other_key}")
    first = marketplace.post("/api/v1/cases", flag_body(), format="json", HTTP_IDEMPOTENCY_KEY="same")
    body = flag_body()
    body["freelancer"] = {**body["freelancer"], "external_id": "fl-99"}
    second = other.post("/api/v1/cases", body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


def test_keys_are_forgotten_after_a_week(marketplace, now):
    with time_machine.travel(now - timedelta(days=8), tick=False):
        old = marketplace.post("/api/v1/cases", flag_body(), format="json", HTTP_IDEMPOTENCY_KEY="old").json()
    marketplace.post(f"/api/v1/cases/{old['id']}/withdraw", {}, format="json", HTTP_IDEMPOTENCY_KEY="recent")
    assert idempotency_keys_prune() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]
    again = marketplace.post("/api/v1/cases", flag_body(), format="json", HTTP_IDEMPOTENCY_KEY="old")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers  # a new request now
    assert again.json()["id"] != old["id"]


def test_withdraw_replay_returns_first_answer_not_a_409(marketplace):
    created = marketplace.post("/api/v1/cases", flag_body(), format="json").json()
    url = f"/api/v1/cases/{created['id']}/withdraw"
    first = marketplace.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="w-1")
    again = marketplace.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="w-1")
    assert first.status_code == again.status_code == 200
    assert AuditEvent.objects.filter(action="withdrawn").count() == 1


# --- authentication --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "header",
    [None, "Api-Key wrong.key", "Bearer something", "Api-Key ", "api-key lower.case"],
)
def test_requests_without_a_valid_key_get_401_and_change_nothing(header):
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    for response in (
        client.post("/api/v1/cases", flag_body(), format="json"),
        client.get("/api/v1/freelancers/fl-42/eligibility"),
    ):
        assert response.status_code == 401
        assert response.json()["code"] in {"not_authenticated", "authentication_failed"}
        assert response.headers["WWW-Authenticate"] == "Api-Key"
    assert Case.objects.count() == 0 and Freelancer.objects.count() == 0


def test_revoked_key_is_refused(api_key, marketplace):
    key, _ = api_key
    key.revoked = True
    key.save()
    response = marketplace.post("/api/v1/cases", flag_body(), format="json")
    assert response.status_code == 401 and response.json()["code"] == "authentication_failed"
    assert Case.objects.count() == 0


def test_expired_key_is_refused(api_key, marketplace, now):
    key, _ = api_key
    key.expiry_date = now - timedelta(days=1)
    key.save()
    assert marketplace.get("/api/v1/freelancers/x/eligibility").status_code == 401


def test_staff_session_is_not_a_marketplace_key(admin_client):
    assert admin_client.post("/api/v1/cases", flag_body(), content_type="application/json").status_code == 401


# --- bad input -------------------------------------------------------------------------------

def _with_freelancer(**fields) -> dict:
    body = flag_body()
    body["freelancer"] = {**body["freelancer"], **fields}
    return body


def _without_email() -> dict:
    body = flag_body()
    del body["freelancer"]["email"]
    return body


@pytest.mark.parametrize(
    ("body", "field_path"),
    [
        (_with_freelancer(timezone="Mars/Olympus_Mons"), ("freelancer", "timezone")),
        (_with_freelancer(timezone="EST5EDT ; drop"), ("freelancer", "timezone")),
        (_without_email(), ("freelancer", "email")),
        (_with_freelancer(email="not-an-email"), ("freelancer", "email")),
        (_with_freelancer(language="english please"), ("freelancer", "language")),
        (flag_body(reason_code="vibes"), ("reason_code",)),
        (flag_body(public_reason=""), ("public_reason",)),
        (flag_body(profile_claims=[{"field": "country"}]), ("profile_claims",)),
        (flag_body(standing=["not", "an", "object"]), ("standing",)),
        ({"reason_code": "profile_details"}, ("freelancer",)),
    ],
)
def test_bad_input_gets_400_with_the_field_and_changes_nothing(marketplace, body, field_path):
    response = marketplace.post("/api/v1/cases", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "invalid" and error["detail"]
    node = error["fields"]
    for key in field_path:
        node = node[key]
    assert node
    assert Case.objects.count() == 0 and Freelancer.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_unknown_timezone_message_names_the_value(marketplace):
    response = marketplace.post("/api/v1/cases", _with_freelancer(timezone="Mars/Base"), format="json")
    assert "Mars/Base" in response.json()["fields"]["freelancer"]["timezone"][0]


@pytest.mark.parametrize("raw", ['{"freelancer": ', "not json at all", "[1, 2", '{"a": 1}}'])
def test_malformed_json_gets_400(marketplace, raw):
    response = marketplace.post("/api/v1/cases", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
    assert Case.objects.count() == 0


def test_a_json_array_body_gets_400(marketplace):
    response = marketplace.post("/api/v1/cases", json.dumps([1, 2]), content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_wrong_content_type_gets_415(marketplace):
    response = marketplace.post("/api/v1/cases", "a=b", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_bad_idempotency_key_gets_400(marketplace):
    response = marketplace.post("/api/v1/cases", flag_body(), format="json", HTTP_IDEMPOTENCY_KEY="x" * 300)
    assert response.status_code == 400 and response.json()["code"] == "idempotency_key_invalid"
    assert Case.objects.count() == 0


def test_unknown_case_gets_404_json(marketplace):
    response = marketplace.post("/api/v1/cases/6b0f5a0e-0000-4000-8000-000000000000/withdraw", format="json")
    assert response.status_code == 404 and response.json()["code"] == "case_not_found"
    malformed = marketplace.post("/api/v1/cases/not-a-uuid/withdraw", format="json")
    assert malformed.status_code == 404 and malformed.json()["code"] == "not_found"


def test_withdrawing_twice_is_a_409_and_changes_nothing(marketplace):
    created = marketplace.post("/api/v1/cases", flag_body(), format="json").json()
    marketplace.post(f"/api/v1/cases/{created['id']}/withdraw", format="json")
    response = marketplace.post(f"/api/v1/cases/{created['id']}/withdraw", format="json")
    assert response.status_code == 409 and response.json()["code"] == "illegal_transition"
    assert AuditEvent.objects.filter(action="withdrawn").count() == 1


def test_wrong_method_gets_405_json(marketplace):
    response = marketplace.get("/api/v1/cases")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_openapi_schema_and_docs_are_served(client, settings):
    settings.API_DOCS_PUBLIC = True  # private by default with DEBUG off: tests/test_security_headers.py
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/cases", "/api/v1/cases/{case_id}/withdraw", "/api/v1/freelancers/{external_id}/eligibility"):
        assert path in text
    assert client.get("/api/docs/").status_code == 200


# --- cost (issue 15) -------------------------------------------------------------------------

def test_flagging_a_new_freelancer_with_an_idempotency_key_takes_eight_statements(marketplace, api_key):
    """The key recorded once, with the response, at the end; no look-up before the new freelancer's
    insert (ON CONFLICT DO NOTHING), no savepoint around it, its case's or case_flag's; the notice
    and the webhook in one INSERT; the grace policies and webhook endpoints read once per process
    (`scheduling.process_cache`). Eight statements where there were 14 (19 before that): the
    API key, BEGIN, four INSERTs of the case, the key's INSERT, COMMIT. Here the test's own
    transaction turns BEGIN/COMMIT into a savepoint and its release."""
    body = flag_body()
    body["freelancer"] = {**body["freelancer"], "external_id": "fl-41"}
    with CaptureQueriesContext(connection) as cold:  # the first request of this process reads both
        assert marketplace.post("/api/v1/cases", body, format="json", HTTP_IDEMPOTENCY_KEY="cost-0").status_code == 201
    assert len(cold.captured_queries) == 10, [q["sql"][:80] for q in cold.captured_queries]
    with CaptureQueriesContext(connection) as queries:
        response = marketplace.post("/api/v1/cases", flag_body(), format="json", HTTP_IDEMPOTENCY_KEY="cost-1")
    assert response.status_code == 201
    assert [q["sql"].split()[0] for q in queries.captured_queries] == [
        "SELECT", "SAVEPOINT", "INSERT", "INSERT", "INSERT", "INSERT", "INSERT", "RELEASE"]
    freelancer = Freelancer.objects.get(external_id="fl-42")
    assert (freelancer.email, freelancer.name, freelancer.timezone, freelancer.language) == (
        "amara@example.com", "Amara Okafor", "Africa/Lagos", "en")
    assert freelancer.created_at == freelancer.updated_at and freelancer.erased_at is None
    case = Case.objects.get(freelancer=freelancer)
    assert str(case.id) == response.json()["id"]
    record = IdempotencyRecord.objects.get(key="cost-1")
    assert record.status_code == 201 and record.response_body == response.json()
