import os
import socket
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _redis_answers() -> bool:
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        return False
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def _missing(what: str) -> None:
    """In CI (CI=true, as .ci/run sets) a missing server fails the test; only on a developer's
    machine without PostgreSQL or Redis is the test skipped."""
    message = f"needs {what}; set DATABASE_URL / REDIS_URL or start it on loopback"
    if IN_CI:
        pytest.fail(f"{message} (CI must run this test, not skip it)")
    else:
        pytest.skip(message)


@pytest.fixture(autouse=True)
def _require_servers(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _missing("PostgreSQL")
    if request.node.get_closest_marker("redis") and not _redis_answers():
        _missing("Redis")


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def api_key(db) -> tuple[APIKey, str]:
    return APIKey.objects.create_key(name="marketplace-test")


@pytest.fixture
def marketplace(api_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}")
    return client


def send_due(at: datetime) -> dict[str, int]:
    """Run the outbox as the beat sweep and a worker would, at `at` (email: Django's test outbox),
    then let verification see which notices went out, as its beat task does."""
    import time_machine

    from notifications.services import outbox_claim_due, outbox_send_batch
    from verification.deadlines.services import cases_notice_sent_record

    with time_machine.travel(at, tick=False):
        outcomes = outbox_send_batch(message_ids=outbox_claim_due(now=at, limit=100_000))
        cases_notice_sent_record(now=at)
        return outcomes


def notice_enqueue(case, *, now: datetime) -> None:
    """The notice of a case, as flagging it writes it."""
    from verification.deadlines.rules import grace_period
    from verification.messages import notice_enqueue as enqueue

    enqueue(case, grace=grace_period(case.policy), now=now)
