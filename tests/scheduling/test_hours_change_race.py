"""A representative changes their hours or time off while freelancers book inside those hours: real
PostgreSQL, threads with their own connections released together by a barrier, many rounds.

Either side may win, but nobody gets a 500 and nothing is left half done: a booking either stands
(with this representative if the change lost; if it won, moved to a colleague at the same time or
cancelled as displaced) or gets a clean 409; the change either succeeds or asks to be retried.
"""

import threading
import time as time_module
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection, connections, transaction
from django.test import Client

from scheduling.errors import DomainError, HoursBusy
from scheduling.models import Booking, BookingStatus, Displacement, Representative, Slot, TimeOff, WorkingHours
from scheduling.services import bookings
from scheduling.services import slots as slot_services
from scheduling.services.hours import time_off_add, working_hours_remove
from scheduling.services.slots import SyncResult, representative_slots_sync
from tests.factories import CaseFactory, RepresentativeFactory, WorkingHoursFactory
from tests.helpers import client_for, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TUESDAY = 1
DAY_START = datetime(2026, 3, 3, 9, tzinfo=UTC)  # Tuesday 09:00 in London (GMT) = UTC
DAY_END = datetime(2026, 3, 3, 17, tzinfo=UTC)
OFF_START, OFF_END = datetime(2026, 3, 3, 10, tzinfo=UTC), datetime(2026, 3, 3, 15, tzinfo=UTC)
ROUNDS = 10
FREELANCERS = 24
ALREADY_BOOKED = [DAY_START + timedelta(minutes=m) for m in (65, 130, 370)]  # inside both windows
# 12 times across the day, two freelancers each: they race each other as well as the change
RACE_TIMES = [DAY_START + timedelta(minutes=40 * k + 5) for k in range(12)]


@pytest.fixture(autouse=True)
def one_tuesday(settings):
    settings.SLOT_HORIZON_DAYS = 7  # slots for Tuesday 3 March only: quick to make and to sync


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def is_busy(outcome) -> bool:
    return isinstance(outcome, DomainError) and outcome.code == "hours_busy"


def rep_with_hours(*, weekdays, starts=time(9), ends=time(17), now) -> Representative:
    rep = RepresentativeFactory(timezone="Europe/London")
    hours = [WorkingHoursFactory(representative=rep, weekday=day, starts=starts, ends=ends) for day in weekdays]
    representative_slots_sync(representative_id=rep.pk, now=now)
    rep.tuesday_hours = next(h for h in hours if h.weekday == TUESDAY)
    return rep


def book(case, at: datetime):
    return client_for(case).post("/api/v1/case/booking", {"starts_at": iso(at)}, format="json")


def fresh_round(*, colleagues: int, now):
    """Only this round's representatives and bookings exist."""
    Booking.objects.all().delete()
    Representative.objects.all().delete()  # with their hours, time off and slots
    target = rep_with_hours(weekdays=[TUESDAY], now=now)
    for at in ALREADY_BOOKED:
        assert book(CaseFactory(), at).status_code == 201
    # colleagues cover only the morning: bookings there can move, later ones are cancelled
    for _ in range(colleagues):
        rep_with_hours(weekdays=[TUESDAY], ends=time(13), now=now)
    return target


def assert_consistent() -> None:
    """What must hold whoever won: every active booking sits on a booked slot of its own
    representative at its own time, and a slot is booked exactly when an active booking holds it."""
    active = list(Booking.objects.filter(status=BookingStatus.ACTIVE).select_related("slot"))
    for booking in active:
        assert booking.slot is not None, booking
        assert booking.slot.is_booked and booking.slot.representative_id == booking.representative_id
        assert booking.slot.starts_at == booking.starts_at
    assert set(Slot.objects.filter(is_booked=True).values_list("pk", flat=True)) == {b.slot_id for b in active}
    for booking in Booking.objects.exclude(status=BookingStatus.ACTIVE):
        assert booking.displacement == Displacement.CANCELLED and booking.slot_id is None
        assert booking.cancel_reason == "representative_unavailable"


