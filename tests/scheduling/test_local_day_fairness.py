"""Least-loaded counts a representative's calls per their OWN local day, not per UTC day: around
midnight in Asia/Kolkata, America/New_York and Europe/London (summer time) the two differ."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from scheduling.models import Booking, Slot
from scheduling.services.bookings import _local_day, booking_create
from scheduling.services.slots import slot_length
from tests.factories import RepresentativeFactory

pytestmark = pytest.mark.django_db


def Z(text: str) -> datetime:  # noqa: N802
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def held(rep, at: datetime) -> None:
    Booking.objects.create(case_ref=uuid.uuid4(), representative=rep, starts_at=at, ends_at=at + slot_length(),
                           attendee_email="x@example.com", attendee_name="X", created_at=at, updated_at=at)


# zone under test, the time booked, its representative's calls (same local day as the time, another
# UTC day), the other representative's zone and call (same UTC day and same local day as the time)
CASES = {
    # 09:30 Tuesday in Kolkata; her Tuesday began at 18:30 UTC on Monday
    "Asia/Kolkata": (Z("2026-03-03T04:00"), [Z("2026-03-02T19:00"), Z("2026-03-02T19:30")],
                     "Europe/London", Z("2026-03-03T02:00")),
    # 22:00 Monday in New York (03:00 UTC Tuesday); his Monday calls were on Monday UTC
    "America/New_York": (Z("2026-03-03T03:00"), [Z("2026-03-02T15:00"), Z("2026-03-02T15:10")],
                         "Europe/London", Z("2026-03-03T00:30")),
    # 00:30 Wednesday in London in summer (23:30 UTC Tuesday); her Wednesday calls are on Wednesday UTC
    "Europe/London": (Z("2026-06-02T23:30"), [Z("2026-06-03T10:00"), Z("2026-06-03T10:10")],
                      "UTC", Z("2026-06-02T10:00")),
}


@pytest.mark.parametrize("zone", CASES)
def test_least_loaded_counts_calls_in_the_representatives_own_day(zone, now):
    at, own_calls, other_zone, other_call = CASES[zone]
    rep, other = RepresentativeFactory(timezone=zone), RepresentativeFactory(timezone=other_zone)
    for call in own_calls:
        held(rep, call)
    held(other, other_call)
    start, end = _local_day(at, zone)
    assert all(start <= call < end for call in own_calls)  # the same local day as the time booked...
    assert all(call.date() != at.date() for call in own_calls)  # ...but another UTC day
    for someone in (rep, other):
        Slot.objects.create(representative=someone, starts_at=at, ends_at=at + slot_length())

    booking = booking_create(case_ref=uuid.uuid4(), starts_at=at, attendee_email="f@example.com",
                             attendee_name="F", now=at - timedelta(days=1))
    # by UTC day `rep` had no call that day and `other` one; by their own days `rep` has two
    assert booking.representative == other
