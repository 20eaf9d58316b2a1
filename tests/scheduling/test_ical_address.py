"""A private iCal address (busy times only), fetched from a small HTTP server on loopback (allowed
with DEBUG only): busy events block slots; slow, huge and not-a-calendar answers are refused with a
clear message; outside DEBUG, http and non-public addresses are refused before any connection."""

import pytest
from django.test import Client

from scheduling.errors import CalendarProblem
from scheduling.models import BusyTime, CalendarConnection, CalendarKind, Slot
from scheduling.services.calendars import calendar_connect_ical, calendar_sync
from tests.helpers import make_reps

pytestmark = pytest.mark.django_db

FEED = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Google Inc//Google Calendar 70.9054//EN\r
BEGIN:VEVENT\r
UID:team@google.com\r
DTSTART:20260303T100000Z\r
DTEND:20260303T103000Z\r
SUMMARY:Team meeting\r
END:VEVENT\r
END:VCALENDAR\r
"""


def free_at(rep, hour: int, minute: int) -> bool:
    return Slot.objects.filter(representative=rep, is_booked=False,
                               starts_at=f"2026-03-03T{hour:02d}:{minute:02d}:00Z").exists()


def test_a_private_address_blocks_its_busy_times_and_is_stored_encrypted(ics_server, now, settings, frozen_clock):
    settings.DEBUG = True
    [rep] = make_reps(1, now=now)
    ics_server.body = FEED
    browser = Client()
    browser.force_login(rep.user)
    page = browser.post("/console/calendar/connect/", {"ical-ical_url": ics_server.url}, follow=True)
    assert "Connected." in page.content.decode() and ics_server.url not in page.content.decode()
    connection = CalendarConnection.objects.get(representative=rep)
    assert connection.kind == CalendarKind.ICAL and connection.address == "127.0.0.1"
    assert ics_server.url not in connection.secret and "Team meeting" not in str(
        list(connection.calendar_objects.values_list("data", flat=True)))  # timing only
    assert not free_at(rep, 10, 0) and not free_at(rep, 10, 25) and free_at(rep, 10, 30) and free_at(rep, 9, 55)

    ics_server.delay, settings.CALENDAR_TIMEOUT_SECONDS = 3, 1  # now slow: stale, busy times kept
    assert calendar_sync(representative_id=rep.pk, now=now) is False
    connection.refresh_from_db()
    assert connection.stale and "did not answer" in connection.last_error
    assert BusyTime.objects.filter(representative=rep).count() == 1 and not free_at(rep, 10, 0)


@pytest.mark.parametrize(("answer", "code"), [("slow", "calendar_timeout"), ("huge", "calendar_too_large"),
                                              ("html", "calendar_not_a_calendar"), ("json", "calendar_not_a_calendar")])
def test_bad_answers_are_refused_and_store_nothing(ics_server, now, settings, answer, code):
    settings.DEBUG, settings.CALENDAR_TIMEOUT_SECONDS, settings.CALENDAR_ICAL_MAX_BYTES = True, 1, 64 * 1024
    [rep] = make_reps(1, now=now)
    ics_server.body = {"slow": FEED, "huge": FEED * 2000, "html": b"<html><body>Sign in</body></html>",
                       "json": b'{"events": []}'}[answer]
    ics_server.delay = 3 if answer == "slow" else 0
    with pytest.raises(CalendarProblem) as problem:
        calendar_connect_ical(representative_id=rep.pk, url=ics_server.url, actor="user:rep", now=now)
    assert problem.value.code == code
    assert not CalendarConnection.objects.exists()


@pytest.mark.parametrize("url", [
    "http://calendar.example.com/basic.ics",  # not https
    "https://127.0.0.1/basic.ics", "https://localhost/basic.ics", "https://[::1]/basic.ics",
    "https://10.1.2.3/basic.ics", "https://192.168.0.10/basic.ics", "https://169.254.169.254/latest/meta-data",
    "https://[fe80::1]/basic.ics", "https://0.0.0.0/basic.ics",
])
def test_outside_debug_only_https_to_public_addresses(url, now, settings, ics_server):
    settings.DEBUG = False
    [rep] = make_reps(1, now=now)
    with pytest.raises(CalendarProblem) as problem:
        calendar_connect_ical(representative_id=rep.pk, url=url, actor="user:rep", now=now)
    assert problem.value.code == "calendar_address_refused"
    assert not CalendarConnection.objects.exists()


def test_outside_debug_the_loopback_test_server_itself_is_refused(ics_server, now, settings):
    settings.DEBUG = False
    [rep] = make_reps(1, now=now)
    ics_server.body = FEED
    with pytest.raises(CalendarProblem) as problem:
        calendar_connect_ical(representative_id=rep.pk, url=ics_server.url.replace("http://", "https://"),
                              actor="user:rep", now=now)
    assert problem.value.code == "calendar_address_refused"
