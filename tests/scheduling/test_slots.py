"""Slot generation from local working hours across DST changes, and regeneration."""

from datetime import UTC, datetime, time, timedelta

import pytest

from scheduling.models import Slot, TimeOff, WorkingHours
from scheduling.services.slots import representative_slots_sync, slot_starts
from tests.factories import RepresentativeFactory, WorkingHoursFactory

SUNDAY = 6


def starts(zone: str, day: str, start: time, end: time) -> list[datetime]:
    d = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return slot_starts(zone_name=zone, hours=[(SUNDAY, start, end)], time_off=[],
                       start=d - timedelta(days=1), end=d + timedelta(days=2))


def assert_no_overlap(instants: list[datetime]) -> None:
    assert len(instants) == len(set(instants))
    assert all(b - a >= timedelta(minutes=5) for a, b in zip(instants, instants[1:], strict=False))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_new_york_spring_forward_skips_the_missing_hour():
    got = starts("America/New_York", "2026-03-08", time(1, 0), time(4, 0))
    assert len(got) == 24  # 01:00-01:55 EST and 03:00-03:55 EDT; 02:xx does not exist
    assert got[0] == utc("2026-03-08T06:00") and got[11] == utc("2026-03-08T06:55")
    assert got[12] == utc("2026-03-08T07:00") and got[-1] == utc("2026-03-08T07:55")
    assert_no_overlap(got)


def test_new_york_fall_back_makes_no_duplicate_for_the_repeated_hour():
    got = starts("America/New_York", "2026-11-01", time(0, 30), time(3, 0))
    assert len(got) == 30  # 00:30-00:55, 01:00-01:55 (first occurrence only), 02:00-02:55 EST
    assert got[0] == utc("2026-11-01T04:30")
    assert got[6] == utc("2026-11-01T05:00") and got[17] == utc("2026-11-01T05:55")
    assert got[18] == utc("2026-11-01T07:00")  # 02:00 EST
    assert_no_overlap(got)


def test_london_both_changes():
    spring = starts("Europe/London", "2026-03-29", time(0, 0), time(3, 0))
    assert len(spring) == 24 and utc("2026-03-29T01:00") in spring  # 01:xx GMT missing, 02:00 BST = 01:00Z
    assert spring[11] == utc("2026-03-29T00:55") and spring[12] == utc("2026-03-29T01:00")
    fall = starts("Europe/London", "2026-10-25", time(0, 0), time(3, 0))
    assert len(fall) == 36  # 00:00-02:55 wall clock, 01:xx once
    assert fall[0] == utc("2026-10-24T23:00") and fall[-1] == utc("2026-10-25T02:55")
    assert_no_overlap(spring)
    assert_no_overlap(fall)


def test_lord_howe_half_hour_shifts():
    spring = starts("Australia/Lord_Howe", "2026-10-04", time(1, 0), time(3, 0))
    assert len(spring) == 18  # 02:00-02:25 does not exist (clocks go 02:00 -> 02:30)
    assert spring[11] == utc("2026-10-03T15:25") and spring[12] == utc("2026-10-03T15:30")  # 01:55 +10:30, 02:30 +11
    fall = starts("Australia/Lord_Howe", "2026-04-05", time(1, 0), time(3, 0))
    assert len(fall) == 24  # 01:30-01:55 repeats: first occurrence only
    assert_no_overlap(spring)
    assert_no_overlap(fall)


def test_time_off_removes_overlapping_slots():
    day = utc("2026-03-02T00:00")
    got = slot_starts(zone_name="UTC", hours=[(0, time(9), time(10))],
                      time_off=[(utc("2026-03-02T09:12"), utc("2026-03-02T09:31"))], start=day, end=day + timedelta(1))
    assert utc("2026-03-02T09:10") not in got and utc("2026-03-02T09:30") not in got
    assert utc("2026-03-02T09:05") in got and utc("2026-03-02T09:35") in got
    assert len(got) == 12 - 5


