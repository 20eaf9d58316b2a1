"""Each booked call lands in the representative's own CalDAV calendar (a real Radicale), with the
UID of the freelancer's invite, moves and cancels with the booking, through the outbox: a server
that is down is retried, and a write repeated (a killed worker) still leaves one event."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.test import Client
from icalendar import Calendar

from notifications.models import MessageStatus, OutboxMessage
from scheduling.models import Booking, CalendarConnection
from scheduling.services.calendar_writes import booking_calendar_write
from scheduling.services.calendars import booking_hand_over, calendar_connect_caldav
from tests.calendar_servers import free_port
from tests.factories import CaseFactory
from tests.helpers import client_for, make_reps, send_due
from verification.services.bookings import bookings_displaced_handle

pytestmark = pytest.mark.django_db
AT = "2026-03-03T10:00:00Z"


def connect(radicale, rep, now):
    account = radicale.account()
    calendar_connect_caldav(representative_id=rep.pk, url=account.calendar_url, username=account.username,
                            password=account.password, actor="user:rep", now=now)
    return account


def vevent(data: str):
    [event] = Calendar.from_ical(data).walk("VEVENT")
    return event


def writes(status=None):
    rows = OutboxMessage.objects.filter(kind="calendar_write")
    return rows.filter(status=status) if status else rows


def test_a_booking_is_written_moved_and_cancelled_in_the_reps_calendar(radicale, now, frozen_clock):
    [rep] = make_reps(1, now=now)
    account = connect(radicale, rep, now)
    case = CaseFactory(freelancer__name="Amara Okafor Lee")
    client = client_for(case)
    assert client.post("/api/v1/case/booking", {"starts_at": AT}, format="json").status_code == 201
    booking = Booking.objects.get(case_ref=case.id)
    send_due(now)
    [(name, data)] = account.events().items()
    event = vevent(data)
    assert name == f"{booking.id}.ics"
    [invite] = [part for part in mail.outbox[0].message().walk() if part.get_content_type() == "text/calendar"]
    invite_uid = str(vevent(invite.get_payload(decode=True).decode())["UID"])
    assert str(event["UID"]) == invite_uid == f"{booking.id}@verification-calls"
    assert event["DTSTART"].dt == datetime(2026, 3, 3, 10, tzinfo=UTC) and event["SEQUENCE"] == 0
    summary = str(event["SUMMARY"])
    assert "Amara" in summary and booking.case_ref.hex[:8].upper() in summary
    assert "Okafor" not in data and case.freelancer.email not in data  # first name and case reference only
    assert writes(MessageStatus.SENT).count() == 1

    assert client.patch("/api/v1/case/booking", {"starts_at": "2026-03-05T10:00:00Z"},
                        format="json").status_code == 200
    send_due(now)
    [(name2, data)] = account.events().items()
    assert name2 == name and vevent(data)["DTSTART"].dt == datetime(2026, 3, 5, 10, tzinfo=UTC)
    assert vevent(data)["SEQUENCE"] == 1

    assert client.delete("/api/v1/case/booking").status_code in (200, 204)
    send_due(now)
    assert account.events() == {}
    assert writes(MessageStatus.SENT).count() == 3


def test_no_calendar_no_write_message(reps, now, frozen_clock):
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    assert not writes().exists()


def test_a_server_down_is_retried_and_a_repeated_write_leaves_one_event(radicale, now, frozen_clock, settings):
    [rep] = make_reps(1, now=now)
    account = connect(radicale, rep, now)
    good_url = account.calendar_url
    CalendarConnection.objects.filter(representative=rep).update(calendar_url=f"http://127.0.0.1:{free_port()}/x/")
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    send_due(now)
    [message] = writes()
    assert message.status == MessageStatus.PENDING and message.attempts == 1 and "answers" in message.last_error
    assert account.events() == {}

    CalendarConnection.objects.filter(representative=rep).update(calendar_url=good_url)
    send_due(message.due_at)
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    booking = Booking.objects.get(case_ref=case.id)
    # a worker killed after the PUT and before the record: the write runs again, one event stays
    booking_calendar_write(booking_id=booking.id, now=now + timedelta(minutes=1))
    assert list(account.events()) == [f"{booking.id}.ics"]


def test_a_call_handed_to_a_colleague_leaves_one_calendar_for_the_other(radicale, now, frozen_clock):
    reps = make_reps(2, now=now)
    accounts = {rep.pk: connect(radicale, rep, now) for rep in reps}
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    booking = Booking.objects.get(case_ref=case.id)
    first = booking.representative_id
    send_due(now)
    assert list(accounts[first].events()) == [f"{booking.id}.ics"]

    booking_hand_over(booking_id=booking.id, representative_id=first, actor="user:rep", now=now)
    bookings_displaced_handle(now=now)  # verification tells the freelancer; the calendars follow
    send_due(now)
    second = next(pk for pk in accounts if pk != first)
    assert accounts[first].events() == {}
    [data] = accounts[second].events().values()
    assert vevent(data)["SEQUENCE"] == 1


def test_calls_booked_before_connecting_are_written_when_the_calendar_is_connected(radicale, now, frozen_clock):
    [rep] = make_reps(1, now=now)
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    booking = Booking.objects.get(case_ref=case.id)
    assert not writes().exists()
    account = radicale.account()
    browser = Client()
    browser.force_login(rep.user)
    browser.post("/console/calendar/connect/", {"caldav-url": account.calendar_url,
                                                "caldav-username": account.username,
                                                "caldav-password": account.password})
    send_due(now)
    assert list(account.events()) == [f"{booking.id}.ics"]
