"""Hours removed or time off added over booked calls: move to another representative, or cancel
and extend the case's deadline (through verification), audited, once."""

from datetime import UTC, datetime, timedelta

import pytest

from scheduling.models import Booking, BookingStatus, Displacement, Slot, TimeOff, WorkingHours
from scheduling.services.slots import representative_slots_sync
from tests.factories import CaseFactory
from tests.helpers import client_for, make_reps
from verification.models import AuditEvent, CaseStatus
from verification.services.bookings import bookings_displaced_handle

pytestmark = pytest.mark.django_db
AT = "2026-03-03T10:00:00Z"


def book(case) -> Booking:
    assert client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json").status_code == 201
    return Booking.objects.get(case_ref=case.id)


def test_time_off_over_a_booking_moves_it_to_a_free_colleague(now, frozen_clock):
    reps = make_reps(2, now=now)
    case = CaseFactory()
    booking = book(case)
    first_rep = booking.representative
    TimeOff.objects.create(representative=first_rep, starts_at=datetime(2026, 3, 3, tzinfo=UTC),
                           ends_at=datetime(2026, 3, 4, tzinfo=UTC))
    result = representative_slots_sync(representative_id=first_rep.pk, now=now)
    booking.refresh_from_db()
    assert result.moved == [booking] and not result.cancelled
    other = next(r for r in reps if r != first_rep)
    assert booking.status == BookingStatus.ACTIVE and booking.representative == other
    assert booking.starts_at == datetime(2026, 3, 3, 10, tzinfo=UTC) and booking.sequence == 1  # same time
    assert booking.slot.representative == other and booking.slot.is_booked
    assert booking.displacement == Displacement.MOVED
    assert not Slot.objects.filter(representative=first_rep, starts_at__date="2026-03-03").exists()

    assert bookings_displaced_handle(now=now) == 1
    assert bookings_displaced_handle(now=now) == 0  # once
    case.refresh_from_db()
    assert case.status == CaseStatus.SCHEDULED
    assert AuditEvent.objects.filter(case=case, action="booking_moved").count() == 1


def test_removed_hours_with_nobody_free_cancel_and_extend_the_deadline(now, frozen_clock):
    [rep] = make_reps(1, now=now)
    case = CaseFactory()
    booking = book(case)
    deadline = case.deadline_at
    WorkingHours.objects.filter(representative=rep, weekday=1).delete()  # Tuesday
    result = representative_slots_sync(representative_id=rep.pk, now=now)
    booking.refresh_from_db()
    assert result.cancelled == [booking]
    assert booking.status == BookingStatus.CANCELLED and booking.slot is None
    assert booking.cancel_reason == "representative_unavailable" and booking.sequence == 1

    bookings_displaced_handle(now=now)
    bookings_displaced_handle(now=now)
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert case.deadline_at == deadline + timedelta(hours=72)
    actions = list(AuditEvent.objects.filter(case=case).values_list("action", "actor"))
    assert actions[-2:] == [("booking_cancelled_by_us", "system"), ("deadline_extended", "system")]
    assert AuditEvent.objects.filter(case=case, action="deadline_extended").count() == 1
