"""GET /metrics: Prometheus text, behind a bearer token; business gauges from the database."""

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from notifications.models import MessageStatus, OutboxMessage
from tests.factories import CaseFactory
from verification import tasks
from verification.models import CaseStatus, TaskHeartbeat

pytestmark = pytest.mark.django_db
TOKEN = "s3cret-metrics-token"


def samples(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_without_a_token_configured_there_is_no_endpoint(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "])
def test_a_missing_or_wrong_token_is_refused(client, settings, header):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", **({"HTTP_AUTHORIZATION": header} if header else {}))
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert b"verify_" not in response.content


def test_the_business_gauges_and_counters(client, settings, now, frozen_clock):
    settings.METRICS_TOKEN = TOKEN
    CaseFactory(notice_sent_at=now - timedelta(days=7), deadline_at=now + timedelta(hours=3))
    CaseFactory(deadline_at=now + timedelta(hours=30))
    CaseFactory(status=CaseStatus.FROZEN, notice_sent_at=now - timedelta(days=8),
                deadline_at=now - timedelta(days=1))
    CaseFactory(status=CaseStatus.VERIFIED)
    OutboxMessage.objects.create(kind="notice", revision="r", topic="case:1", recipient="a@example.com",
                                 status=MessageStatus.FAILED, due_at=now - timedelta(hours=1), created_at=now,
                                 updated_at=now)
    OutboxMessage.objects.create(kind="notice", revision="r", topic="case:2", recipient="a@example.com",
                                 due_at=now - timedelta(seconds=90), created_at=now, updated_at=now)
    tasks.cases_deadline_sweep()  # records when it finished
    client.get("/healthz")

    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=0.0.4")
    found = samples(response.content.decode())
    assert found[("verify_cases_running", (("status", "OPEN"),))] == 2
    assert found[("verify_cases_running", (("status", "FROZEN"),))] == 1
    assert ("verify_cases_running", (("status", "VERIFIED"),)) not in found
    assert found[("verify_cases_due_24h_unbooked", ())] == 1
    assert found[("verify_cases_due_72h_unbooked", ())] == 2
    assert found[("verify_outbox_messages", (("state", "failed"),))] == 1
    assert found[("verify_outbox_messages", (("state", "overdue"),))] == 1
    assert found[("verify_outbox_oldest_due_age_seconds", ())] == 90
    assert found[("verify_free_slots_72h", ())] == 0
    assert found[("verify_deadline_sweep_last_finished_timestamp_seconds", ())] == now.timestamp()
    assert TaskHeartbeat.objects.get(name="deadline_sweep").finished_at == now
    requests = {labels: value for (name, labels), value in found.items() if name == "verify_http_requests_total"}
    assert requests  # the counter of answered requests is there (its values are per process)
