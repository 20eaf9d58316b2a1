"""Outbox dispatch through the real path (beat sweep -> Redis -> two Celery worker processes ->
render -> an email backend that discards), in one run, with the same broker and workers:

1. the floor: 20,000 no-op Celery tasks, tasks/s;
2. capacity: 20,000 messages all due at once, messages/s from the first send to the last;
3. lateness: 20,000 messages becoming due uniformly over --window seconds (a stream, as reminders
   are), sent_at - due_at. The sweep runs every OUTBOX_SWEEP_SECONDS (--sweep, default 30).

    .venv/bin/python bench/outbox_dispatch.py [--messages 20000] [--window 60] [--sweep 30]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from _db import URL, percentile, setup

ROOT = Path(__file__).resolve().parent.parent
BROKER = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def start(role: str, env: dict, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "verify_site", role, "--loglevel=WARNING",
                             *extra], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def dispatch(count: int, *, window: int, env: dict) -> list[tuple]:
    """Write `count` messages, due now (window 0) or from 5 s from now over `window` seconds, run
    beat until every one is sent, and return their (due_at, sent_at)."""
    from django.db import connection
    from django.utils import timezone

    from notifications.models import MessageStatus, OutboxMessage

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE notifications_outboxmessage")
    now = timezone.now()
    first_due, step = now + timedelta(seconds=5 if window else 0), window / count
    OutboxMessage.objects.bulk_create(
        [OutboxMessage(kind="withdrawn", topic=f"case:{uuid.uuid4()}", revision="bench", recipient=f"fl{i}@example.com",
                       context={"first_name": "Bench", "timezone": "UTC"},
                       due_at=first_due + timedelta(seconds=i * step), created_at=now, updated_at=now)
         for i in range(count)],
        batch_size=2000,
    )
    sweep = int(env["OUTBOX_SWEEP_SECONDS"])
    scheduler = start("beat", env)
    try:
        deadline = time.monotonic() + window + 6 * sweep + 120
        while time.monotonic() < deadline:
            if not OutboxMessage.objects.exclude(status=MessageStatus.SENT).exists():
                break
            time.sleep(0.5)
    finally:
        scheduler.terminate()
        scheduler.wait(20)
    return list(OutboxMessage.objects.filter(status=MessageStatus.SENT).values_list("due_at", "sent_at"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--window", type=int, default=60)
    parser.add_argument("--sweep", type=int, default=30)
    args = parser.parse_args()
    os.environ["REDIS_URL"] = os.environ["CELERY_BROKER_URL"] = BROKER
    setup()

    import redis

    from verify_site.celery import app

    redis.Redis.from_url(BROKER).flushdb()
    env = {**os.environ, "DATABASE_URL": URL, "DJANGO_SETTINGS_MODULE": "verify_site.settings_test",
           "REDIS_URL": BROKER, "CELERY_BROKER_URL": BROKER, "OUTBOX_SWEEP_SECONDS": str(args.sweep),
           "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
           "CELERY_BEAT_SCHEDULE_FILENAME": str(Path(tempfile.mkdtemp()) / "celerybeat-schedule")}
    workers = [start("worker", env, "--concurrency=1", "--pool=prefork", f"--hostname=bench{i}@%h",
                     "--without-mingle", "--without-gossip") for i in range(2)]
    try:
        time.sleep(6)  # workers up

        # 1. the floor: a no-op task over the same broker and workers
        started = time.perf_counter()
        results = [app.send_task("verify_site.celery.noop") for _ in range(args.messages)]
        del results
        client = redis.Redis.from_url(BROKER)
        while client.llen("celery") > 0:
            time.sleep(0.05)
        time.sleep(1)  # the last ones in flight
        noop_rate = args.messages / (time.perf_counter() - started - 1)

        # 2. capacity: all messages due now, one beat sweep claims them, the workers drain them
        backlog = dispatch(args.messages, window=0, env=env)
        # 3. lateness: messages becoming due over the window, as reminders do, swept every interval
        stream = dispatch(args.messages, window=args.window, env=env)
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            process.wait(30)
    rate = len(backlog) / ((max(s for _, s in backlog) - min(s for _, s in backlog)).total_seconds() or 1)
    lateness = [(sent - due).total_seconds() for due, sent in stream]
    p99 = percentile(lateness, 99)
    print(f"messages={args.messages}, 2 worker processes (prefork, concurrency 1), dummy email backend, "
          f"beat sweep every {args.sweep} s")
    print(f"no-op Celery task over the same broker and workers: {noop_rate:.0f} tasks/s")
    print(f"outbox, all due at once: {len(backlog)} sent, {rate:.0f} messages/s from first send to last")
    print(f"outbox messages/s / no-op tasks/s: {rate / noop_rate:.0%} (target >= 50%)")
    print(f"outbox, due over {args.window} s: {len(stream)} sent, lateness (sent - due) min {min(lateness):.1f} s, "
          f"p50 {percentile(lateness, 50):.1f} s, p99 {p99:.1f} s, max {max(lateness):.1f} s "
          f"({'within' if p99 <= args.sweep else 'OVER'} one sweep interval of {args.sweep} s)")


if __name__ == "__main__":
    main()