@pytest.mark.slow
def test_hours_change_while_freelancers_book_inside_them(now, frozen_clock):
    changed, displaced = 0, set()
    for round_number in range(ROUNDS):
        # given a representative working 09-17 on Tuesday, three calls already booked with them,
        # and in every other round two colleagues working the morning; the representative removes
        # those hours (rounds 0, 1, 4, 5, ...) or takes 10-15 off (rounds 2, 3, 6, 7, ...)
        change = "hours_removed" if round_number // 2 % 2 == 0 else "time_off_added"
        window = (DAY_START, DAY_END) if change == "hours_removed" else (OFF_START, OFF_END)
        target = fresh_round(colleagues=2 * (round_number % 2), now=now)
        cases = [CaseFactory() for _ in range(FREELANCERS)]

        def work(index: int, target=target, cases=cases, change=change):
            if index == FREELANCERS:  # the representative, through the services the console uses
                if change == "hours_removed":
                    return working_hours_remove(representative_id=target.pk, hours_id=target.tuesday_hours.pk,
                                                now=now)
                return time_off_add(representative_id=target.pk, starts_at=OFF_START, ends_at=OFF_END,
                                    note="dentist", now=now)
            return book(cases[index], RACE_TIMES[index % len(RACE_TIMES)])

        # when the change and 24 bookings are released together
        *responses, outcome = race(FREELANCERS + 1, work)

        # then: no 500, no deadlock, no stray error on either side
        assert isinstance(outcome, SyncResult) or is_busy(outcome), repr(outcome)
        if is_busy(outcome):
            assert outcome.__cause__ is None or getattr(outcome.__cause__.__cause__, "sqlstate", "") != "40P01"
        for response in responses:
            assert not isinstance(response, Exception), repr(response)
            assert (response.status_code, response.json().get("code")) in {
                (201, None), (409, "slot_taken"), (400, "not_a_slot_time")}, response.json()
        assert_consistent()

        booked = [Booking.objects.get(pk=r.json()["id"]) for r in responses if r.status_code == 201]
        booked += list(Booking.objects.filter(starts_at__in=ALREADY_BOOKED))
        in_window = [b for b in booked if window[0] < b.ends_at and b.starts_at < window[1]]
        slots = Slot.objects.filter(representative=target, starts_at__lt=window[1], ends_at__gt=window[0])
        if isinstance(outcome, SyncResult):
            changed += 1
            # the representative has nothing left in the removed times: every call they had there
            # was moved to a colleague at the same time or cancelled and marked displaced
            assert not slots.exists()
            for booking in in_window:
                if booking.displacement == Displacement.MOVED:
                    assert booking.status == BookingStatus.ACTIVE and booking.representative_id != target.pk
                elif booking.displacement == Displacement.CANCELLED:
                    assert booking.status == BookingStatus.CANCELLED
                else:
                    assert booking.representative_id != target.pk and booking.sequence == 0
            if round_number % 2 == 0:  # nobody to move them to
                assert not any(b.displacement == Displacement.MOVED for b in booked)
            displaced |= {b.displacement for b in in_window}
        else:
            # nothing changed: the hours are still there, nobody was displaced
            assert WorkingHours.objects.filter(pk=target.tuesday_hours.pk).exists()
            assert not TimeOff.objects.exists()
            assert not any(b.displacement for b in booked)
            assert slots.count() == (window[1] - window[0]) // slot_services.slot_length()
        assert all(b.status == BookingStatus.ACTIVE and not b.displacement and b.sequence == 0
                   for b in booked if b not in in_window)  # outside the change: untouched
    assert changed >= ROUNDS // 2, f"the change went through in only {changed} of {ROUNDS} rounds"
    assert {Displacement.MOVED, Displacement.CANCELLED} <= displaced  # both ways out were taken


# --- one interleaving at a time ---------------------------------------------------------------

def wait_until_someone_waits_for_a_lock() -> None:
    """Until another connection of this test database is blocked on a lock (polled, bounded)."""
    with connection.cursor() as cursor:
        for _ in range(1000):
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                           " AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                return
            time_module.sleep(0.01)
    raise AssertionError("nobody ever waited for a lock")


def in_thread(work):
    """Run `work` on its own connection; returns a function that joins and gives its result (or error)."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as error:  # noqa: BLE001 - handed back to the test
            outcome.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()

    def result():
        thread.join(timeout=30)
        assert not thread.is_alive(), "the thread never finished"
        return outcome[0]

    return result


@contextmanager
def slot_held(slot_pk: int):
    """Another transaction holds this slot's row, as a booking being made does, until the block ends."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction.atomic():
            Slot.objects.select_for_update().get(pk=slot_pk)
            locked.set()
            release.wait(timeout=30)

    holder = in_thread(hold)
    try:
        assert locked.wait(timeout=10)
        yield
    finally:
        release.set()
        holder()


@pytest.mark.parametrize("colleague", [True, False], ids=["a colleague is free", "nobody is free"])
def test_a_booking_that_claimed_its_slot_before_the_change_keeps_it_until_moved_or_cancelled(
        now, frozen_clock, colleague):
    """The interleaving of the deadlock: the booking has claimed a slot and not yet committed when
    the change comes to remove it; the change waits for the booking, and the booking's commit must
    not wait for the change."""
    at = DAY_START + timedelta(minutes=30)
    target = rep_with_hours(weekdays=[TUESDAY], now=now)
    claimed, commit = threading.Event(), threading.Event()

    def booking_in_progress():
        with transaction.atomic():  # as the freelancer's booking runs, inside the case's transaction
            booking = bookings.booking_create(case_ref=uuid.uuid4(), starts_at=at, attendee_email="f@example.com",
                                              attendee_name="F", now=now)
            claimed.set()
            commit.wait(timeout=30)
        return booking

    # given a booking that has claimed the representative's slot at 09:30 and is about to commit
    booking_result = in_thread(booking_in_progress)
    assert claimed.wait(timeout=10)
    if colleague:
        other = rep_with_hours(weekdays=[TUESDAY], now=now)
    # when the representative removes those hours, and the booking commits while the change waits
    change_result = in_thread(lambda: working_hours_remove(representative_id=target.pk,
                                                           hours_id=target.tuesday_hours.pk, now=now))
    wait_until_someone_waits_for_a_lock()
    commit.set()
    booking, result = booking_result(), change_result()

    # then both went through: the booking kept its time, with the colleague or cancelled as displaced
    assert isinstance(booking, Booking), repr(booking)
    assert isinstance(result, SyncResult), repr(result)
    booking.refresh_from_db()
    assert booking.starts_at == at and booking.sequence == 1
    if colleague:
        assert result.moved == [booking] and not result.cancelled
        assert booking.displacement == Displacement.MOVED and booking.representative == other
    else:
        assert result.cancelled == [booking] and not result.moved
        assert booking.displacement == Displacement.CANCELLED and booking.status == BookingStatus.CANCELLED
    assert not Slot.objects.filter(representative=target).exists()
    assert not WorkingHours.objects.filter(representative=target).exists()
    assert_consistent()


