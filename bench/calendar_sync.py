"""Calendar sync against a real CalDAV server (Radicale on loopback): 50 representatives with 500
events each (450 single meetings over the next five weeks, 50 weekly series; some transparent or
cancelled). Prints the seconds per representative for a full sync (first connection: every event
fetched, reduced to its timing, expanded, busy times stored and free slots removed) and for an
incremental sync (sync-token: 5 changed events, and nothing changed), and the availability p50
(scheduling.selectors.availability_list over a week) with the busy times against without them, in
the same run.

    .venv/bin/python bench/calendar_sync.py [--reps 50] [--events 500] [--runs 40]

The events are written straight into Radicale's file storage (one .ics file each, as its own PUT
would leave them) so the setup does not take minutes, and Radicale reads them once before the
timings; every sync goes over HTTP. BENCH_DATABASE_URL as in bench/_db.py.
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _db import ms, percentile, setup

# this folder holds bench/http.py, which would hide the standard library's http package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

WEEKLY = 50


def event(uid: str, start: datetime, minutes: int, *, weekly: bool = False, extra: str = "") -> str:
    rule = "RRULE:FREQ=WEEKLY;COUNT=10\r\n" if weekly else ""
    return (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
            f"DTSTAMP:20300101T000000Z\r\nDTSTART:{start:%Y%m%dT%H%M%SZ}\r\n"
            f"DTEND:{start + timedelta(minutes=minutes):%Y%m%dT%H%M%SZ}\r\n{rule}{extra}"
            f"SUMMARY:Meeting {uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    setup()

    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection

    from scheduling.models import BusyTime, CalendarConnection, Representative, WorkingHours
    from scheduling.selectors import availability_list
    from scheduling.services.calendars import calendar_connect_caldav, calendar_disconnect, calendar_sync
    from scheduling.services.slots import representatives_slots_sync_all
    from tests.calendar_servers import Radicale

    settings.SLOT_HORIZON_DAYS = 21
    now = datetime(2030, 1, 7, 0, 0, tzinfo=UTC)
    rng = random.Random(19)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE scheduling_booking, scheduling_slot, scheduling_representativelanguage,"
                       " scheduling_workinghours, scheduling_timeoff, scheduling_busytime,"
                       " scheduling_calendarobject, scheduling_calendarconnection, scheduling_calendarauditevent,"
                       " scheduling_representative CASCADE")
    User.objects.filter(username__startswith="bench-rep-").delete()
    reps = []
    for i in range(args.reps):
        rep = Representative.objects.create(user=User.objects.create(username=f"bench-rep-{i}"),
                                            display_name=f"Bench {i}", timezone="UTC")
        WorkingHours.objects.bulk_create([WorkingHours(representative=rep, weekday=d, starts="08:00", ends="18:00")
                                          for d in range(5)])
        reps.append(rep)
    representatives_slots_sync_all(now=now)

    with tempfile.TemporaryDirectory() as folder:
        server = Radicale(Path(folder))
        server.timeout = 600
        try:
            accounts = []
            for rep in reps:
                account = server.account()
                collection = next((Path(folder) / "collections" / "collection-root").glob(
                    f"{account.username}/work"))
                for n in range(args.events):
                    weekly = n < WEEKLY
                    day = now + timedelta(days=rng.randrange(0 if weekly else -3, 7 if weekly else 35))
                    start = day.replace(hour=rng.randrange(8, 18), minute=rng.choice([0, 15, 30, 45]))
                    extra = rng.choice(["", "", "", "", "TRANSP:TRANSPARENT\r\n", "STATUS:CANCELLED\r\n"])
                    (collection / f"e{n}.ics").write_text(event(f"e{n}-{rep.pk}", start, rng.choice([15, 30, 60]),
                                                                weekly=weekly, extra=extra), newline="")
                accounts.append(account)

            def availability() -> list[float]:
                times = []
                for _ in range(args.runs):
                    started = time.perf_counter()
                    availability_list(start=now, end=now + timedelta(days=7))
                    times.append(time.perf_counter() - started)
                return times

            without = availability()
            settings.CALENDAR_TIMEOUT_SECONDS = 300
            for account in accounts:  # Radicale's own first read of the files written behind its back (untimed)
                account.calendar.objects_by_sync_token(load_objects=False)
            full = []
            for rep, account in zip(reps, accounts, strict=True):
                started = time.perf_counter()
                calendar_connect_caldav(representative_id=rep.pk, url=account.calendar_url, username=account.username,
                                        password=account.password, actor="bench", now=now)
                full.append(time.perf_counter() - started)
            busy = BusyTime.objects.count()
            with_busy = availability()

            warm = []  # full again: the server has read its files once (a real server keeps them indexed)
            for rep in reps:
                CalendarConnection.objects.filter(representative=rep).update(sync_token="")
                started = time.perf_counter()
                calendar_sync(representative_id=rep.pk, now=now)
                warm.append(time.perf_counter() - started)
            unchanged, changed = [], []
            for rep in reps:
                started = time.perf_counter()
                calendar_sync(representative_id=rep.pk, now=now)
                unchanged.append(time.perf_counter() - started)
            for rep, account in zip(reps, accounts, strict=True):
                client = server.client(account.username, account.password)
                for n in range(WEEKLY, WEEKLY + 5):  # five meetings move (PUT over their own href)
                    start = now + timedelta(days=rng.randrange(0, 14), hours=rng.randrange(8, 17))
                    client.put(f"{account.calendar_url.rstrip('/')}/e{n}.ics", event(f"e{n}-{rep.pk}", start, 30),
                               {"Content-Type": "text/calendar; charset=utf-8"})
                started = time.perf_counter()
                calendar_sync(representative_id=rep.pk, now=now)
                changed.append(time.perf_counter() - started)
            for rep in reps:
                calendar_disconnect(representative_id=rep.pk, actor="bench", now=now)
        finally:
            server.stop()

    print(f"{args.reps} representatives x {args.events} events ({WEEKLY} weekly series), horizon "
          f"{settings.SLOT_HORIZON_DAYS} days, Radicale on loopback; {busy:,} busy intervals stored")
    print(f"full sync (connect: test + fetch all + store):  median {statistics.median(full):.3f} s/rep, "
          f"max {max(full):.3f} s, total {sum(full):.1f} s")
    print(f"full sync again (no sync token):                median {statistics.median(warm):.3f} s/rep")
    print(f"incremental sync, 5 events changed:              median {statistics.median(changed):.3f} s/rep")
    print(f"incremental sync, nothing changed:               median {statistics.median(unchanged):.3f} s/rep")
    print(f"availability p50 over 7 days, {args.runs} runs: without busy times {ms(percentile(without, 50))}, "
          f"with busy times {ms(percentile(with_busy, 50))}")


if __name__ == "__main__":
    main()
