"""The losers of a race: how many 409s until everyone who raced for one time is booked.

165 freelancers ask for the same earliest time at once; 20 representatives (UTC) have a slot every
5 minutes for 8 hours. Each freelancer who gets a 409 retries with the FIRST time its 409 offers (a
person in a hurry picks the earliest), and again with the first time of each new 409, until booked
or until the 409 offers nothing before their deadline (4 hours after the raced time).

Two policies for the 409's alternatives, measured in the same run on the same data (reset between
rounds, alternating): `old`, the plain next five free times (kept here only, as it was in the
product), and `new`, the product's `scheduling.selectors.free_time_alternatives`. Freelancers are
spread over client processes (PostgreSQL allows about 100 connections); each process takes its
freelancers' turns one after another, so every freelancer's first attempt is made before any retry,
as when people read a 409 before answering it. Prints, per policy, the 409s, 409s per booking, the
freelancers who ran out of time, how late they were booked and the ratio; then, alone on the same data,
what each policy's query costs (the 409 path runs under contention: it must stay cheap).

    .venv/bin/python bench/race_retries.py [--freelancers 165] [--reps 20] [--clients 33] [--rounds 3]
"""

import argparse
import multiprocessing
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from _db import ms, percentile, setup


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--freelancers", type=int, default=165)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--times", type=int, default=96, help="5-minute start times per representative")
    parser.add_argument("--deadline-minutes", type=int, default=240)
    parser.add_argument("--clients", type=int, default=33, help="processes, one connection each")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per policy, alternating")
    args = parser.parse_args()
    setup()

    from django.contrib.auth.models import User
    from django.db import connection, connections

    from scheduling.errors import SlotTaken
    from scheduling.models import Representative, Slot
    from scheduling.selectors import _free_slots
    from scheduling.services import bookings as services
    from scheduling.services.bookings import booking_create

    def next_five(*, after: datetime, language: str = "", phone: bool = False) -> list[datetime]:
        """The old policy, as the product had it: the next five distinct free start times."""
        return list(_free_slots(language=language, phone=phone).filter(starts_at__gt=after).order_by("starts_at")
                    .values_list("starts_at", flat=True).distinct()[:5])

    product_policy = services.free_time_alternatives
    policies = {"old": next_five, "new": product_policy}

    raced = datetime(2030, 1, 7, 9, tzinfo=UTC)
    deadline = raced + timedelta(minutes=args.deadline_minutes)
    now = raced - timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE scheduling_booking, scheduling_slot, scheduling_representativelanguage,"
                       " scheduling_workinghours, scheduling_timeoff, scheduling_representative CASCADE")
    User.objects.filter(username__startswith="bench-rep-").delete()
    reps = [Representative.objects.create(user=User.objects.create(username=f"bench-rep-{i}"),
                                          display_name=f"Bench {i}", timezone="UTC") for i in range(args.reps)]
    Slot.objects.bulk_create(
        Slot(representative=rep, starts_at=raced + timedelta(minutes=5 * t),
             ends_at=raced + timedelta(minutes=5 * t + 5))
        for rep in reps for t in range(args.times)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE scheduling_slot")

    def reset() -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM scheduling_booking")
            cursor.execute("UPDATE scheduling_slot SET is_booked = false")

    def client(count: int, barrier, results) -> None:
        """`count` freelancers, taking turns: each tries its wanted time; a 409 sets the next one."""
        wanted = dict.fromkeys(range(count), raced)
        tries = dict.fromkeys(wanted, 0)
        outcome: dict[int, datetime | None] = {}
        conflicts = 0
        barrier.wait()
        while wanted:
            for i, at in list(wanted.items()):
                tries[i] += 1
                try:
                    booking = booking_create(case_ref=uuid.uuid4(), starts_at=at, attendee_email="bench@example.com",
                                             attendee_name="Bench", now=now)
                except SlotTaken as taken:
                    conflicts += 1
                    offered = [t for t in taken.next_free_times if t < deadline]
                    if offered:
                        wanted[i] = offered[0]
                    else:
                        outcome[i] = None  # out of time: nothing offered before the deadline
                        del wanted[i]
                    continue
                outcome[i] = booking.starts_at
                del wanted[i]
        connections.close_all()
        results.put((conflicts, list(tries.values()), list(outcome.values())))

    def run(policy: str) -> dict:
        reset()
        services.free_time_alternatives = policies[policy]  # inherited by the forked clients
        connections.close_all()  # never share a connection across fork
        context = multiprocessing.get_context("fork")
        barrier = context.Barrier(args.clients + 1)
        results = context.Queue()
        shares = [args.freelancers // args.clients + (k < args.freelancers % args.clients)
                  for k in range(args.clients)]
        processes = [context.Process(target=client, args=(share, barrier, results)) for share in shares]
        for process in processes:
            process.start()
        barrier.wait()
        started = time.perf_counter()
        conflicts, tries, booked_at = 0, [], []
        for _ in processes:
            c, t, b = results.get()
            conflicts, tries, booked_at = conflicts + c, tries + t, booked_at + b
        elapsed = time.perf_counter() - started
        for process in processes:
            process.join()
        services.free_time_alternatives = product_policy
        booked = [at for at in booked_at if at is not None]
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM scheduling_booking WHERE status = 'ACTIVE'")
            assert cursor.fetchone()[0] == len(booked)
        late = [(at - raced).total_seconds() / 60 for at in booked]
        return {"conflicts": conflicts, "bookings": len(booked), "out_of_time": len(booked_at) - len(booked),
                "retries": sum(tries) - len(tries),
                "max_tries": max(tries), "late_mean": statistics.mean(late), "late_max": max(late),
                "elapsed": elapsed}

    rounds: dict[str, list[dict]] = {"old": [], "new": []}
    for _ in range(args.rounds):
        for policy in ("old", "new"):
            rounds[policy].append(run(policy))
    reset()

    print(f"freelancers={args.freelancers} racing for one time, reps={args.reps} x {args.times} times (5 min), "
          f"deadline {args.deadline_minutes} min after it, clients={args.clients} processes, "
          f"rounds={args.rounds} per policy")
    for policy, results in rounds.items():
        per_round = ", ".join(str(r["conflicts"]) for r in results)
        conflicts = statistics.mean(r["conflicts"] for r in results)
        bookings = statistics.mean(r["bookings"] for r in results)
        retries = statistics.mean(r["retries"] for r in results)
        out_of_time = statistics.mean(r["out_of_time"] for r in results)
        print(f"{policy:>4}: 409s {conflicts:6.1f} (rounds: {per_round}), booked {bookings:5.1f}, "
              f"retries per booking {retries / bookings:5.2f}, out of time {out_of_time:.1f}, "
              f"most tries by one {max(r['max_tries'] for r in results)}, "
              f"booked minutes after the raced time: mean {statistics.mean(r['late_mean'] for r in results):.1f}, "
              f"max {max(r['late_max'] for r in results):.0f}")
    old = statistics.mean(r["conflicts"] for r in rounds["old"])
    new = statistics.mean(r["conflicts"] for r in rounds["new"])
    print(f"409s old / new: {old / new:.2f}x")

    # the query alone: half the representatives booked at every time, as in the middle of a rush
    Slot.objects.filter(representative__in=reps[: args.reps // 2]).update(is_booked=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE scheduling_slot")
    seconds: dict[str, list[float]] = {policy: [] for policy in policies}
    for k in range(400):  # interleaved, so both see the same load on the machine
        for policy, alternatives in policies.items():
            started = time.perf_counter()
            alternatives(after=raced + timedelta(minutes=5 * (k % 48)))
            seconds[policy].append(time.perf_counter() - started)
    for policy, measured in seconds.items():
        print(f"{policy:>4}: the alternatives alone (query and draw) p50 {ms(percentile(measured, 50))}, "
              f"p99 {ms(percentile(measured, 99))}")
    reset()


if __name__ == "__main__":
    main()