def test_overlapping_hours_are_merged_into_one_grid():
    day = utc("2026-03-02T00:00")
    got = slot_starts(zone_name="UTC", hours=[(0, time(9), time(10)), (0, time(9, 30), time(10, 30))],
                      time_off=[], start=day, end=day + timedelta(1))
    assert len(got) == 18
    assert_no_overlap(got)


@pytest.mark.django_db
def test_sync_materializes_the_horizon_and_is_idempotent(now, settings):
    settings.SLOT_HORIZON_DAYS = 7
    rep = RepresentativeFactory(timezone="Europe/London")
    for day in range(5):
        WorkingHoursFactory(representative=rep, weekday=day, starts=time(9), ends=time(10))
    first = representative_slots_sync(representative_id=rep.pk, now=now)
    # now is Monday 12:00 UTC: Monday's hour has passed; Tue-Fri this week and Mon next week remain
    assert first.created == 5 * 12 and Slot.objects.count() == 60
    again = representative_slots_sync(representative_id=rep.pk, now=now)
    assert again.created == 0 and again.removed == 0 and Slot.objects.count() == 60


@pytest.mark.django_db
def test_removing_hours_removes_free_slots_but_never_a_booked_one_silently(now, settings):
    settings.SLOT_HORIZON_DAYS = 21  # three Tuesdays
    rep = RepresentativeFactory()
    hours = WorkingHoursFactory(representative=rep, weekday=1, starts=time(9), ends=time(10))
    representative_slots_sync(representative_id=rep.pk, now=now)
    assert Slot.objects.filter(representative=rep).count() == 3 * 12
    hours.delete()
    result = representative_slots_sync(representative_id=rep.pk, now=now)
    assert result.removed == 36 and not Slot.objects.exists()


@pytest.mark.django_db
def test_adding_time_off_removes_free_slots(now):
    rep = RepresentativeFactory(timezone="UTC")
    WorkingHoursFactory(representative=rep, weekday=1, starts=time(9), ends=time(10))
    representative_slots_sync(representative_id=rep.pk, now=now)
    TimeOff.objects.create(representative=rep, starts_at=utc("2026-03-03T00:00"), ends_at=utc("2026-03-04T00:00"))
    representative_slots_sync(representative_id=rep.pk, now=now)
    assert not Slot.objects.filter(starts_at__date="2026-03-03").exists()
    assert Slot.objects.filter(starts_at__date="2026-03-10").count() == 12


@pytest.mark.django_db
def test_inactive_representative_offers_nothing(now):
    rep = RepresentativeFactory(active=False)
    WorkingHours.objects.create(representative=rep, weekday=1, starts=time(9), ends=time(10))
    representative_slots_sync(representative_id=rep.pk, now=now)
    assert not Slot.objects.exists()


@pytest.mark.django_db
def test_editing_hours_in_the_admin_regenerates_slots(admin_client, django_capture_on_commit_callbacks,
                                                      frozen_clock, settings):
    from verify_site.celery import app

    settings.SLOT_HORIZON_DAYS = 21  # three Wednesdays
    rep = RepresentativeFactory(timezone="UTC")
    data = {
        "user": rep.user.pk, "display_name": rep.display_name, "timezone": "UTC", "can_take_phone_calls": "on",
        "active": "on",
        "languages-TOTAL_FORMS": "0", "languages-INITIAL_FORMS": "0",
        "working_hours-TOTAL_FORMS": "1", "working_hours-INITIAL_FORMS": "0",
        "working_hours-0-weekday": "2", "working_hours-0-starts": "09:00", "working_hours-0-ends": "10:00",
        "time_off-TOTAL_FORMS": "0", "time_off-INITIAL_FORMS": "0",
    }
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client.post(f"/admin/scheduling/representative/{rep.pk}/change/", data)
    finally:
        app.conf.task_always_eager = False
    assert response.status_code == 302, response.content[:2000]
    assert WorkingHours.objects.filter(representative=rep).count() == 1
    # now is Monday 2 March: Wednesdays 4, 11 and 18 March fall in the 21-day horizon, 12 slots a morning
    assert Slot.objects.filter(representative=rep).count() == 3 * 12
