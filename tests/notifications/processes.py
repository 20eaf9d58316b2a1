"""Real processes for the notification tests: an SMTP sink on loopback (aiosmtpd), Celery worker
and beat subprocesses on the test database, and a throwaway Redis server."""

import asyncio
import email
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from email import policy
from pathlib import Path

from aiosmtpd.controller import Controller
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SinkHandler:
    """Keeps every message it accepts. `rcpt_delay` makes each message slow to deliver; nothing is
    stored until the whole message has been accepted. `reply_delay` holds back the "250 accepted"
    answer to the first `delayed_replies` messages, after they are stored."""

    def __init__(self, rcpt_delay: float = 0.0, reply_delay: float = 0.0, delayed_replies: int = 0):
        self.rcpt_delay = rcpt_delay
        self.reply_delay, self.delayed_replies = reply_delay, delayed_replies
        self.received: list[email.message.EmailMessage] = []
        self.deliveries_started = 0
        self.in_delivery = threading.Event()  # set while a delivery is waiting in RCPT
        self.replying = threading.Event()  # set while an accepted message waits for its answer
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        with self._lock:
            self.deliveries_started += 1
        if self.rcpt_delay:
            self.in_delivery.set()
            await asyncio.sleep(self.rcpt_delay)
            self.in_delivery.clear()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self._lock:
            self.received.append(email.message_from_bytes(envelope.content, policy=policy.default))
            delay = self.reply_delay if len(self.received) <= self.delayed_replies else 0
        if delay:
            self.replying.set()
            await asyncio.sleep(delay)
            self.replying.clear()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 60) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.received) < count:
            time.sleep(0.1)
        return list(self.received)


@contextmanager
def smtp_sink(rcpt_delay: float = 0.0, reply_delay: float = 0.0, delayed_replies: int = 0):
    handler = SinkHandler(rcpt_delay, reply_delay, delayed_replies)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def test_database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def app_env(*, broker: str, smtp_port: int, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "verify_site.settings_test",
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": broker,
        "CELERY_BROKER_URL": broker,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "OUTBOX_SWEEP_SECONDS": "1",
        "CELERY_BEAT_SCHEDULE_FILENAME": str(tmp_path / "celerybeat-schedule"),
        **extra,
    }


class Celery:
    """A `celery worker` or `celery beat` subprocess; its output is kept for assertions."""

    def __init__(self, role: str, env: dict[str, str], ready: str):
        args = [sys.executable, "-m", "celery", "-A", "verify_site", role, "--loglevel=INFO"]
        if role == "worker":
            args += ["--pool=solo", "--without-mingle", "--without-gossip", "--without-heartbeat"]
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        self.lines: list[str] = []
        self._ready = threading.Event()
        threading.Thread(target=self._read, args=(ready,), daemon=True).start()
        if not self._ready.wait(60):
            self.stop()
            raise RuntimeError(f"celery {role} did not start:\n" + "".join(self.lines[-40:]))

    def _read(self, ready: str) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            if ready in line:
                self._ready.set()

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no warm shutdown, no acknowledgements
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def output(self) -> str:
        return "".join(self.lines)


def worker(env: dict[str, str]) -> Celery:
    return Celery("worker", env, ready=" ready.")


def beat(env: dict[str, str]) -> Celery:
    return Celery("beat", env, ready="beat: Starting")


class RedisServer:
    """A throwaway Redis on its own port, so a test can stop and restart 'the broker'."""

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

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
