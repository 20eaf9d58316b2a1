"""Past slots are pruned on a schedule, but never one a case that may still be decided can count
(freeze guard 5), and never one an active booking holds (issue 15, item 4)."""

from datetime import timedelta

import pytest

from scheduling.models import Booking, Slot
from scheduling.selectors import offered_times_count
from tests.factories import CaseFactory, RepresentativeFactory
from verification.deadlines.services import past_slots_prune
from verification.models import CaseStatus
from verify_site.celery import app

pytestmark = pytest.mark.django_db


def slots_every_hour(rep, *, start, hours: int) -> None:
    Slot.objects.bulk_create(Slot(representative=rep, starts_at=start + timedelta(hours=h),
                                  ends_at=start + timedelta(hours=h, minutes=5)) for h in range(hours))


@pytest.fixture
def history(now):
    """A representative with a slot every hour for the 60 days before `now` and the 10 after."""
    rep = RepresentativeFactory()
    slots_every_hour(rep, start=now - timedelta(days=60), hours=70 * 24)
    return rep


def book(slot, *, status: str, now) -> Booking:
    Slot.objects.filter(pk=slot.pk).update(is_booked=True)
    return Booking.objects.create(case_ref=CaseFactory().id, representative=slot.representative, slot=slot,
                                  starts_at=slot.starts_at, ends_at=slot.ends_at, status=status,
                                  attendee_email="a@example.com", attendee_name="A", created_at=now, updated_at=now)


def test_without_open_cases_every_past_slot_goes_but_one_an_active_booking_holds(now, history):
    held, done = Slot.objects.filter(starts_at__lt=now - timedelta(days=30))[:2]
    book(held, status="ACTIVE", now=now)
    finished = book(done, status="DONE", now=now)
    CaseFactory(status=CaseStatus.FROZEN, notice_sent_at=now - timedelta(days=50))  # a freeze pins nothing
    CaseFactory(status=CaseStatus.VERIFIED, notice_sent_at=now - timedelta(days=50))
    deleted = past_slots_prune(now=now)
    assert deleted == 60 * 24 - 1
    assert list(Slot.objects.filter(starts_at__lt=now).values_list("pk", flat=True)) == [held.pk]
    finished.refresh_from_db()
    assert finished.slot_id is None and finished.starts_at == done.starts_at  # the booking keeps its row
    assert Slot.objects.filter(starts_at__gte=now).count() == 10 * 24  # the future is untouched


def test_slots_an_open_case_can_count_are_kept_and_its_guard_counts_the_same(now, history):
    case = CaseFactory(status=CaseStatus.SCHEDULED, notice_sent_at=now - timedelta(days=12))
    start = case.notice_sent_at + timedelta(hours=1)  # guard 5's window starts after the minimum notice
    before = offered_times_count(start=start, end=case.deadline_at)
    deleted = past_slots_prune(now=now)
    assert deleted == (60 - 12) * 24 + 1  # everything before the notice plus the minimum notice (1 h)
    assert not Slot.objects.filter(starts_at__lt=start).exists()
    assert offered_times_count(start=start, end=case.deadline_at) == before
    assert past_slots_prune(now=now) == 0  # run again: nothing more to do


def test_a_case_open_longer_than_the_maximum_keeps_no_older_slots(now, history, settings):
    settings.PAST_SLOTS_KEEP_MAX_DAYS = 20
    CaseFactory(status=CaseStatus.OPEN, notice_sent_at=now - timedelta(days=45))
    past_slots_prune(now=now)
    assert Slot.objects.filter(starts_at__lt=now).count() == 20 * 24


def test_beat_prunes_every_hour():
    entry = next(e for e in app.conf.beat_schedule.values() if e["task"] == "verification.tasks.past_slots_prune")
    assert entry["schedule"] == 3600
