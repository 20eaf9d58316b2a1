"""Availability from the per-day cache under a booking burst (docs/benchmarks.md, "Availability from
a cache (issue 15)"): in-process, no HTTP, on the seeded bench database (read only: a "booking" here
is only its cache invalidation, `slots_changed`, never a write to PostgreSQL).

    cd bench && BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/verify_base_http \\
        BENCH_REDIS_URL=redis://127.0.0.1:6379/14 ../.venv/bin/python availability_burst.py [--seconds 8]

1. costs: one frozen case's answer (14 days), median of --repeat calls of
   `verification.selectors.case_availability_json` when everything is cached, when one UTC date was
   bumped (what a booking does now), when the global generation was bumped (what every booking did
   before: everything recomputed), and with no cache at all.
2. burst: for --seconds, 5 availability reads (a random frozen freelancer of the bench's 2,500,
   10 zones) per booking, the rates of docs/scaling.md's burst (415 reads/s, 83 bookings/s): each
   booking bumps its own UTC date (`per-day`) or the global generation (`global`, as every booking
   did before). Prints the share of reads answered without a slot query, their p50/p95, and how
   many days of slots a read queried on average (14 or so when everything is recomputed).
   `--global-only` runs only the `global` burst (for a checkout of the code before, which has no
   per-day generations: `git archive f7c1763 | tar -x -C /tmp/before`, then this file from there).

Only loopback servers. Redis keys touched: the slots generations and the cached days (they expire).
"""

import argparse
import os
import random
import statistics
import time
from datetime import timedelta

SECRET_KEY = "bench-availability-burst-only-secret-key-0123456789-abcdefghij"  # noqa: S105 (never used elsewhere)
os.environ.update(
    DJANGO_SETTINGS_MODULE="bench.http_settings", DEBUG="false", ALLOWED_HOSTS="testserver",
    SECRET_KEY=SECRET_KEY, SECURE_SSL_REDIRECT="false",
    CELERY_BROKER_URL="memory://", PUBLIC_BASE_URL="http://testserver", AVAILABILITY_CACHE_SECONDS="60",
)
os.environ["REDIS_URL"] = os.environ["CACHE_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")

from _db import percentile, setup  # noqa: E402

setup()

from django.conf import settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from scheduling.generation import slots_changed  # noqa: E402
from verification import selectors  # noqa: E402
from verification.models import Case  # noqa: E402


def counting_queries() -> list:
    """Counts `availability_list` calls (slot queries) made by the selector, and the days they span."""
    calls = [0, 0.0]
    inner = selectors.availability_list

    def counted(**kwargs):
        calls[0] += 1
        calls[1] += (kwargs["end"] - kwargs["start"]) / timedelta(days=1)
        return inner(**kwargs)

    selectors.availability_list = counted
    return calls


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--global-only", action="store_true")
    args = parser.parse_args()
    cases = list(Case.objects.select_related("freelancer").filter(status="FROZEN")[:2500])
    now = timezone.now()
    rng = random.Random(15)
    per_day = not args.global_only
    print(f"{len(cases)} frozen cases, {len({c.freelancer.timezone for c in cases})} zones; cache "
          f"{settings.CACHES['default']['LOCATION']}")

    def read(case):
        return selectors.case_availability_json(case=case, now=now)

    def book_somewhere(per_day_bump: bool) -> None:
        if per_day_bump:
            slots_changed(instants=[now + timedelta(minutes=5 * rng.randrange(14 * 24 * 12))])
        else:
            slots_changed()  # autocommit: bumps at once

    one = cases[0]
    read(one)
    costs = {"all cached": lambda: None, "global bumped (all 14 days)": lambda: book_somewhere(False)}
    if per_day:
        costs["one UTC date bumped"] = lambda: book_somewhere(True)
    for name, before in costs.items():
        samples = []
        for _ in range(args.repeat):
            before()
            samples.append(timed(lambda: read(one)))
        print(f"cost, {name:28}: median {statistics.median(samples) * 1000:7.2f} ms")
    seconds = settings.AVAILABILITY_CACHE_SECONDS
    settings.AVAILABILITY_CACHE_SECONDS = 0
    samples = [timed(lambda: read(one)) for _ in range(max(5, args.repeat // 3))]
    settings.AVAILABILITY_CACHE_SECONDS = seconds
    print(f"cost, {'no cache':28}: median {statistics.median(samples) * 1000:7.2f} ms")

    calls = counting_queries()
    for name in (["per-day", "global"] if per_day else ["global"]):
        slots_changed()  # a cold start for each
        reads, hits, latencies, days_before = 0, 0, [], calls[1]
        stop = time.perf_counter() + args.seconds
        while time.perf_counter() < stop:
            for _ in range(5):
                before = calls[0]
                latencies.append(timed(lambda: read(rng.choice(cases))))
                reads += 1
                hits += calls[0] == before
            book_somewhere(name == "per-day")
        print(f"burst, {name:8}: {reads} reads, {reads // 5} bookings, {hits / reads:5.1%} without a slot query, "
              f"p50 {percentile(latencies, 50) * 1000:6.2f} ms, p95 {percentile(latencies, 95) * 1000:6.2f} ms, "
              f"{reads / args.seconds:5.0f} reads/s, {(calls[1] - days_before) / reads:4.1f} days read per read")


if __name__ == "__main__":
    main()
