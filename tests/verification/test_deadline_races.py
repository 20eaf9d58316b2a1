"""The deadline sweep against bookings, on real PostgreSQL with threads (issue 11, item 5).

The sweep is paused, by events, while it decides one case (inside that case's transaction); a
booking then runs in another thread, and whether it waits for a lock is read from PostgreSQL
(`pg_stat_activity`), never guessed from timings."""

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, connections

from scheduling.selectors import availability_list
from tests.factories import CaseFactory
from tests.helpers import make_reps, notice_enqueue, race, send_due
from verification.deadlines import guards
from verification.deadlines import services as deadline_services
from verification.deadlines.services import cases_deadline_sweep
from verification.models import AuditEvent, Case, CaseStatus
from verification.services.bookings import case_booking_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SAFETY_SECONDS = 60  # only ever reached when something hangs; no assertion depends on it


class Paused:
    """Runs the deadline sweep in a thread that stops inside the first batch it decides (after
    locking its cases, before deciding), until `release()`."""

    def __init__(self, monkeypatch):
        self.holds, self.released = threading.Event(), threading.Event()
        self.thread: threading.Thread | None = None
        self.outcome: dict | Exception | None = None
        original = guards.freeze_guard_failures_many

        def pausing(cases):
            if threading.current_thread() is self.thread and not self.holds.is_set():
                self.holds.set()
                self.released.wait(SAFETY_SECONDS)
            return original(cases)

        monkeypatch.setattr(deadline_services, "freeze_guard_failures_many", pausing)

    def sweep(self, now, **options) -> None:
        def run():
            try:
                self.outcome = cases_deadline_sweep(now=now, **options)
            except Exception as error:  # noqa: BLE001 - asserted by the test
                self.outcome = error
            finally:
                connections.close_all()

        self.thread = threading.Thread(target=run)
        self.thread.start()
        assert self.holds.wait(SAFETY_SECONDS), "the sweep never reached a case"

    def release(self) -> None:
        self.released.set()
        self.thread.join(SAFETY_SECONDS)


class Booker:
    """Books a call in a thread; knows its PostgreSQL backend, so the test can see it wait."""

    def __init__(self, *, case, starts_at, now):
        self.ready, self.done = threading.Event(), threading.Event()
        self.pid: int | None = None
        self.result = None

        def run():
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    self.pid = cursor.fetchone()[0]
                self.ready.set()
                self.result = case_booking_create(case_id=case.id, starts_at=starts_at, actor="freelancer",
                                                           now=now)
            except Exception as error:  # noqa: BLE001 - asserted by the test
                self.result = error
            finally:
                self.done.set()
                connections.close_all()

        self.thread = threading.Thread(target=run)
        self.thread.start()
        assert self.ready.wait(SAFETY_SECONDS)

    def waiting_for_a_lock(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [self.pid])
            row = cursor.fetchone()
        return bool(row) and row[0] == "Lock"

    def finished_or_blocked(self) -> str:
        """Wait until the booking has finished ("done") or PostgreSQL shows it waiting for a lock."""
        deadline = time.monotonic() + SAFETY_SECONDS
        while time.monotonic() < deadline:
            if self.done.is_set():
                return "done"
            if self.waiting_for_a_lock():
                return "blocked"
            time.sleep(0.01)
        return "neither"

    def join(self):
        self.thread.join(SAFETY_SECONDS)
        return self.result


def first_free_time(after):
    return availability_list(start=after, end=after + timedelta(days=3))[0]


@pytest.fixture
def due_to_freeze(now):
    """A case whose notice and both warnings went out on time: at its deadline every guard holds."""
    make_reps(1, now=now)
    case = CaseFactory(notice_sent_at=None, deadline_at=None)
    notice_enqueue(case, now=now)
    send_due(now)
    case.refresh_from_db()
    send_due(case.deadline_at - timedelta(hours=72))
    send_due(case.deadline_at - timedelta(hours=24))
    assert guards.freeze_guard_failures(case) == []
    return case


def test_a_booking_that_waited_behind_the_freeze_is_recorded_after_it(due_to_freeze, monkeypatch):
    # given the sweep holds the case, freezing it at its deadline D
    case = due_to_freeze
    deadline = case.deadline_at
    starts_at = first_free_time(deadline + timedelta(hours=2))
    sweep = Paused(monkeypatch)
    sweep.sweep(now=deadline)
    # when the freelancer's booking, requested 3 ms before the deadline, waits for the case
    booking = Booker(case=case, starts_at=starts_at, now=deadline - timedelta(milliseconds=3))
    try:
        assert booking.finished_or_blocked() == "blocked"
    finally:
        sweep.release()
    result = booking.join()
    # then the freeze came first and the booking is recorded after it, never before: the audit's
    # times are in the order its events were committed
    assert sweep.outcome == {"frozen": 1}
    assert not isinstance(result, Exception), result
    events = list(AuditEvent.objects.filter(case=case).order_by("id"))
    assert [e.action for e in events][-2:] == ["frozen", "booked"]
    assert [e.at for e in events] == sorted(e.at for e in events)
    frozen, booked = events[-2:]
    assert booked.at >= frozen.at == deadline
    case.refresh_from_db()
    assert case.status == CaseStatus.SCHEDULED and case.frozen_at == deadline  # frozen, then booked after it
    assert case.updated_at == booked.at


def test_a_booking_on_a_due_case_of_another_batch_does_not_wait_behind_the_sweep(now, monkeypatch):
    # given five cases past their deadline, in batches of two for the sweep
    make_reps(1, now=now)
    cases = [CaseFactory(notice_sent_at=now + timedelta(minutes=i)) for i in range(5)]
    sweep_at = cases[-1].deadline_at + timedelta(hours=1)
    starts_at = first_free_time(sweep_at + timedelta(hours=2))
    sweep = Paused(monkeypatch)
    # when the sweep is deciding the first batch (the first two of them)
    sweep.sweep(now=sweep_at, batch_size=2)
    # then the freelancer of the last one books without waiting for the sweep
    booking = Booker(case=cases[-1], starts_at=starts_at, now=sweep_at)
    try:
        assert booking.finished_or_blocked() == "done"
        assert not sweep.released.is_set()  # the sweep is still in its first batch
    finally:
        sweep.release()
    result = booking.join()
    assert not isinstance(result, Exception), result
    assert Case.objects.get(pk=cases[-1].pk).status == CaseStatus.SCHEDULED
    # and the sweep decided the rest as usual: the booked case was no longer due when its batch was read
    assert sweep.outcome == {"extended": 4}
    assert AuditEvent.objects.filter(case=cases[0], action="deadline_extended").count() == 1
    assert not AuditEvent.objects.filter(case=cases[-1], action="deadline_extended").exists()


def test_two_sweeps_at_once_decide_each_case_once(now):
    cases = [CaseFactory(notice_sent_at=now + timedelta(minutes=i)) for i in range(30)]
    sweep_at = cases[-1].deadline_at + timedelta(hours=1)
    outcomes = race(2, lambda i: cases_deadline_sweep(now=sweep_at, batch_size=7))
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    total = sum((Counter(o) for o in outcomes), Counter())
    assert total["extended"] == 30
    assert set(total) <= {"extended", "busy", "skipped"}
    assert Counter(AuditEvent.objects.filter(action="deadline_extended").values_list("case_id", flat=True)) == {
        case.pk: 1 for case in cases}
