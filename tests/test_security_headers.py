"""Browser hardening (issue 18): the Content-Security-Policy on every page, no-store on everything
that carries a link token or personal data, staff sessions that end after a working day and with
the browser, freelancer pages without a session, and who may read the API docs."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.test import Client

from scheduling.models import Booking
from tests.factories import CaseFactory, UserFactory
from tests.helpers import client_for
from verification.links import freelancer_token
from verify_site.api_docs import SWAGGER_STYLE_SOURCES

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[1]
FIRST = "2026-03-02T13:00:00Z"


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: " ".join(part.split()[1:]) for part in header.split(";") if part.strip()}


def staff_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def booked(reps, frozen_clock):
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": FIRST}, format="json")
    return case, Booking.objects.get(case_ref=case.id)


def every_page(case, booking, admin_user):
    token = freelancer_token(case)
    anonymous, admin = Client(), staff_client(admin_user)
    return {
        "home": anonymous.get("/"),
        "case page": anonymous.get(f"/c/{token}/"),
        "book page": anonymous.get(f"/c/{token}/book/"),
        "booked page": anonymous.get(f"/c/{token}/booked/"),
        "appeal page": anonymous.get(f"/c/{token}/appeal/"),
        "bad link": anonymous.get("/c/not-a-token/"),
        "not found": anonymous.get("/nowhere/"),
        "admin login": anonymous.get("/admin/login/"),
        "console call": admin.get(f"/console/calls/{booking.id}/"),
        "console reviews": admin.get("/console/reviews/"),
        "operations": admin.get("/console/operations/"),
        "api": client_for(case).get("/api/v1/case"),
    }


def test_every_page_has_the_strict_policy(booked, admin_user):
    case, booking = booked
    for name, response in every_page(case, booking, admin_user).items():
        got = directives(response)
        assert got["script-src"] == "'self'", name
        assert got["style-src"] == "'self'", name
        assert got["default-src"] == "'self'", name
        assert (got["frame-ancestors"], got["form-action"], got["object-src"], got["base-uri"]) == \
            ("'none'", "'self'", "'none'", "'none'"), name
        assert "unsafe" not in response["Content-Security-Policy"], name


def test_no_template_has_inline_script_style_or_handlers():
    """What the policy would block: an inline <script>, <style>, style="" or on...="" in our templates."""
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=\"|javascript:", re.I)
    found = []
    for folder in ("verification/templates", "verify_site/templates", "notifications/templates/notifications"):
        for path in (ROOT / folder).rglob("*.html"):
            if "/email/" in str(path):
                continue  # e-mails are read in a mail client, not under this site's policy
            found += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in inline.finditer(path.read_text())]
    assert not found


def test_the_swagger_page_has_its_own_narrower_exception(admin_user, settings):
    settings.API_DOCS_PUBLIC = True
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    got = directives(response)
    assert got["script-src"] == "'self'"  # its start-up script is a separate file (?script)
    assert got["style-src"].split() == ["'self'", *SWAGGER_STYLE_SOURCES]  # its one inline style, by hash
    assert len(SWAGGER_STYLE_SOURCES) == 1 and "unsafe" not in response["Content-Security-Policy"]
    script = Client().get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_freelancer_pages_the_ics_and_personal_api_answers_are_not_stored(booked, admin_user):
    case, booking = booked
    token, api = freelancer_token(case), client_for(case)
    answers = {
        "case page": Client().get(f"/c/{token}/"),
        "book page": Client().get(f"/c/{token}/book/"),
        "booked page": Client().get(f"/c/{token}/booked/"),
        "invite.ics": Client().get(f"/c/{token}/invite.ics"),
        "bad link": Client().get("/c/not-a-token/"),
        "GET /api/v1/case": api.get("/api/v1/case"),
        "booking.ics": api.get("/api/v1/case/booking.ics"),
        "availability": api.get("/api/v1/case/availability"),
        "console": staff_client(admin_user).get(f"/console/calls/{booking.id}/"),
    }
    for name, response in answers.items():
        assert response.status_code in (200, 400, 404), (name, response.status_code)
        assert response["Cache-Control"] == "private, no-store", name
    assert answers["invite.ics"]["Content-Type"].startswith("text/calendar")
    assert "no-store" not in Client().get("/").get("Cache-Control", "")  # the public home page may be cached


def test_marketplace_api_answers_are_not_stored(marketplace, case):
    for response in (marketplace.get(f"/api/v1/cases/{case.id}"),
                     marketplace.get(f"/api/v1/freelancers/{case.freelancer.external_id}/eligibility")):
        assert response.status_code == 200
        assert response["Cache-Control"] == "private, no-store"
    missing = marketplace.get("/api/v1/cases/00000000-0000-0000-0000-000000000000")  # errors too
    assert missing.status_code == 404 and missing["Cache-Control"] == "private, no-store"


def test_freelancer_pages_work_without_a_session(booked):
    case, booking = booked
    token = freelancer_token(case)
    client = Client(enforce_csrf_checks=False)
    assert client.get(f"/c/{token}/").status_code == 200
    response = client.post(f"/c/{token}/cancel/")
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == "CANCELLED"
    assert "sessionid" not in client.cookies
    from django.contrib.sessions.models import Session

    assert not Session.objects.exists()  # nothing was kept server-side for the freelancer


def test_staff_sessions_end_with_the_browser_and_after_a_working_day(settings, now):
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert settings.SESSION_COOKIE_AGE == 9 * 3600  # STAFF_SESSION_HOURS default
    admin = UserFactory(username="boss", is_superuser=True)
    client = Client()
    with time_machine.travel(now, tick=False):
        response = client.post("/admin/login/?next=/console/", {"username": "boss", "password": "secret-pass-1"})
        assert response.status_code == 302
        cookie = client.cookies["sessionid"]
        assert cookie["expires"] == "" and cookie["max-age"] == ""  # a browser-session cookie
        assert client.get("/console/reviews/").status_code == 200
    with time_machine.travel(now + timedelta(hours=8, minutes=59), tick=False):
        assert client.get("/console/reviews/").status_code == 200  # busy all day: still signed in
    with time_machine.travel(now + timedelta(hours=9, minutes=1), tick=False):
        response = client.get("/console/reviews/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert admin.pk


@pytest.mark.parametrize(("public", "who", "expected"), [
    (False, "anonymous", 403), (False, "not_staff", 403), (False, "staff", 200),
    (True, "anonymous", 200),
])
def test_api_docs_and_schema_are_public_only_when_the_setting_says(settings, public, who, expected):
    settings.API_DOCS_PUBLIC = public
    client = Client()
    if who != "anonymous":
        client.force_login(UserFactory(username=who, is_staff=who == "staff"))
    for url in ("/api/schema/", "/api/docs/"):
        response = client.get(url)
        assert response.status_code == expected, url
        if expected == 403 and url == "/api/schema/":  # the project's error shape, in the schema's format
            body = response.content.decode()
            assert ("code: not_authenticated" in body if who == "anonymous" else
                    "code: permission_denied" in body and "signed-in staff" in body), body
        elif expected == 403:  # the docs page is a page: the site's 403 page
            assert b"You cannot open this page" in response.content


def test_api_docs_default_is_private_in_production():
    settings_source = (ROOT / "verify_site" / "settings.py").read_text()
    assert 'API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=DEBUG)' in settings_source
