"""Faults against the outbox, through the real path: Celery beat and two prefork workers on a Redis
server this script starts (and kills), PostgreSQL, and an SMTP server on loopback (aiosmtpd) that
notes every Message-ID it accepts with the time it accepted it.

1. Kills. Messages keep falling due (one in five a notice, whose record starts a grace period, the
   rest plain messages) while, at random moments, a worker is SIGKILLed: nine times in ten the pool
   process doing the work (Celery puts its task back and forks a new one), every tenth time the
   whole worker (started again). --kills times, for at most --minutes; then the rest is drained.
2. Broker loss. A backlog is claimed and queued; Redis is killed with the send tasks in it, stays
   down --outage seconds while more messages fall due, and comes back empty.

It prints the messages, the kills, lost messages (never accepted by the server: must be 0),
duplicates (a Message-ID accepted twice) and duplicates per 1,000 kills, attempts of unknown
outcome, the window from the server's acceptance to the commit of the record (the sink's clock vs
a probe in the workers, bench/_faults_app.py), and how late messages were after the broker came
back, against the sweep interval. Everything is on loopback, and it stops by itself.

    .venv/bin/python bench/outbox_faults.py [--kills 300] [--minutes 10] [--sweep 5] [--outage 20]
"""

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from _db import percentile, setup

ROOT = Path(__file__).resolve().parent.parent
MESSAGE_ID = re.compile(rb"^Message-ID:\s*<outbox-(\d+)-", re.IGNORECASE | re.MULTILINE)
POLICY = '{"grace_days": 7, "warning_offsets_hours": [72, 24]}'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sink(port: int, log_path: str, slow_flag: str) -> None:
    """The SMTP server, in its own process (its clock is the machine's, as the workers' probe is):
    writes "<outbox id> <unix time>" for every message it accepts, just before answering 250.
    While `slow_flag` exists each delivery takes 20 ms more."""
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - open for the process's life

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
            if os.path.exists(slow_flag):
                await asyncio.sleep(0.02)
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            match = MESSAGE_ID.search(envelope.content)
            log.write(f"{match.group(1).decode() if match else -1} {time.time():.6f}\n")
            return "250 Message accepted for delivery"

    Controller(Handler(), hostname="127.0.0.1", port=port).start()
    while True:
        time.sleep(3600)


def accepted(log_path: Path) -> list[tuple[int, float]]:
    lines = [line.split() for line in log_path.read_text().splitlines()]
    return [(int(pk), float(at)) for pk, at in lines]