def test_a_booking_after_the_change_locked_the_slot_gets_a_clean_409(now, frozen_clock):
    at = DAY_START + timedelta(minutes=30)
    target = rep_with_hours(weekdays=[TUESDAY], now=now)
    case = CaseFactory()
    removed, commit = threading.Event(), threading.Event()

    def change_in_progress():
        with transaction.atomic():  # the change has removed the slots and not yet committed
            result = working_hours_remove(representative_id=target.pk, hours_id=target.tuesday_hours.pk, now=now)
            removed.set()
            commit.wait(timeout=30)
        return result

    change_result = in_thread(change_in_progress)
    assert removed.wait(timeout=10)
    response = book(case, at)
    commit.set()
    assert isinstance(change_result(), SyncResult)
    assert response.status_code == 409 and response.json()["code"] == "slot_taken"
    assert not Booking.objects.exists()
    assert not Slot.objects.filter(representative=target).exists()


def test_a_change_that_cannot_get_its_locks_soon_asks_to_retry_and_changes_nothing(now, frozen_clock,
                                                                                     monkeypatch):
    # given a free slot in the hours being removed is held by a booking still in progress
    target = rep_with_hours(weekdays=[TUESDAY], now=now)
    held = Slot.objects.filter(representative=target).order_by("starts_at").first()
    before = set(Slot.objects.filter(representative=target).values_list("pk", "is_booked"))
    monkeypatch.setattr(slot_services, "SYNC_LOCK_TIMEOUT", "200ms")
    with slot_held(held.pk), pytest.raises(HoursBusy) as raised:
        # when the representative removes those hours
        working_hours_remove(representative_id=target.pk, hours_id=target.tuesday_hours.pk, now=now)
    # then they are asked to retry, and nothing changed
    assert raised.value.code == "hours_busy" and raised.value.status_code == 409
    assert "try again" in raised.value.detail
    assert WorkingHours.objects.filter(pk=target.tuesday_hours.pk).exists()
    assert set(Slot.objects.filter(representative=target).values_list("pk", "is_booked")) == before
    with connection.cursor() as cursor:  # and the lock timeout did not stay on the connection
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "0"


def test_a_busy_change_is_a_message_on_the_console_and_the_periodic_sync_carries_on(now, frozen_clock,
                                                                                   monkeypatch, caplog):
    target = rep_with_hours(weekdays=[TUESDAY], now=now)
    colleague = rep_with_hours(weekdays=[TUESDAY], now=now)
    target_slots = set(Slot.objects.filter(representative=target).values_list("pk", flat=True))
    afternoon = Slot.objects.get(representative=target, starts_at=DAY_START.replace(hour=14))
    monkeypatch.setattr(slot_services, "SYNC_LOCK_TIMEOUT", "200ms")
    console = Client()
    console.force_login(target.user)
    with slot_held(afternoon.pk):
        # the representative removes their hours on the console while a booking holds one of the times
        page = console.post("/console/hours/remove/", {"remove": str(target.tuesday_hours.pk)}, follow=True)
        assert page.status_code == 200
        assert "Freelancers were booking your times just now; nothing was changed." in page.content.decode()
        assert WorkingHours.objects.filter(pk=target.tuesday_hours.pk).exists()
        # the admin changes both representatives' hours; the periodic sync skips the busy one
        WorkingHours.objects.filter(representative__in=[target, colleague]).update(ends=time(12))
        assert slot_services.representatives_slots_sync_all(now=now) == 1
        assert f"slots of representative {target.pk} busy" in caplog.text
        assert set(Slot.objects.filter(representative=target).values_list("pk", flat=True)) == target_slots
        assert not Slot.objects.filter(representative=colleague, starts_at__gte=DAY_START.replace(hour=12)).exists()
    # and the next run catches up
    assert slot_services.representatives_slots_sync_all(now=now) == 2
    assert not Slot.objects.filter(representative=target, starts_at__gte=DAY_START.replace(hour=12)).exists()
