import os
import socket
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from tests.factories import CaseFactory
from tests.helpers import client_for, make_reps

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _redis_answers() -> bool:
    url = urlsplit(settings.CELERY_BROKER_URL)
    if url.scheme != "redis":
        return False
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), timeout=0.5):
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


@pytest.fixture(autouse=True)
def _fresh_limits():
    """Every test starts with no throttle history (the cache is shared Redis in CI)."""
    from django.core.cache import cache
    from redis.exceptions import RedisError

    try:
        if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
            client = cache._cache.get_client(write=True)
            keys = list(client.scan_iter(match=f"{settings.CACHES['default']['KEY_PREFIX']}:*"))
            if keys:
                client.delete(*keys)
        else:
            cache.clear()
    except RedisError:
        pass  # a test that stopped Redis; the throttles fail open


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Every test reads the grace policies and webhook endpoints of its own database (a test's
    rows are rolled back or truncated at its end, which sends no signal)."""
    from scheduling.process_cache import process_caches_clear

    process_caches_clear()
    yield
    process_caches_clear()


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


@pytest.fixture
def frozen_clock(now):
    with time_machine.travel(now, tick=False):
        yield now


@pytest.fixture
def reps(db, now):
    return make_reps(3, now=now)


@pytest.fixture
def case(db):
    return CaseFactory()


@pytest.fixture
def freelancer(case) -> APIClient:
    return client_for(case)


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """A page request leaves its language active in the thread (LocaleMiddleware sets it per
    request, nothing resets it): each test starts in English, as a worker process does."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.activate("en")


@pytest.fixture(scope="session")
def radicale(tmp_path_factory):
    """A real CalDAV server (Radicale) on a free loopback port, for the whole session."""
    from tests.calendar_servers import Radicale

    server = Radicale(tmp_path_factory.mktemp("radicale"))
    yield server
    server.stop()


@pytest.fixture
def ics_server():
    from tests.calendar_servers import IcsServer

    server = IcsServer()
    yield server
    server.stop()
