"""The representatives' calendar feed: a private, revocable .ics subscription of their own calls,
parsed back as a calendar app would read it."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client, override_settings
from icalendar import Calendar

from scheduling.ics import booking_invite
from scheduling.models import Booking, CalendarFeedToken, feed_token_hash
from tests.factories import CaseFactory, FreelancerFactory, UserFactory
from tests.helpers import client_for, make_reps

pytestmark = pytest.mark.django_db


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_feed(rep) -> str:
    """The representative makes (or remakes) their link in the console; the path shown once."""
    page = as_user(rep.user).post("/console/calendar-feed/rotate/")
    assert page.status_code == 200
    assert page["Cache-Control"] == "private, no-store"
    return re.search(r'value="http://testserver(/feeds/calendar/[^"]+\.ics)"', page.content.decode()).group(1)


def book(case, at: str) -> Booking:
    response = client_for(case).post("/api/v1/case/booking", {"starts_at": at}, format="json")
    assert response.status_code == 201, response.content
    return Booking.objects.get(case_ref=case.id)


def events(response) -> dict[str, object]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/calendar")
    return {str(e["UID"]): e for e in Calendar.from_ical(response.content).walk("VEVENT")}


@pytest.fixture
def one_rep(now, frozen_clock):
    return make_reps(1, now=now)[0]


def test_the_feed_lists_the_call_with_the_invites_uid_first_name_and_case_reference_only(one_rep):
    case = CaseFactory(freelancer=FreelancerFactory(name="Ana Beatriz Souza", email="ana.souza@example.com"))
    booking = book(case, "2026-03-02T13:00:00Z")
    response = Client().get(make_feed(one_rep))

    assert response["Cache-Control"] == "private, no-store"
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["X-WR-CALNAME"]) == f"Verification calls ({one_rep.display_name})"
    assert calendar["REFRESH-INTERVAL"].dt == timedelta(minutes=15)
    assert str(calendar["X-PUBLISHED-TTL"]) == "PT15M"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT15M" in response.content
    (event,) = calendar.walk("VEVENT")
    invite_uid = str(Calendar.from_ical(booking_invite(booking)).walk("VEVENT")[0]["UID"])
    assert str(event["UID"]) == invite_uid == f"{booking.id}@verification-calls"
    assert event["SEQUENCE"] == 0 and str(event["STATUS"]) == "CONFIRMED"
    assert event.decoded("DTSTART") == booking.starts_at
    assert str(event["SUMMARY"]) == f"Verification call: Ana (case {str(case.id)[:8]})"
    text = response.content.decode()
    for private in ("Beatriz", "Souza", "ana.souza", booking.join_token, booking.dial_in_pin):
        assert private not in text
    assert f"/console/calls/{booking.id}/" in str(event["DESCRIPTION"])


def test_a_moved_call_keeps_its_uid_with_a_higher_sequence(one_rep, now):
    case = CaseFactory()
    booking = book(case, "2026-03-02T13:00:00Z")
    feed = make_feed(one_rep)
    before = events(Client().get(feed))[f"{booking.id}@verification-calls"]

    moved = client_for(case).patch("/api/v1/case/booking", {"starts_at": "2026-03-02T14:00:00Z"}, format="json")
    assert moved.status_code == 200, moved.content

    after = events(Client().get(feed))
    assert list(after) == [f"{booking.id}@verification-calls"]
    event = after[f"{booking.id}@verification-calls"]
    assert event["SEQUENCE"] > before["SEQUENCE"]
    assert event.decoded("DTSTART") == now + timedelta(hours=2)


def test_a_cancelled_call_stays_a_while_as_cancelled_then_leaves(one_rep, now):
    case = CaseFactory()
    booking = book(case, "2026-03-03T13:00:00Z")
    feed = make_feed(one_rep)
    assert client_for(case).delete("/api/v1/case/booking").status_code in (200, 204)

    event = events(Client().get(feed))[f"{booking.id}@verification-calls"]
    assert str(event["STATUS"]) == "CANCELLED" and event["SEQUENCE"] == 1
    with time_machine.travel(now + timedelta(days=15), tick=False):
        assert events(Client().get(feed)) == {}


def test_another_representatives_calls_never_appear(now, frozen_clock):
    first, second = make_reps(2, now=now)
    bookings = [book(CaseFactory(), "2026-03-02T13:00:00Z"), book(CaseFactory(), "2026-03-02T13:00:00Z")]
    assert {b.representative_id for b in bookings} == {first.pk, second.pk}  # one each: least-loaded
    for rep in (first, second):
        uids = set(events(Client().get(make_feed(rep))))
        assert uids == {f"{b.id}@verification-calls" for b in bookings if b.representative_id == rep.pk}


def test_rotating_makes_the_old_link_404_and_keeps_only_hashes(one_rep):
    old = make_feed(one_rep)
    new = make_feed(one_rep)

    assert Client().get(old).status_code == 404
    assert Client().get(new).status_code == 200
    rows = list(CalendarFeedToken.objects.filter(representative=one_rep).order_by("pk"))
    assert [r.revoked_at is not None for r in rows] == [True, False]
    assert rows[0].revoked_by == rows[1].created_by == f"user:{one_rep.user.username}"
    token = new.removeprefix("/feeds/calendar/").removesuffix(".ics")
    assert rows[1].token_hash == feed_token_hash(token) != token


def test_turning_the_feed_off_and_unknown_tokens_answer_404(one_rep):
    feed = make_feed(one_rep)
    assert as_user(one_rep.user).post("/console/calendar-feed/revoke/").status_code == 302

    response = Client().get(feed)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert Client().get("/feeds/calendar/not-a-token.ics").status_code == 404
    assert not CalendarFeedToken.objects.filter(revoked_at__isnull=True).exists()


def test_refused_fetches_are_logged_without_the_token(one_rep, caplog):
    feed = make_feed(one_rep)
    as_user(one_rep.user).post("/console/calendar-feed/rotate/")  # the old link now answers 404
    with caplog.at_level("INFO"):
        assert Client().get(feed).status_code == 404
    token = feed.removeprefix("/feeds/calendar/").removesuffix(".ics")
    assert "calendar feed 404" in caplog.text and token not in caplog.text


def test_a_deactivated_representatives_feed_answers_404(one_rep):
    feed = make_feed(one_rep)
    one_rep.active = False
    one_rep.save(update_fields=["active"])
    assert Client().get(feed).status_code == 404


def test_staff_who_are_not_representatives_get_no_feed(db):
    reviewer = UserFactory(username="reviewer-x")
    assert as_user(reviewer).post("/console/calendar-feed/rotate/").status_code == 404
    assert not CalendarFeedToken.objects.exists()


def test_the_console_shows_whether_a_feed_is_on(one_rep):
    client = as_user(one_rep.user)
    assert "Make my feed link" in client.get("/console/").content.decode()
    make_feed(one_rep)
    page = client.get("/console/").content.decode()
    assert "Your feed link is on" in page and "/feeds/calendar/" not in page  # shown once, never again


@pytest.mark.redis
@override_settings(CALENDAR_FEED_RATE="3/minute")
def test_each_token_is_rate_limited_with_retry_after(one_rep, now):
    feed = make_feed(one_rep)
    assert [Client().get(feed).status_code for _ in range(3)] == [200, 200, 200]

    refused = Client().get(feed)
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60
    other = make_feed(make_reps(1, now=now)[0])
    assert Client().get(other).status_code == 200  # counted per token
    with time_machine.travel(now + timedelta(seconds=61), tick=False):
        assert Client().get(feed).status_code == 200
