"""Booking under contention: 32 concurrent clients (processes) racing for the earliest slots.

Three phases on the same data in the same run, each from a clean slate:
1. service: scheduling.services.booking_create (least-loaded choice, conditional UPDATE claim,
   booking insert, constraint handling, the 409 with the next free times);
2. ceiling: the same claim (least-loaded, SKIP LOCKED, conditional UPDATE, insert) as ONE raw SQL
   statement per attempt, with no Python service around it: the target's denominator;
3. bare claim: the first free slot at that time, no fairness, one raw statement: for reference.
Prints bookings/s, p50/p99 latency and the double bookings found (must be 0).

    .venv/bin/python bench/booking_contention.py [--clients 32] [--attempts 10240]
"""

import argparse
import multiprocessing
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from _db import ms, percentile, setup

BARE_CLAIM = """
WITH claimed AS (
    UPDATE scheduling_slot SET is_booked = true
    WHERE id = (SELECT id FROM scheduling_slot WHERE starts_at = %(at)s AND NOT is_booked
                LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING id, representative_id, starts_at, ends_at
)
INSERT INTO scheduling_booking (id, case_ref, representative_id, slot_id, starts_at, ends_at, status,
    attendee_email, attendee_name, language, phone, join_token, dial_in_pin, sequence, cancel_reason,
    displacement, created_at, updated_at)
SELECT %(id)s, %(case)s, representative_id, id, starts_at, ends_at, 'ACTIVE', 'bench@example.com', 'Bench',
    '', false, %(token)s, '00000000', 0, '', '', now(), now()
FROM claimed RETURNING id
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--attempts", type=int, default=10240)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--times", type=int, default=400)
    args = parser.parse_args()
    setup()

    from django.contrib.auth.models import User
    from django.db import connection, connections

    from scheduling.errors import SlotTaken
    from scheduling.models import Representative, Slot
    from scheduling.services.bookings import _CLAIM, _CLAIM_AND_BOOK_SQL, _PG_DAY_BOUNDS, booking_create

    SAME_CLAIM = _CLAIM_AND_BOOK_SQL.format(claim=_CLAIM.format(lock="FOR UPDATE OF s SKIP LOCKED",
                                                                   **_PG_DAY_BOUNDS))

    base = datetime(2030, 1, 7, 9, tzinfo=UTC)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE scheduling_booking, scheduling_slot, scheduling_representativelanguage,"
                       " scheduling_workinghours, scheduling_timeoff, scheduling_representative CASCADE")
    User.objects.filter(username__startswith="bench-rep-").delete()
    reps = [Representative.objects.create(user=User.objects.create(username=f"bench-rep-{i}"),
                                          display_name=f"Bench {i}", timezone="UTC") for i in range(args.reps)]
    Slot.objects.bulk_create(
        Slot(representative=rep, starts_at=base + timedelta(minutes=5 * t),
             ends_at=base + timedelta(minutes=5 * t + 5))
        for rep in reps for t in range(args.times)
    )
    times = [base + timedelta(minutes=5 * t) for t in range(args.times)]
    weights = [1 / (1 + t / 40) for t in range(args.times)]  # everyone wants the earliest times
    per_client = args.attempts // args.clients
    rng = random.Random(7)
    plan = [[rng.choices(times, weights)[0] for _ in range(per_client)] for _ in range(args.clients)]

    def reset() -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM scheduling_booking")
            cursor.execute("UPDATE scheduling_slot SET is_booked = false")

    def service_attempt(at: datetime) -> bool:
        try:
            booking_create(case_ref=uuid.uuid4(), starts_at=at, attendee_email="bench@example.com",
                           attendee_name="Bench", now=base - timedelta(days=1))
            return True
        except SlotTaken:
            return False

    def ceiling_attempt(at: datetime) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(SAME_CLAIM, [at, 0, "", "", 0, uuid.uuid4(), uuid.uuid4(),
                                        "bench@example.com", "Bench", "", False, uuid.uuid4().hex, "00000000",
                                        base, base])
            return cursor.fetchone() is not None

    def bare_attempt(at: datetime) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(BARE_CLAIM, {"at": at, "id": uuid.uuid4(), "case": uuid.uuid4(),
                                        "token": uuid.uuid4().hex})
            return cursor.fetchone() is not None

    def run(attempt) -> dict:
        """Each client is its own process (as gunicorn workers are), released together."""
        reset()
        connections.close_all()  # never share a connection across fork
        context = multiprocessing.get_context("fork")
        barrier = context.Barrier(args.clients + 1)
        results = context.Queue()

        def client(times_for_client: list[datetime]) -> None:
            mine, ok = [], 0
            barrier.wait()
            for at in times_for_client:
                started = time.perf_counter()
                ok += attempt(at)
                mine.append(time.perf_counter() - started)
            connections.close_all()
            results.put((mine, ok))

        processes = [context.Process(target=client, args=(plan[i],)) for i in range(args.clients)]
        for process in processes:
            process.start()
        barrier.wait()
        started = time.perf_counter()
        latencies: list[float] = []
        successes = 0
        for _ in processes:
            mine, ok = results.get()
            latencies.extend(mine)
            successes += ok
        elapsed = time.perf_counter() - started
        for process in processes:
            process.join()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM (SELECT slot_id FROM scheduling_booking WHERE status='ACTIVE'"
                           " GROUP BY slot_id HAVING count(*) > 1) d")
            double_slots = cursor.fetchone()[0]
            cursor.execute("SELECT count(*) FROM scheduling_booking a JOIN scheduling_booking b ON"
                           " a.representative_id = b.representative_id AND a.id < b.id AND a.status='ACTIVE'"
                           " AND b.status='ACTIVE' AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at,"
                           " b.ends_at)")
            overlaps = cursor.fetchone()[0]
            cursor.execute("SELECT count(*) FROM scheduling_booking WHERE status='ACTIVE'")
            stored = cursor.fetchone()[0]
        assert stored == successes, (stored, successes)
        return {"attempts": len(latencies), "bookings": successes, "elapsed": elapsed,
                "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
                "double": double_slots + overlaps}

    service = run(service_attempt)
    ceiling = run(ceiling_attempt)
    bare = run(bare_attempt)
    print(f"clients={args.clients} attempts={service['attempts']} slots={args.reps * args.times} "
          f"(reps={args.reps} x times={args.times}, earliest times most wanted)")
    for name, r in (("service", service), ("ceiling (same SQL)", ceiling), ("bare claim", bare)):
        print(f"{name:>18}: {r['bookings']:6d} bookings, {r['attempts'] / r['elapsed']:8.0f} attempts/s, "
              f"{r['bookings'] / r['elapsed']:7.0f} bookings/s, p50 {ms(r['p50'])}, p99 {ms(r['p99'])}, "
              f"double bookings {r['double']}")
    def rate(r: dict) -> float:
        return r["attempts"] / r["elapsed"]

    print(f"service / ceiling throughput (attempts/s): {rate(service) / rate(ceiling):.0%} (target >= 50%); "
          f"service / bare claim: {rate(service) / rate(bare):.0%}")
    reset()


if __name__ == "__main__":
    main()
