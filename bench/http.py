"""The API as the marketplace and the freelancers hit it: HTTP through gunicorn, in one command.

    cd bench && ../.venv/bin/python http.py [--seconds 15] [--passes 3] [--concurrency 8] [--workers 4]
                                            [--only eligibility] [--reseed]

1. Seeds a dedicated PostgreSQL database at a realistic scale (bench/http_seed.py: 200
   representatives in ten zones with a 21-day horizon of slots, 20,000 open cases in every status
   that is not final, 100,000 closed ones), or reuses it when it was seeded less than 6 hours ago.
   BENCH_HTTP_DATABASE_URL names it; by default BENCH_DATABASE_URL's database with `_http`
   appended, so the other benches (which truncate their tables) leave it alone.
2. Starts gunicorn (sync workers, as in production) on a free loopback port with DEBUG off,
   Redis as the cache (BENCH_REDIS_URL, default redis://127.0.0.1:6379/14), persistent database
   connections and bench/http_settings.py, whose URL configuration adds two floor views to the
   production URLs (bench/http_urls.py): one indexed SELECT, one INSERT; and booking's bound, the
   booking API around its claim-and-insert statement alone (reported with its ratio, no target).
3. Drives each scenario from one asyncio process (bench/http_load.py), --concurrency requests in
   flight, loopback only: --seconds or --limit measured requests per scenario, whichever comes
   first, split over --passes rounds through all the scenarios (so a load that drifts on a shared
   machine weighs on all of them alike), each after a warm-up. Each floor runs right before and
   right after the endpoints compared with it.
4. Prints one table (requests, rps, p50, p99, answers other than 2xx, the ratio to the floor, the
   target, PASS/FAIL), the CPU each party used, and the load average at the start and the end.
   Everything it started is stopped, on Ctrl-C and errors too.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
# This file is named like the standard library's `http` package: keep its folder behind the
# standard library on the path, or `import http.client` (urllib, Django, aiohttp) would find it.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE] + [_HERE]

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import shlex  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(_HERE).parent
SECRET_KEY = "bench-http-only-secret-key-never-used-anywhere-else-0123456789"  # noqa: S105
_BASE = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/verify_bench")
DATABASE_URL = os.environ.get("BENCH_HTTP_DATABASE_URL", f"{_BASE}_http")
os.environ["BENCH_DATABASE_URL"] = DATABASE_URL  # for _db.setup()
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")  # gunicorn's cache
os.environ["SECRET_KEY"] = SECRET_KEY  # the links the bench signs must verify in gunicorn

import http_load  # noqa: E402
from _db import percentile, setup  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """gunicorn in its own session, so it can be stopped whole (its master and workers) by its id."""

    def __init__(self, *, workers: int, worker_class: str) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.logs = Path(tempfile.mkdtemp(prefix="bench-http-"))
        self.command = [
            sys.executable, "-m", "gunicorn", "verify_site.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(workers), "--worker-class", worker_class, "--backlog", "2048", "--no-control-socket",
            "--access-logfile", str(self.logs / "access.log"), "--error-logfile", str(self.logs / "error.log"),
        ]
        self.env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "bench.http_settings", "DATABASE_URL": DATABASE_URL,
            "DEBUG": "false", "SECRET_KEY": SECRET_KEY, "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false",
            "CONN_MAX_AGE": "600", "CELERY_BROKER_URL": "memory://", "PUBLIC_BASE_URL": self.base_url,
            # the cache as in production: Redis, shared by the workers (throttles, availability)
            "REDIS_URL": REDIS_URL, "CACHE_URL": REDIS_URL,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.error_log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer within 60 s: {self.error_log_tail()}")

    def error_log_tail(self) -> str:
        path = self.logs / "error.log"
        return path.read_text()[-2000:] if path.exists() else "(no log)"

    def pids(self) -> list[int]:
        return [self.process.pid, *http_load.children(self.process.pid)] if self.process else []

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # the session it was started in: only gunicorn
            self.process.wait(10)


@dataclass
class Scenario:
    name: str
    method: str
    make: object  # Callable[[int], Request]
    floor_of: str = ""  # a floor ("read" or "write"): measured before and after the endpoints it measures
    floor: str = ""  # the floor it is compared with: "read" or "write"
    target: float = 0.0  # rps share of the floor (>=), or p50 multiple of the floor (<=) when by_p50
    by_p50: bool = False
    items: itertools.count = field(default_factory=itertools.count)  # numbers its requests across passes
    result: http_load.Result = field(default_factory=http_load.Result)


def _json_body(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def prepare(*, now, run_id: str, limit: int, rng: random.Random) -> tuple[list[Scenario], dict]:
    """Every scenario's requests, from the seeded data. Returns the scenarios and what was used."""
    from django.db import connection
    from rest_framework_api_key.models import APIKey

    from verification.links import freelancer_token
    from verification.models import Case

    _, key = APIKey.objects.create_key(name="bench-load")
    marketplace = {"Authorization": f"Api-Key {key}"}
    marketplace_json = {**marketplace, "Content-Type": "application/json"}

    def column(sql: str, params=None) -> list:
        with connection.cursor() as cursor:
            cursor.execute(sql, params or [])
            return [row[0] if len(row) == 1 else row for row in cursor.fetchall()]

    open_cases = """SELECT f.external_id FROM verification_case c JOIN verification_freelancer f
                    ON f.id = c.freelancer_id WHERE c.status = 'OPEN' AND c.notice_sent_at IS NOT NULL AND {}"""
    in_grace = column(open_cases.format("c.deadline_at > %s"), [now])
    past_deadline = column(open_cases.format("c.deadline_at <= %s"), [now])
    frozen = [Case(id=case_id, link_nonce=nonce) for case_id, nonce in column(
        "SELECT id, link_nonce FROM verification_case WHERE status = 'FROZEN'")]
    # booking: OPEN cases inside their grace period that never booked, each at a free time before
    # its deadline; every (time, free representative) is given to one request at most
    window = (now + timedelta(hours=2), now + timedelta(days=2))
    bookable = [Case(id=case_id, link_nonce=nonce) for case_id, nonce in column("""
        SELECT c.id, c.link_nonce FROM verification_case c
        WHERE c.status = 'OPEN' AND c.notice_sent_at IS NOT NULL AND c.deadline_at > %s
          AND NOT EXISTS (SELECT 1 FROM scheduling_booking b WHERE b.case_ref = c.id)
    """, [window[1] + timedelta(hours=1)])]
    free_times = [t for t, free in column("""
        SELECT s.starts_at, count(*) FROM scheduling_slot s JOIN scheduling_representative r
        ON r.id = s.representative_id WHERE NOT s.is_booked AND r.active AND s.starts_at >= %s AND s.starts_at < %s
        GROUP BY s.starts_at
    """, list(window)) for _ in range(free)]
    for values in (in_grace, past_deadline, frozen, bookable, free_times):
        rng.shuffle(values)
    bookings = [
        (f"Bearer {freelancer_token(case)}", _json_body({"starts_at": at.astimezone(UTC).isoformat()}))
        for case, at in zip(bookable, free_times, strict=False)
    ]
    frozen_tokens = [{"Authorization": f"Bearer {freelancer_token(case)}"} for case in frozen]

    def cycle(values: list, build):
        built = [build(value) for value in values[:limit]]
        return lambda i: built[i % len(built)]

    taken = {"booking": 0, "bound": 0}  # the booking takes prepared requests from the front, its bound from the back

    def booked(path: str, which: str, pick):
        def make(i: int):
            if sum(taken.values()) >= len(bookings):
                raise http_load.Exhausted()
            taken[which] += 1
            authorization, body = bookings[pick(taken[which])]
            return path, {"Authorization": authorization, "Content-Type": "application/json"}, body
        return make

    booking = booked("/api/v1/case/booking", "booking", lambda n: n - 1)
    booking_bound = booked("/bench/bound/claim", "bound", lambda n: -n)

    def case_create(i: int):
        external_id = f"new-{run_id}-{i}"
        body = _json_body({
            "freelancer": {"external_id": external_id, "email": f"{external_id}@example.com",
                           "name": f"New Freelancer {i}", "timezone": "Europe/Berlin", "language": "en"},
            "reason_code": "profile_details",
            "public_reason": "The name on your profile differs from the name on your payout account.",
            "profile_claims": [{"field": "country", "value": "Germany"}],
            "standing": {"badges": ["top_rated"], "status": "active"},
        })
        return "/api/v1/cases", {**marketplace_json, "Idempotency-Key": str(uuid.uuid4())}, body

    floor_ids = [f"fl-{rng.randint(1, 110_000)}" for _ in range(min(limit, 20_000))]
    floor_read = cycle(floor_ids, lambda e: (f"/bench/floor/read/{e}", marketplace, None))

    def floor_write(tag: str):
        return lambda i: ("/bench/floor/write", marketplace_json, _json_body({"key": f"{run_id}-{tag}-{i}"}))

    # each floor runs right before and right after the endpoints compared with it: a machine whose
    # load drifts shows as two different floors, and the ratio is taken to their mean
    scenarios = [
        Scenario("floor: one indexed SELECT (before)", "GET", floor_read, floor_of="read"),
        Scenario("GET eligibility, never flagged", "GET",
                 lambda i: (f"/api/v1/freelancers/never-{run_id}-{i}/eligibility", marketplace, None),
                 floor="read", target=0.70),
        Scenario("GET eligibility, in grace", "GET",
                 cycle(in_grace, lambda e: (f"/api/v1/freelancers/{e}/eligibility", marketplace, None)),
                 floor="read", target=0.70),
        Scenario("GET eligibility, past deadline", "GET",
                 cycle(past_deadline, lambda e: (f"/api/v1/freelancers/{e}/eligibility", marketplace, None)),
                 floor="read", target=0.70),
        Scenario("GET case/availability, 14 days", "GET",
                 cycle(frozen_tokens, lambda h: ("/api/v1/case/availability", h, None)),
                 floor="read", target=2.0, by_p50=True),
        Scenario("floor: one indexed SELECT (after)", "GET", floor_read, floor_of="read"),
        Scenario("floor: one INSERT (before)", "POST", floor_write("before"), floor_of="write"),
        Scenario("POST case/booking", "POST", booking, floor="write", target=0.70),
        Scenario("POST case/booking's bound: the claim alone", "POST", booking_bound, floor="write"),
        Scenario("POST cases", "POST", case_create, floor="write", target=0.60),
        Scenario("floor: one INSERT (after)", "POST", floor_write("after"), floor_of="write"),
    ]
    used = {"in grace": len(in_grace), "past deadline": len(past_deadline), "frozen (availability)": len(frozen),
            "bookable cases": len(bookable), "free (time, representative) pairs": len(free_times),
            "booking requests prepared": len(bookings)}
    return scenarios, used