class Redis:
    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class Celery:
    """A worker or beat in its own process group, so the whole of it can be killed."""

    def __init__(self, role: str, env: dict, log: Path, *extra: str):
        self.log_path, self.log = log, log.open("a")
        app = "bench._faults_app" if role == "worker" else "verify_site"
        self.process = subprocess.Popen([sys.executable, "-m", "celery", "-A", app, role, "--loglevel=INFO", *extra],
                                        cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def children(self) -> list[int]:
        pid = self.process.pid
        try:
            return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        self.log.close()


def log_times(path: Path, text: str) -> list[float]:
    """Unix times of the log lines containing `text` ("[2026-12-02 03:48:29,599: INFO/...] ...", local time)."""
    return [datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            for line in path.read_text().splitlines() if text in line and line.startswith("[")]


def main() -> None:  # noqa: C901, PLR0915 - one script, read top to bottom
    if sys.argv[1:2] == ["--sink"]:
        sink(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=300)
    parser.add_argument("--minutes", type=float, default=10, help="at most this long for the kills")
    parser.add_argument("--sweep", type=int, default=5, help="OUTBOX_SWEEP_SECONDS")
    parser.add_argument("--lease", type=int, default=10, help="OUTBOX_LEASE_SECONDS while killing")
    parser.add_argument("--outage", type=int, default=20, help="seconds the broker stays down")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    random.seed(args.seed)
    started = time.monotonic()
    setup()

    import redis as redis_client
    from django.conf import settings
    from django.db import connection
    from django.db.models import Q
    from django.utils import timezone

    from notifications.models import MessageStatus, OutboxMessage
    from verification import messages
    from verification.deadlines.rules import grace_period
    from verification.models import Case

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE notifications_outboxmessage, verification_auditevent, verification_caserequest,"
                       " verification_case, verification_freelancer CASCADE")
    uncertain_field = any(f.name == "uncertain_attempts" for f in OutboxMessage._meta.fields)
    work = Path(tempfile.mkdtemp(prefix="outbox-faults-"))
    probe_log, sink_log, slow = work / "window.log", work / "accepted.log", work / "slow"
    smtp_port = free_port()
    smtp = subprocess.Popen([sys.executable, __file__, "--sink", str(smtp_port), str(sink_log), str(slow)])
    broker = Redis()
    broker.start()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "verify_site.settings_test",
           "REDIS_URL": broker.url, "CELERY_BROKER_URL": broker.url, "BENCH_WINDOW_LOG": str(probe_log),
           "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
           "EMAIL_PORT": str(smtp_port), "OUTBOX_SWEEP_SECONDS": str(args.sweep),
           "OUTBOX_LEASE_SECONDS": str(args.lease), "CELERY_BEAT_SCHEDULE_FILENAME": str(work / "beat-schedule")}
    serial = iter(range(10**9))

    def feed(count: int, *, due: list[datetime] | None = None) -> None:
        """`count` messages due now (or at `due`): one in five a notice of a new case."""
        now = timezone.now()
        due = due or [now] * count
        notices_count = count // 5
        tag = uuid.uuid4().hex[:8]
        with connection.cursor() as cursor:
            cursor.execute("""
                WITH f AS (
                    INSERT INTO verification_freelancer (external_id, email, name, timezone, language, created_at,
                                                         updated_at)
                    SELECT %(tag)s || '-' || i, %(tag)s || '-' || i || '@example.com', 'Bench ' || i, 'UTC', 'en',
                           %(now)s, %(now)s FROM generate_series(1, %(n)s) i RETURNING id)
                INSERT INTO verification_case (id, freelancer_id, reason_code, public_reason, profile_claims,
                    standing_snapshot, status, policy, link_nonce, created_by, created_at, updated_at,
                    reschedule_count, freelancer_no_shows)
                SELECT gen_random_uuid(), f.id, 'profile_details', 'bench', '[]', '{}', 'OPEN', %(policy)s::jsonb,
                       md5(f.id::text), 'bench', %(now)s, %(now)s, 0, 0 FROM f
            """, {"tag": tag, "now": now, "n": notices_count, "policy": POLICY})
        for case, at in zip(Case.objects.filter(freelancer__external_id__startswith=f"{tag}-")
                            .select_related("freelancer"), due[:notices_count], strict=False):
            messages.notice_enqueue(case, grace=grace_period(case.policy), now=at)
        OutboxMessage.objects.bulk_create(
            [OutboxMessage(kind="withdrawn", topic=f"bench:{next(serial)}", revision="bench",
                           recipient="fl@example.com",
                           context={"first_name": "Bench", "timezone": "UTC"}, due_at=at, created_at=now,
                           updated_at=now) for at in due[notices_count:]],
            batch_size=2000,
        )

    def unsent() -> int:  # due and not done (a sent notice plans deadline warnings, due days later)
        return OutboxMessage.objects.filter(Q(status=MessageStatus.SENDING)
                                            | Q(status=MessageStatus.PENDING, due_at__lte=timezone.now())).count()

    def drain(timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not unsent():
                return True
            time.sleep(0.5)
        return False

    def start_workers() -> list[Celery]:
        return [Celery("worker", env, work / f"worker{i}.log", "--pool=prefork", "--concurrency=1",
                       f"--hostname=faults{i}-{next(serial)}@%h", "--without-mingle", "--without-gossip")
                for i in range(2)]

    workers: list[Celery] = []
    scheduler = None
    try:
        # 1. kills -----------------------------------------------------------------------------
        workers, scheduler = start_workers(), Celery("beat", env, work / "beat.log")
        time.sleep(8)
        kills = whole_worker_kills = 0
        kill_times: list[float] = []
        kill_deadline = time.monotonic() + args.minutes * 60
        while kills < args.kills and time.monotonic() < kill_deadline:
            if unsent() < 1500:
                feed(1500)
            time.sleep(random.uniform(0.3, 1.5))
            index = random.randrange(len(workers))
            if kills % 10 == 9:
                kill_times.append(time.time())
                workers[index].kill()
                workers[index] = Celery("worker", env, work / f"worker{index}.log", "--pool=prefork",
                                        "--concurrency=1", f"--hostname=faults{index}-{next(serial)}@%h",
                                        "--without-mingle", "--without-gossip")
                whole_worker_kills += 1
                kills += 1
                continue
            children = workers[index].children()
            if children:
                try:
                    kill_times.append(time.time())
                    os.kill(children[0], signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
        kill_seconds = args.minutes * 60 - (kill_deadline - time.monotonic())
        drained = drain(timeout=6 * args.lease + 6 * args.sweep + 120)
        phase1 = list(OutboxMessage.objects.filter(due_at__lte=timezone.now()).values_list("pk", "status"))
        uncertain = (sum(OutboxMessage.objects.values_list("uncertain_attempts", flat=True))
                     if uncertain_field else None)
        accepted_by_id: dict[int, list[float]] = defaultdict(list)
        for message_id, at in accepted(sink_log):
            accepted_by_id[message_id].append(at)
        copies = Counter({pk: len(times) for pk, times in accepted_by_id.items()})
        lost = [pk for pk, _ in phase1 if copies[pk] == 0]
        duplicates = sum(n - 1 for n in copies.values() if n > 1)
        # each copy's first acceptance against the nearest kill: after it, the message was on its way
        # when the worker died; before it, the worker died inside the window
        copy_kills = []
        for pk, n in copies.items():
            first = min(accepted_by_id[pk])
            if n > 1 and kill_times:
                copy_kills.append(min((k - first for k in kill_times), key=abs))
        windows, confirmed = [], []  # acceptance -> record on its way; acceptance -> commit confirmed
        for line in probe_log.read_text().splitlines():
            pk, answered, recorded = line.split()
            before = [at for at in accepted_by_id.get(int(pk), []) if at <= float(recorded)]
            if before:
                confirmed.append(float(recorded) - max(before))
                if answered != "-":
                    windows.append(float(answered) - max(before))

        # 2. broker loss ------------------------------------------------------------------------
        for process in [*workers, scheduler]:
            process.stop()
        env["OUTBOX_LEASE_SECONDS"] = str(settings.OUTBOX_LEASE_SECONDS)  # the default: what a lost task used to wait
        workers, scheduler = start_workers(), Celery("beat", env, work / "beat.log")
        time.sleep(8)
        slow.touch()  # a slower server, so send tasks queue up in Redis
        first_new = OutboxMessage.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        feed(1000)
        queue = redis_client.Redis.from_url(broker.url)
        deadline = time.monotonic() + 4 * args.sweep + 30
        while queue.llen("celery") < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        queued_tasks = queue.llen("celery")
        broker.kill()
        down_at = timezone.now()
        feed(300, due=[down_at + timedelta(seconds=1 + (args.outage - 2) * i / 300) for i in range(300)])
        time.sleep(args.outage)
        claimed_when_back = set(OutboxMessage.objects.filter(pk__gt=first_new, status=MessageStatus.SENDING,
                                                             due_at__lt=down_at).values_list("pk", flat=True))
        slow.unlink()
        broker.start()  # empty
        back_at = timezone.now()
        drained_2 = drain(timeout=settings.OUTBOX_LEASE_SECONDS + 6 * args.sweep + 120)
        first_accept: dict[int, float] = {}
        for message_id, at in accepted(sink_log):
            first_accept.setdefault(message_id, at)
        phase2 = list(OutboxMessage.objects.filter(pk__gt=first_new, due_at__lte=timezone.now())
                      .values_list("pk", "due_at"))
        back = back_at.timestamp()
        stranded = [first_accept[pk] - back for pk in claimed_when_back if pk in first_accept]
        outage_due = [(pk, due.timestamp()) for pk, due in phase2 if down_at <= due]
        late_after_back = [first_accept[pk] - max(due, back) for pk, due in outage_due if pk in first_accept]
        late = [first_accept[pk] - due for pk, due in outage_due if pk in first_accept]
        lost_2 = [pk for pk, _ in phase2 if pk not in first_accept]
        reconnected = [stamp for process in workers for stamp in log_times(process.log_path, "Connected to")
                       if stamp > back]
    finally:
        for process in [*workers, *([scheduler] if scheduler else [])]:
            process.stop()
        broker.kill()
        smtp.kill()

    statuses = Counter(status for _, status in phase1)
    claim_lease = max(1, args.sweep // 2) if hasattr(settings, "OUTBOX_CLAIM_LEASE_SECONDS") else "(none before)"
    print(f"1. kills: {len(phase1)} messages (one in five a notice), 2 prefork workers (concurrency 1), SMTP sink on "
          f"loopback, sweep every {args.sweep} s, OUTBOX_LEASE_SECONDS={args.lease}")
    print(f"   {kills} SIGKILLs in {kill_seconds:.0f} s ({kills - whole_worker_kills} of the pool process, "
          f"{whole_worker_kills} of the whole worker), drained: {drained}, statuses {dict(statuses)}")
    print(f"   lost (never accepted by the server): {len(lost)}")
    print(f"   duplicates (a Message-ID accepted twice): {duplicates}, per 1,000 kills: "
          f"{1000 * duplicates / max(kills, 1):.1f}")
    if copy_kills:
        on_the_way = [gap for gap in copy_kills if gap < 0]
        inside = [gap for gap in copy_kills if gap >= 0]
        print(f"   of the copies, {len(inside)} had their worker killed after the server's acceptance "
              f"(by {', '.join(f'{gap * 1000:.1f}' for gap in sorted(inside))} ms), {len(on_the_way)} were accepted "
              f"after their worker was killed (by {', '.join(f'{-gap * 1000:.1f}' for gap in sorted(on_the_way))} ms: "
              f"on their way)")
    if uncertain is not None:
        print(f"   attempts of unknown outcome recorded (a worker died during a delivery): {uncertain}")
    for name, values in [("window, server's acceptance -> the record's statement leaves the worker", windows),
                         ("server's acceptance -> the record's commit confirmed", confirmed)]:
        if values:
            print(f"   {name} ({len(values)} messages): p50 {percentile(values, 50) * 1000:.2f} ms, "
                  f"p99 {percentile(values, 99) * 1000:.2f} ms, max {max(values) * 1000:.2f} ms")
    print(f"2. broker loss: 1,000 messages claimed, {queued_tasks} send tasks in Redis when it was killed; "
          f"down {args.outage} s while 300 more fell due; back empty; OUTBOX_LEASE_SECONDS="
          f"{settings.OUTBOX_LEASE_SECONDS}, OUTBOX_CLAIM_LEASE_SECONDS={claim_lease}")
    print(f"   drained: {drained_2}, lost: {len(lost_2)}")
    if reconnected:
        print(f"   both workers connected again {max(reconnected) - back:.1f} s after the broker came back "
              f"(Celery's back-off: 2, 4, 6 ... s between tries)")
    if stranded:
        print(f"   {len(claimed_when_back)} claimed but unsent when the broker came back (their tasks lost): the "
              f"first accepted {min(stranded):.1f} s after it came back, the last {max(stranded):.1f} s after")
    if late:
        print(f"   due during the outage: sent - due max {max(late):.1f} s; sent - max(due, broker back) "
              f"p50 {percentile(late_after_back, 50):.1f} s, max {max(late_after_back):.1f} s "
              f"(sweep interval {args.sweep} s)")
    print(f"total {time.monotonic() - started:.0f} s; logs in {work}")


if __name__ == "__main__":
    main()
