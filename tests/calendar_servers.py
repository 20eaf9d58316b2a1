"""Real calendar servers on loopback for the tests: Radicale (CalDAV, from requirements-dev) in
its own process, and a tiny HTTP server serving an .ics (the private iCal address)."""

import itertools
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import caldav


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@dataclass
class CalendarAccount:
    server: "Radicale"
    username: str
    password: str
    calendar_url: str

    @property
    def calendar(self) -> caldav.Calendar:
        return self.server.client(self.username, self.password).calendar(url=self.calendar_url)

    def add(self, ics: str) -> None:
        self.calendar.save_event(ics)

    def events(self) -> dict[str, str]:
        """href name -> data of every object in the calendar (a sync report lists deleted ones too,
        without data: left out)."""
        return {str(obj.url).rsplit("/", 1)[-1]: obj.data for obj in self.calendar.objects(load_objects=True)
                if obj.data}


class Radicale:
    """One Radicale process for the session; each test gets its own user and calendar."""

    _ids = itertools.count(1)
    timeout = 10  # seconds, for the tests' own client

    def __init__(self, folder: Path):
        self.folder = folder
        self.users = folder / "users"
        self.users.write_text("")
        self.port = free_port()
        config = folder / "config"
        config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {self.users}\nhtpasswd_encryption = plain\ndelay = 0\n"
            f"[storage]\nfilesystem_folder = {folder / 'collections'}\n"
            "[logging]\nlevel = warning\n"
        )
        self.process = subprocess.Popen([sys.executable, "-m", "radicale", "--config", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=(folder / "log").open("w"))
        try:
            wait_for_port(self.port)
        except RuntimeError:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def client(self, username: str, password: str) -> caldav.DAVClient:
        return caldav.DAVClient(url=self.url, username=username, password=password, timeout=self.timeout)

    def account(self, *, calendar: bool = True) -> CalendarAccount:
        number = next(self._ids)
        username, password = f"rep{number}@example.com", f"app-password-{number}"
        with self.users.open("a") as users:
            users.write(f"{username}:{password}\n")
        principal = self.client(username, password).principal()
        url = str(principal.make_calendar(name="Work", cal_id="work").url) if calendar else str(principal.url)
        return CalendarAccount(server=self, username=username, password=password, calendar_url=url)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class IcsServer:
    """Serves `body` at any path; `delay` seconds before answering; `chunks` to send it slowly."""

    def __init__(self):
        self.body: bytes = b""
        self.content_type = "text/calendar"
        self.delay = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                time.sleep(outer.delay)
                self.send_response(200)
                self.send_header("Content-Type", outer.content_type)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                try:
                    self.wfile.write(outer.body)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/private/basic.ics"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
