"""No double booking, whatever the concurrency: real PostgreSQL, threads with their own
connections released together by a barrier."""

from collections import Counter
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction

from scheduling.models import Booking, BookingStatus
from tests.factories import CaseFactory
from tests.helpers import client_for, make_reps, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
AT = "2026-03-02T13:00:00Z"


def test_fifty_freelancers_race_for_one_time_with_three_representatives(now, frozen_clock):
    make_reps(3, now=now)
    cases = [CaseFactory() for _ in range(50)]
    responses = race(50, lambda i: client_for(cases[i]).post("/api/v1/case/booking", {"starts_at": AT},
                                                             format="json"))
    assert Counter(r.status_code for r in responses) == {201: 3, 409: 47}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"slot_taken"}
    bookings = Booking.objects.filter(status=BookingStatus.ACTIVE)
    assert bookings.count() == 3 and len({b.representative_id for b in bookings}) == 3


def test_one_case_booking_twice_in_parallel_gets_one_booking(now, frozen_clock):
    make_reps(3, now=now)
    case = CaseFactory()
    times = ["2026-03-02T13:00:00Z", "2026-03-02T14:00:00Z"] * 4
    responses = race(8, lambda i: client_for(case).post("/api/v1/case/booking", {"starts_at": times[i]},
                                                        format="json"))
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 7}
    assert Booking.objects.filter(case_ref=case.id, status=BookingStatus.ACTIVE).count() == 1


def test_reschedule_racing_a_booking_for_the_last_slot(now, frozen_clock):
    make_reps(1, now=now)
    mover, newcomer = CaseFactory(), CaseFactory()
    assert client_for(mover).post("/api/v1/case/booking", {"starts_at": "2026-03-03T09:00:00Z"},
                                  format="json").status_code == 201
    target = "2026-03-02T15:00:00Z"
    calls = [
        lambda: client_for(mover).patch("/api/v1/case/booking", {"starts_at": target}, format="json"),
        lambda: client_for(newcomer).post("/api/v1/case/booking", {"starts_at": target}, format="json"),
    ]
    responses = race(2, lambda i: calls[i]())
    assert sorted(r.status_code for r in responses) == [200, 409] or sorted(
        r.status_code for r in responses) == [201, 409]
    at_target = Booking.objects.filter(status=BookingStatus.ACTIVE, starts_at=datetime(2026, 3, 2, 15, tzinfo=UTC))
    assert at_target.count() == 1
    assert Booking.objects.filter(case_ref=mover.id, status=BookingStatus.ACTIVE).count() == 1


def test_database_refuses_overlapping_active_bookings_of_one_representative(now, frozen_clock):
    [rep] = make_reps(1, now=now)
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    booking = Booking.objects.get()
    with pytest.raises(IntegrityError, match="booking_no_overlap_per_rep"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO scheduling_booking (id, case_ref, representative_id, starts_at, ends_at, status,"
            " attendee_email, attendee_name, language, phone, join_token, dial_in_pin, sequence, cancel_reason,"
            " displacement, created_at, updated_at) VALUES (gen_random_uuid(), gen_random_uuid(), %s,"
            " %s + interval '2 minutes', %s + interval '7 minutes', 'ACTIVE', 'x@example.com', 'X', '', false,"
            " 'tok-raw', '1', 0, '', '', now(), now())",
            [rep.pk, booking.starts_at, booking.starts_at],
        )
    assert Booking.objects.count() == 1
