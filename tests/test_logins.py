"""Staff logins are limited (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one user,
or from one address, even the right password is refused with a clear message until the cool-off
has passed. The console has no login form of its own: it sends staff to this one."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"


def attempt(username: str, password: str, *, address: str, next_url: str = "/admin/"):
    return Client(REMOTE_ADDR=address).post(f"{LOGIN}?next={next_url}",
                                            {"username": username, "password": password})


def fail_until_locked(username: str, *, address: str, next_url: str = "/admin/") -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = attempt(username, "wrong-password", address=address, next_url=next_url)
        assert response.status_code in (200, 429)  # the form again, then the lockout page


def assert_locked(response) -> None:
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed logins" in body and "Try again in" in body
    assert "_auth_user_id" not in response.client.session


@pytest.mark.parametrize("next_url", ["/admin/", "/console/"])
def test_the_right_password_is_refused_after_repeated_failures_for_the_user(next_url):
    UserFactory(username="rep", password="secret-pass-1")
    fail_until_locked("rep", address="10.0.0.1", next_url=next_url)
    assert_locked(attempt("rep", "secret-pass-1", address="10.0.0.1", next_url=next_url))
    # per user: from another address too
    assert_locked(attempt("rep", "secret-pass-1", address="10.0.0.2", next_url=next_url))


def test_an_address_that_failed_too_often_is_locked_for_every_user():
    UserFactory(username="victim", password="secret-pass-1")
    for number in range(settings.AXES_FAILURE_LIMIT):
        attempt(f"guess{number}", "wrong-password", address="10.0.0.9")  # a different user each time
    assert_locked(attempt("victim", "secret-pass-1", address="10.0.0.9"))


def test_another_user_at_another_address_is_unaffected():
    UserFactory(username="rep", password="secret-pass-1")
    UserFactory(username="colleague", password="secret-pass-2")
    fail_until_locked("rep", address="10.0.0.1")
    response = attempt("colleague", "secret-pass-2", address="10.0.0.3")
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_the_lock_ends_after_the_cool_off():
    UserFactory(username="rep", password="secret-pass-1")
    fail_until_locked("rep", address="10.0.0.1")
    assert_locked(attempt("rep", "secret-pass-1", address="10.0.0.1"))
    later = timezone.now() + timedelta(hours=settings.AXES_COOLOFF_TIME, seconds=1)
    with time_machine.travel(later, tick=False):
        response = attempt("rep", "secret-pass-1", address="10.0.0.1")
    assert response.status_code == 302


def test_a_successful_login_resets_the_count():
    UserFactory(username="rep", password="secret-pass-1")
    for _ in range(2):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            attempt("rep", "wrong-password", address="10.0.0.1")
        assert attempt("rep", "secret-pass-1", address="10.0.0.1").status_code == 302


def test_a_spoofed_forwarded_for_header_does_not_escape_the_address_lock():
    for number in range(settings.AXES_FAILURE_LIMIT):
        Client(REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{number}").post(
            LOGIN, {"username": f"guess{number}", "password": "wrong-password"})
    UserFactory(username="victim", password="secret-pass-1")
    response = Client(REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="192.0.2.200").post(
        LOGIN, {"username": "victim", "password": "secret-pass-1"})
    assert response.status_code == 429


def test_the_limits_are_settings():
    assert settings.AXES_FAILURE_LIMIT == 5 and settings.AXES_COOLOFF_TIME == 0.25
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]
