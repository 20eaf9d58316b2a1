"""Outbox dispatch: 20,000 due messages through the real path (beat sweep -> Redis -> two Celery
worker processes -> render -> an email backend that discards), against the throughput of a no-op
Celery task over the same broker with the same workers, in the same run.

Messages become due uniformly over --window seconds (a stream, as reminders are); lateness is
sent_at - due_at. The sweep runs every OUTBOX_SWEEP_SECONDS (default 30, as in production).

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--window", type=int, default=60)
    parser.add_argument("--sweep", type=int, default=30)
    args = parser.parse_args()
    os.environ["REDIS_URL"] = os.environ["CELERY_BROKER_URL"] = BROKER
    setup()

    import redis
    from django.db import connection
    from django.utils import timezone

    from notifications.models import MessageStatus, OutboxMessage
    from verify_site.celery import app

    redis.Redis.from_url(BROKER).flushdb()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE notifications_outboxmessage")
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

        # 2. the outbox: messages due over the window, swept by beat, sent by the workers
        now = timezone.now()
        first_due = now + timedelta(seconds=5)
        step = args.window / args.messages
        OutboxMessage.objects.bulk_create(
            [OutboxMessage(kind="withdrawn", subject=f"case:{uuid.uuid4()}", recipient=f"fl{i}@example.com",
                           context={"first_name": "Bench", "timezone": "UTC"},
                           due_at=first_due + timedelta(seconds=i * step), created_at=now, updated_at=now)
             for i in range(args.messages)],
            batch_size=2000,
        )
        scheduler = start("beat", env)
        try:
            deadline = time.monotonic() + args.window + 6 * args.sweep + 120
            while time.monotonic() < deadline:
                if not OutboxMessage.objects.exclude(status=MessageStatus.SENT).exists():
                    break
                time.sleep(0.5)
        finally:
            scheduler.terminate()
            scheduler.wait(20)
        rows = list(OutboxMessage.objects.filter(status=MessageStatus.SENT).values_list("due_at", "sent_at"))
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            process.wait(30)
    lateness = [(sent - due).total_seconds() for due, sent in rows]
    busy = (max(s for _, s in rows) - min(d for d, _ in rows)).total_seconds()
    # send throughput while draining: messages over the time the workers were actually sending
    sent_times = sorted(s for _, s in rows)
    print(f"messages={args.messages} sent={len(rows)} due over {args.window}s, sweep every {args.sweep}s, "
          f"2 worker processes, dummy email backend")
    drain = (sent_times[-1] - sent_times[0]).total_seconds() or 1
    print(f"outbox: {len(rows) / drain:.0f} messages/s while sending ({len(rows) / busy:.0f}/s over the whole "
          f"window), lateness p50 {percentile(lateness, 50):.1f} s, p99 {percentile(lateness, 99):.1f} s, "
          f"max {max(lateness):.1f} s")
    print(f"no-op Celery task over the same broker and workers: {noop_rate:.0f} tasks/s")
    print(f"outbox messages/s / no-op tasks/s: {len(rows) / drain / noop_rate:.0%} (target >= 50%); "
          f"lateness p99 {'within' if percentile(lateness, 99) <= args.sweep else 'OVER'} one sweep interval "
          f"({args.sweep} s)")


if __name__ == "__main__":
    main()