def database_pids() -> list[int]:
    """The PostgreSQL backends on the bench database but this one (gunicorn's workers' connections;
    the bench's own Django connection idles). A plain connection: this runs inside the event loop."""
    import psycopg

    with psycopg.connect(DATABASE_URL) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid()").fetchall()
    return [row[0] for row in rows]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def report(scenarios: list[Scenario]) -> list[str]:
    floors: dict[str, tuple[float, float]] = {}  # kind: (rps, p50) over every floor request of that kind
    for kind in ("read", "write"):
        runs = [s.result for s in scenarios if s.floor_of == kind and s.result.requests]
        if runs:
            floors[kind] = (sum(run.requests for run in runs) / sum(run.elapsed for run in runs),
                            percentile([t for run in runs for t in run.latencies], 50))
    header = ("endpoint", "requests", "rps", "p50", "p99", "answers", "vs floor", "target", "result")
    rows = [header]
    for scenario in scenarios:
        result = scenario.result
        if not result.requests:
            continue
        answers = ", ".join(f"{status or 'no answer'}: {count:,}" for status, count in sorted(result.statuses.items()))
        p50, p99 = percentile(result.latencies, 50), percentile(result.latencies, 99)
        ratio = target = verdict = ""
        if scenario.floor in floors:
            floor_rps, floor_p50 = floors[scenario.floor]
            if scenario.by_p50:
                value = p50 / floor_p50
                ratio, target, ok = f"p50 {value:.2f}x", f"p50 <= {scenario.target:.0f}x", value <= scenario.target
            else:
                value = result.rps / floor_rps
                ratio, target, ok = f"{value:.0%}", f"rps >= {scenario.target:.0%}", value >= scenario.target
            if scenario.target:
                verdict = "PASS" if ok else "FAIL"
            else:  # a bound: its ratio only
                target = ""
        rows.append((scenario.name, f"{result.requests:,}", f"{result.rps:,.0f}", _ms(p50), _ms(p99), answers,
                     ratio, target, verdict))
    lines = _table(rows)
    lines += [f"floor {kind} (before and after together): {rps:,.0f} rps, p50 {_ms(p50)}"
              for kind, (rps, p50) in floors.items()]
    lines.append("")
    cpu_rows = [("CPU share of the machine (2 cores = 100%)", "client", "gunicorn", "postgres", "machine busy")]
    for scenario in scenarios:
        if cpu := scenario.result.cpu:
            cpu_rows.append((scenario.name, *(f"{cpu[k]:.0%}" for k in ("client", "gunicorn", "postgres", "busy"))))
    return lines + _table(cpu_rows)


