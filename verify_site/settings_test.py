"""Settings for the test suite: the real settings, with PostgreSQL and Redis when they answer.

DATABASE_URL and REDIS_URL win when set. Otherwise PostgreSQL and Redis on their default loopback
ports are used if they answer, and SQLite plus an in-memory broker if not (tests that need the
servers are then skipped locally; in CI they fail instead, see tests/conftest.py).
"""

import os
import socket


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("WEBHOOK_HTTP_LOOPBACK", "true")  # the tests' webhook receivers listen on 127.0.0.1
# a fixed Fernet key for the tests only (calendar credentials)
os.environ.setdefault("CALENDAR_CALDAV_ALLOW_PRIVATE", "true")  # the tests' Radicale is on loopback
os.environ.setdefault("CALENDAR_CREDENTIALS_KEY", "dGVzdC1vbmx5LWNhbGVuZGFyLWtleS0wMTIzNDU2Nzg=")
if "DATABASE_URL" not in os.environ and _answers(5432):
    os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/verify_site"
if "REDIS_URL" not in os.environ and _answers(6379):
    os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/15"
os.environ.setdefault("CELERY_BROKER_URL", os.environ.get("REDIS_URL") or "memory://")

from verify_site.settings import *  # noqa: E402,F403

SECURE_SSL_REDIRECT = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
PUBLIC_BASE_URL = "http://testserver"
# Slots for a week and a day: every test books within it, and each booking test makes a third of
# the slots a 21-day horizon would (tests that need more set it themselves).
SLOT_HORIZON_DAYS = 8
