"""bench/http.py's load generator and CPU accounting.

One asyncio process with aiohttp (its HTTP parser is C): `concurrency` requests in flight, each on
a new loopback connection (gunicorn's sync workers close every connection after the response, as
in production), bounded by time and by count. Bodies are read, never parsed. CPU is taken from
/proc for the machine, the gunicorn master and workers and the PostgreSQL backends serving them,
and from getrusage for this process, so a report can show the client did not starve the server.
PostgreSQL's parallel query workers live for one query and are not counted.
"""

import asyncio
import itertools
import os
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

TICKS = os.sysconf("SC_CLK_TCK")
Request = tuple[str, dict[str, str], bytes | None]  # path, headers, body


class Exhausted(Exception):
    """The scenario has no more distinct requests to make (e.g. no bookable case left)."""


@dataclass
class Result:
    """A scenario's measured requests, added up over its passes."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    elapsed: float = 0.0
    cpu_seconds: Counter = field(default_factory=Counter)  # client, gunicorn, postgres, busy, total (machine)

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    @property
    def cpu(self) -> dict[str, float]:
        """Each party's share of the machine's CPU time while measured (2 cores = 1.0)."""
        total = self.cpu_seconds["total"]
        return {k: self.cpu_seconds[k] / total for k in ("client", "gunicorn", "postgres", "busy")} if total else {}


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICKS, sum(values[:8]) / TICKS


@dataclass
class Processes:
    server: list[int]  # gunicorn master and workers
    database: list[int]  # the PostgreSQL backends serving them

    def snapshot(self) -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        busy, total = _machine()
        return {"client": usage.ru_utime + usage.ru_stime, "gunicorn": sum(map(_proc_cpu, self.server)),
                "postgres": sum(map(_proc_cpu, self.database)), "busy": busy, "total": total}


async def _drive(session: aiohttp.ClientSession, method: str, make: Callable[[int], Request],
                 items: itertools.count, *, concurrency: int, seconds: float, limit: int,
                 result: Result | None) -> None:
    measured = itertools.count()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline and (result is None or next(measured) < limit):
            try:
                path, headers, body = make(next(items))
            except Exhausted:
                return
            started = time.perf_counter()
            try:
                async with session.request(method, path, headers=headers, data=body) as response:
                    await response.read()
                    status = response.status
            except (TimeoutError, aiohttp.ClientError):
                status = 0  # no answer: counted as an error
            if result is not None:
                result.latencies.append(time.perf_counter() - started)
                result.statuses[status] += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _scenario(base_url: str, method: str, make: Callable[[int], Request], items: itertools.count,
                    result: Result, *, concurrency: int, warmup: float, seconds: float, limit: int,
                    processes: Callable[[], Processes]) -> None:
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=True)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout,
                                     cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False) as session:
        await _drive(session, method, make, items, concurrency=concurrency, seconds=warmup, limit=limit,
                     result=None)
        watched = processes()  # after the warm-up: every worker has its database connection
        before = watched.snapshot()
        started = time.perf_counter()
        await _drive(session, method, make, items, concurrency=concurrency, seconds=seconds,
                     limit=limit - result.requests, result=result)
        result.elapsed += time.perf_counter() - started
        after = watched.snapshot()
        result.cpu_seconds.update({k: after[k] - before[k] for k in after})


def run(base_url: str, method: str, make: Callable[[int], Request], items: itertools.count, result: Result, *,
        concurrency: int, warmup: float, seconds: float, limit: int, processes: Callable[[], Processes]) -> None:
    """One pass of a scenario: warm up for `warmup` seconds, then measure for `seconds`, adding to
    `result`, until it holds `limit` requests (a hard stop a minute later in any case). `items`
    numbers the requests across passes, so no request is made twice (a booking, a new case)."""
    asyncio.run(asyncio.wait_for(
        _scenario(base_url, method, make, items, result, concurrency=concurrency, warmup=warmup, seconds=seconds,
                  limit=limit, processes=processes),
        timeout=warmup + seconds + 60,
    ))