def _table(rows: list[tuple]) -> list[str]:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        out.append("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15, help="measured time per scenario (default 15)")
    parser.add_argument("--passes", type=int, default=3, help="the measured time split over this many rounds "
                        "through all scenarios (default 3)")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up per scenario in the first pass (1 s in "
                        "the others), not measured (default 3)")
    parser.add_argument("--limit", type=int, default=20_000, help="measured requests per scenario at most")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4, for 2 cores)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (default sync, as deployed)")
    parser.add_argument("--only", default="", help="run only scenarios whose name contains this (floors always)")
    parser.add_argument("--reseed", action="store_true", help="seed again even if the seeded data is fresh")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops gunicorn on a kill too
    load_start = os.getloadavg()
    setup()

    from django.utils import timezone
    from http_seed import seed, seed_is_current

    now = timezone.now()
    current, why = seed_is_current(now=now)
    if args.reseed or not current:
        print(f"seeding {DATABASE_URL} ({'--reseed' if args.reseed else why})", flush=True)
        seed(now=now)
    else:
        print(f"reusing the data seeded in {DATABASE_URL} ({why}; --reseed to seed again)", flush=True)
    run_id = uuid.uuid4().hex[:8]
    scenarios, used = prepare(now=timezone.now(), run_id=run_id, limit=args.limit, rng=random.Random())
    scenarios = [s for s in scenarios if s.floor_of or args.only.lower() in s.name.lower()]
    print("prepared: " + ", ".join(f"{k} {v:,}" for k, v in used.items()), flush=True)

    server = Gunicorn(workers=args.workers, worker_class=args.worker_class)
    load_before_run = os.getloadavg()
    try:
        server.start()
        print(f"gunicorn: {args.workers} {args.worker_class} workers at {server.base_url} (logs in {server.logs})",
              flush=True)

        def processes() -> http_load.Processes:
            return http_load.Processes(server=server.pids(), database=database_pids())

        # the scenarios in turn, --passes times: a machine whose load drifts spreads it over all of them
        for n in range(args.passes):
            for scenario in scenarios:
                http_load.run(server.base_url, scenario.method, scenario.make, scenario.items, scenario.result,
                              concurrency=args.concurrency, warmup=args.warmup if n == 0 else min(args.warmup, 1),
                              seconds=args.seconds / args.passes, limit=args.limit, processes=processes)
            print(f"  pass {n + 1} of {args.passes} done", flush=True)
    finally:
        server.stop()
    load_end = os.getloadavg()
    command = "cd bench && ../.venv/bin/python http.py " + shlex.join(sys.argv[1:])
    print()
    print(f"command: {command.strip()}")
    print(f"cache: {REDIS_URL} (BENCH_REDIS_URL)")
    print(f"gunicorn {args.workers} {args.worker_class} workers, {args.concurrency} requests in flight; per scenario "
          f"{args.seconds:g} s or {args.limit:,} requests measured, in {args.passes} passes through all scenarios, "
          f"after a warm-up ({args.warmup:g} s in the first pass, {min(args.warmup, 1):g} s in the others)")
    print(f"load average (1/5/15 min): {'/'.join(f'{v:.2f}' for v in load_start)} before seeding, "
          f"{'/'.join(f'{v:.2f}' for v in load_before_run)} at the first request, "
          f"{'/'.join(f'{v:.2f}' for v in load_end)} at the end")
    print("\n".join(report(scenarios)))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted: gunicorn was stopped", file=sys.stderr)
        sys.exit(130)
