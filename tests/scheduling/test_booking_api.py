"""The freelancer API: availability, book, reschedule, cancel, invite; every bad input refused."""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from scheduling.models import Booking, BookingStatus, Slot
from scheduling.selectors import free_time_alternatives
from scheduling.services.slots import representatives_slots_sync_all
from tests.factories import CaseFactory
from tests.helpers import client_for, make_reps
from verification.models import AuditEvent, CaseStatus

pytestmark = pytest.mark.django_db

FIRST = "2026-03-02T13:00:00Z"  # now is Monday 12:00Z; 1 h minimum notice; reps work 09-17 London (=UTC)


def booked(case) -> list[Booking]:
    return list(Booking.objects.filter(case_ref=case.id, status=BookingStatus.ACTIVE))


def test_availability_grouped_by_day_in_the_freelancers_zone(freelancer, reps, frozen_clock):
    response = freelancer.get("/api/v1/case/availability", {"from": "2026-03-02", "to": "2026-03-03"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["timezone"] == "Asia/Kolkata"
    first_day = body["days"][0]
    # 13:00Z is 18:30 in Kolkata (UTC+05:30), on Monday the 2nd
    assert first_day["date"] == "2026-03-02"
    assert first_day["times"][0] == {"starts_at": FIRST, "local_time": "18:30"}
    # 16:55Z is 22:25 the same day; Tuesday 09:00Z is 14:30 on the 3rd
    assert first_day["times"][-1] == {"starts_at": "2026-03-02T16:55:00Z", "local_time": "22:25"}
    assert body["days"][1]["date"] == "2026-03-03" and body["days"][1]["times"][0]["local_time"] == "14:30"
    # distinct times: three free representatives still give one entry per time
    assert len(first_day["times"]) == 48


def test_availability_stops_at_the_deadline_and_honours_another_zone(freelancer, reps, case, frozen_clock):
    body = freelancer.get("/api/v1/case/availability", {"timezone": "America/New_York"}).json()
    assert body["timezone"] == "America/New_York"
    last = body["days"][-1]["times"][-1]["starts_at"]
    assert datetime.fromisoformat(last) < case.deadline_at


def test_availability_filters_by_language_and_phone(freelancer, reps, now, frozen_clock):
    make_reps(1, now=now, zone="America/New_York", languages=["es"], phone=False)
    spanish = freelancer.get("/api/v1/case/availability", {"language": "es"}).json()
    # the Spanish speaker works 09-17 New York = 14:00-22:00Z
    assert spanish["days"][0]["times"][0]["starts_at"] == "2026-03-02T14:00:00Z"
    phone = freelancer.get("/api/v1/case/availability", {"language": "es", "phone": "true"}).json()
    assert phone["days"] == []


@pytest.mark.parametrize("params", [{"from": "yesterday"}, {"timezone": "Mars/Base"},
                                    {"from": "2026-03-05", "to": "2026-03-04"}])
def test_availability_bad_query_gets_400(freelancer, params, frozen_clock):
    response = freelancer.get("/api/v1/case/availability", params)
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_book_the_earliest_time(freelancer, reps, case, frozen_clock):
    response = freelancer.post("/api/v1/case/booking", {"starts_at": FIRST}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["starts_at"] == FIRST and body["ends_at"] == "2026-03-02T13:03:00Z"
    assert body["join_url"].startswith("https://meet.jit.si/verify-") and body["invite_method"] == "REQUEST"
    [booking] = booked(case)
    assert booking.slot.is_booked and booking.starts_at.isoformat() == "2026-03-02T13:00:00+00:00"
    case.refresh_from_db()
    assert case.status == CaseStatus.SCHEDULED
    event = AuditEvent.objects.get(case=case, action="booked")
    assert (event.actor, event.from_status, event.to_status) == ("freelancer", "OPEN", "SCHEDULED")
    # and the case API shows it
    assert freelancer.get("/api/v1/case").json()["booking"]["id"] == str(booking.id)


def test_least_loaded_representative_is_assigned(reps, now, frozen_clock):
    busy, idle, other = reps
    for hour in (9, 10):  # earlier bookings today... on Tuesday for busy and other
        for rep in (busy, other):
            slot = Slot.objects.get(representative=rep, starts_at=datetime(2026, 3, 3, hour, tzinfo=UTC))
            slot.is_booked = True
            slot.save()
            Booking.objects.create(case_ref=CaseFactory().id, representative=rep, slot=slot, starts_at=slot.starts_at,
                                   ends_at=slot.ends_at, attendee_email="x@example.com", attendee_name="X",
                                   created_at=now, updated_at=now)
    case = CaseFactory()
    response = client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-03T12:00:00Z"}, format="json")
    assert response.status_code == 201
    assert booked(case)[0].representative == idle


def test_load_is_spread_over_representatives(reps, frozen_clock):
    for _ in range(6):
        case = CaseFactory()
        assert client_for(case).post("/api/v1/case/booking", {"starts_at": FIRST if _ < 3 else
                                     "2026-03-02T13:05:00Z"}, format="json").status_code == 201
    per_rep = {rep.pk: Booking.objects.filter(representative=rep).count() for rep in reps}
    assert sorted(per_rep.values()) == [2, 2, 2]


def test_slot_taken_gets_409_with_free_times_soon_after(now, frozen_clock):
    make_reps(1, now=now)
    first, second = CaseFactory(), CaseFactory()
    assert client_for(first).post("/api/v1/case/booking", {"starts_at": FIRST}, format="json").status_code == 201
    response = client_for(second).post("/api/v1/case/booking", {"starts_at": FIRST}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "slot_taken"
    # five of the next 24 free times (13:05Z to 15:00Z), earliest first, as UTC ISO 8601
    window = [(datetime(2026, 3, 2, 13, 5, tzinfo=UTC) + timedelta(minutes=5 * k)).isoformat().replace("+00:00", "Z")
              for k in range(24)]
    offered = body["next_free_times"]
    assert len(offered) == 5 and offered == sorted(set(offered)) and set(offered) <= set(window)
    assert not booked(second)
    second.refresh_from_db()
    assert second.status == CaseStatus.OPEN and not AuditEvent.objects.filter(case=second).exists()


def test_losers_of_a_race_for_one_time_are_offered_different_free_times(reps, now, frozen_clock):
    # Given the three representatives at FIRST booked, and plenty of free capacity after it
    for _ in reps:
        assert client_for(CaseFactory()).post("/api/v1/case/booking", {"starts_at": FIRST},
                                              format="json").status_code == 201
    offers = []
    for _ in range(40):
        # When forty more freelancers ask for FIRST
        case = CaseFactory()
        response = client_for(case).post("/api/v1/case/booking", {"starts_at": FIRST}, format="json")
        assert response.status_code == 409 and not booked(case)
        offered = [datetime.fromisoformat(t) for t in response.json()["next_free_times"]]
        # Then each is offered five distinct times after it, earliest first, each free at that moment
        assert len(offered) == 5 and offered == sorted(set(offered))
        assert all(t > datetime.fromisoformat(FIRST) for t in offered)
        assert Slot.objects.filter(starts_at__in=offered, is_booked=False).values("starts_at").distinct().count() == 5
        offers.append(offered)
    # ...and they are not all sent to the same times: the earliest offered (the one a person in a
    # hurry picks) differs between them, and more than five times are offered in all
    assert len({offered[0] for offered in offers}) > 1
    assert len({t for offered in offers for t in offered}) > 5
    assert Slot.objects.filter(is_booked=True).count() == 3  # the 409s changed nothing


def test_with_little_capacity_left_only_the_free_times_are_offered(now, frozen_clock):
    make_reps(2, now=now)
    left = [datetime(2026, 3, 2, 13, 40, tzinfo=UTC), datetime(2026, 3, 2, 16, 55, tzinfo=UTC),
            datetime(2026, 3, 4, 9, 0, tzinfo=UTC)]
    Slot.objects.exclude(starts_at__in=left).update(is_booked=True)
    for _ in range(10):
        response = client_for(CaseFactory()).post("/api/v1/case/booking", {"starts_at": FIRST}, format="json")
        assert response.status_code == 409
        assert [datetime.fromisoformat(t) for t in response.json()["next_free_times"]] == left


def test_alternatives_favour_the_times_with_more_free_representatives(reps, now):
    # Given three representatives, of whom only one is free at each time after FIRST but 13:30
    busy = reps[1:]
    Slot.objects.filter(representative__in=busy).exclude(starts_at=datetime(2026, 3, 2, 13, 30, tzinfo=UTC)
                                                         ).update(is_booked=True)
    rng = random.Random(11)
    # When the alternatives after FIRST are drawn many times
    draws = [free_time_alternatives(after=datetime.fromisoformat(FIRST), rng=rng) for _ in range(300)]
    # Then every draw is five of the next 24 free times, and 13:30 (three free) is offered far more
    # often than any time with one free representative
    window = {datetime(2026, 3, 2, 13, 5, tzinfo=UTC) + timedelta(minutes=5 * k) for k in range(24)}
    assert all(len(d) == 5 and set(d) <= window for d in draws)
    counts = Counter(t for d in draws for t in d)
    popular = counts.pop(datetime(2026, 3, 2, 13, 30, tzinfo=UTC))
    assert popular > 1.5 * max(counts.values())


@pytest.mark.parametrize(
    ("starts_at", "status", "code"),
    [
        ("2026-03-02T13:00:00", 400, "invalid"),  # naive
        ("tomorrow at nine", 400, "invalid"),
        ("2026-03-02T13:02:00Z", 400, "not_a_slot_time"),
        ("2026-03-02T11:00:00Z", 400, "in_the_past"),
        ("2026-03-02T12:30:00Z", 400, "too_soon"),
        ("2026-03-10T09:00:00Z", 400, "after_deadline"),
    ],
)
def test_bad_booking_times_are_refused_and_change_nothing(freelancer, reps, case, starts_at, status, code,
                                                          frozen_clock):
    response = freelancer.post("/api/v1/case/booking", {"starts_at": starts_at}, format="json")
    assert response.status_code == status, response.content
    assert response.json()["code"] == code and response.json()["detail"]
    assert not booked(case) and not Slot.objects.filter(is_booked=True).exists()
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN


def test_naive_time_message_says_what_to_change(freelancer, reps, frozen_clock):
    response = freelancer.post("/api/v1/case/booking", {"starts_at": "2026-03-02T13:00:00"}, format="json")
    assert "UTC offset" in response.json()["fields"]["starts_at"][0]


def test_offset_times_are_understood(freelancer, reps, case, frozen_clock):
    response = freelancer.post("/api/v1/case/booking", {"starts_at": "2026-03-02T18:30:00+05:30"}, format="json")
    assert response.status_code == 201 and response.json()["starts_at"] == FIRST


def test_booking_twice_is_409(freelancer, reps, case, frozen_clock):
    freelancer.post("/api/v1/case/booking", {"starts_at": FIRST}, format="json")
    response = freelancer.post("/api/v1/case/booking", {"starts_at": "2026-03-02T14:00:00Z"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "already_booked"
    assert len(booked(case)) == 1


def test_frozen_case_can_book_in_the_next_fourteen_days(reps, frozen_clock, settings):
    settings.SLOT_HORIZON_DAYS = 21  # ten days ahead is past the tests' short horizon
    representatives_slots_sync_all(now=frozen_clock)
    case = CaseFactory(status=CaseStatus.FROZEN, deadline_at=datetime(2026, 3, 1, tzinfo=UTC),
                       notice_sent_at=datetime(2026, 2, 20, tzinfo=UTC))
    response = client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-12T09:00:00Z"}, format="json")
    assert response.status_code == 201
    case.refresh_from_db()
    assert case.status == CaseStatus.SCHEDULED


def test_withdrawn_case_cannot_book(reps, frozen_clock):
    case = CaseFactory(status=CaseStatus.WITHDRAWN)
    response = client_for(case).post("/api/v1/case/booking", {"starts_at": FIRST}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "case_not_bookable"


def test_reschedule_claims_the_new_slot_then_frees_the_old(freelancer, reps, case, frozen_clock):
    first = freelancer.post("/api/v1/case/booking", {"starts_at": FIRST}, format="json").json()
    old_slot = Booking.objects.get(pk=first["id"]).slot
    response = freelancer.patch("/api/v1/case/booking", {"starts_at": "2026-03-03T10:00:00Z"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == first["id"] and body["sequence"] == 1 and body["starts_at"] == "2026-03-03T10:00:00Z"
    old_slot.refresh_from_db()
    assert not old_slot.is_booked
    case.refresh_from_db()
    assert case.reschedule_count == 1 and case.status == CaseStatus.SCHEDULED
    assert AuditEvent.objects.filter(case=case, action="rescheduled").count() == 1


def test_reschedule_to_a_taken_time_keeps_the_original_booking(now, case, freelancer, frozen_clock):
    make_reps(1, now=now)
    freelancer.post("/api/v1/case/booking", {"starts_at": FIRST}, format="json")
    other = CaseFactory()
    client_for(other).post("/api/v1/case/booking", {"starts_at": "2026-03-02T14:00:00Z"}, format="json")
    response = freelancer.patch("/api/v1/case/booking", {"starts_at": "2026-03-02T14:00:00Z"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "slot_taken"
    [booking] = booked(case)
    assert booking.starts_at == datetime(2026, 3, 2, 13, tzinfo=UTC) and booking.slot.is_booked
    assert booking.sequence == 0


def test_reschedule_limit_and_cutoff(reps, case, freelancer, now):
    import time_machine

    with time_machine.travel(now, tick=False):
        freelancer.post("/api/v1/case/booking", {"starts_at": FIRST}, format="json")
    for step, hour in enumerate((10, 11, 12)):  # changes of time a cooldown apart (docs/security.md)
        with time_machine.travel(now + timedelta(minutes=5 * step), tick=False):
            assert freelancer.patch("/api/v1/case/booking", {"starts_at": f"2026-03-03T{hour}:00:00Z"},
                                    format="json").status_code == 200
    with time_machine.travel(now + timedelta(minutes=20), tick=False):
        response = freelancer.patch("/api/v1/case/booking", {"starts_at": "2026-03-03T14:00:00Z"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "reschedule_limit_reached"
    assert booked(case)[0].starts_at == datetime(2026, 3, 3, 12, tzinfo=UTC)


def test_no_reschedule_within_an_hour_of_the_call(reps, now, frozen_clock):
    case = CaseFactory()
    client = client_for(case)
    client.post("/api/v1/case/booking", {"starts_at": FIRST}, format="json")
    import time_machine

    with time_machine.travel(now + timedelta(minutes=10), tick=False):
        response = client.patch("/api/v1/case/booking", {"starts_at": "2026-03-03T10:00:00Z"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "too_close_to_call"


def test_cancel_frees_the_slot_and_reopens_the_case(freelancer, reps, case, frozen_clock):
    first = freelancer.post("/api/v1/case/booking", {"starts_at": FIRST}, format="json").json()
    response = freelancer.delete("/api/v1/case/booking")
    assert response.status_code == 200 and response.json()["status"] == "CANCELLED"
    assert response.json()["invite_method"] == "CANCEL"
    booking = Booking.objects.get(pk=first["id"])
    assert booking.status == BookingStatus.CANCELLED and not booking.slot.is_booked
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert freelancer.delete("/api/v1/case/booking").json()["code"] == "booking_not_found"


def test_invites_parse_back_with_icalendar(freelancer, reps, case, settings, frozen_clock):
    settings.DIAL_IN_NUMBER = "+1 555 0100"
    booking_id = freelancer.post("/api/v1/case/booking", {"starts_at": FIRST}, format="json").json()["id"]
    response = freelancer.get("/api/v1/case/booking.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8; method=REQUEST"
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["METHOD"]) == "REQUEST"
    [event] = calendar.walk("VEVENT")
    uid = str(event["UID"])
    assert uid == f"{booking_id}@verification-calls" and int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == datetime(2026, 3, 2, 13, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 3, 2, 13, 3, tzinfo=UTC)
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["ORGANIZER"]) == "mailto:verify@localhost"
    assert str(event["ATTENDEE"]) == f"mailto:{case.freelancer.email}"
    description = str(event["DESCRIPTION"])
    assert "https://meet.jit.si/verify-" in description and "+1 555 0100" in description and "PIN" in description
    assert "photo ID" in description
    [alarm] = event.walk("VALARM")
    assert alarm.decoded("TRIGGER") == timedelta(minutes=-10)

    freelancer.patch("/api/v1/case/booking", {"starts_at": "2026-03-03T10:00:00Z"}, format="json")
    moved = Calendar.from_ical(freelancer.get("/api/v1/case/booking.ics").content).walk("VEVENT")[0]
    assert str(moved["UID"]) == uid and int(moved["SEQUENCE"]) == 1
    assert moved.decoded("DTSTART") == datetime(2026, 3, 3, 10, tzinfo=UTC)

    freelancer.delete("/api/v1/case/booking")
    cancelled = Calendar.from_ical(freelancer.get("/api/v1/case/booking.ics").content)
    assert str(cancelled["METHOD"]) == "CANCEL"
    event = cancelled.walk("VEVENT")[0]
    assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 2 and str(event["STATUS"]) == "CANCELLED"


def test_phone_route_only_when_a_number_is_configured(freelancer, reps, frozen_clock):
    body = freelancer.post("/api/v1/case/booking", {"starts_at": FIRST}, format="json").json()
    assert body["phone"] is None


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Bearer abc:def", "Api-Key x"])
def test_wrong_token_gets_401(header, reps, case, frozen_clock):
    from rest_framework.test import APIClient

    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    for response in (client.get("/api/v1/case"),
                     client.post("/api/v1/case/booking", {"starts_at": FIRST}, format="json")):
        assert response.status_code == 401
    assert not Booking.objects.exists()


def test_revoked_and_expired_links_get_401(reps, now, frozen_clock):
    case = CaseFactory()
    client = client_for(case)
    case.link_nonce = "rotated"
    case.save()
    assert client.get("/api/v1/case").json()["code"] == "link_invalid"
    closed = CaseFactory(status=CaseStatus.WITHDRAWN, closed_at=now - timedelta(days=31))
    response = client_for(closed).get("/api/v1/case")
    assert response.status_code == 401 and response.json()["code"] == "link_expired"


def test_marketplace_key_does_not_open_the_freelancer_api(marketplace, reps, frozen_clock):
    assert marketplace.get("/api/v1/case").status_code == 401


def test_withdrawing_a_case_cancels_its_booking(marketplace, freelancer, reps, case, frozen_clock):
    freelancer.post("/api/v1/case/booking", {"starts_at": FIRST}, format="json")
    assert marketplace.post(f"/api/v1/cases/{case.id}/withdraw", format="json").status_code == 200
    assert not booked(case) and not Slot.objects.filter(is_booked=True).exists()
