"""`GET /metrics` in the Prometheus text format, for alerting.

Readable only with `Authorization: Bearer <METRICS_TOKEN>`; with no token set the endpoint does not
exist (404), a missing or wrong token is a 401. Two kinds of figures:

- business gauges, computed from the database at each scrape (a handful of indexed queries, see
  `verification.operations.now`): running cases by status, cases due within 24 h with no call
  booked, outbox pending / due / overdue / failed and the age of the oldest due message, free
  slots in the next 72 h (against the cases due within 72 h, each of which needs a call in them),
  when the deadline sweep last finished. They are the same whichever
  process answers.
- counters of requests (this middleware) and Celery tasks (Celery's task signals). prometheus-client
  keeps them per process: with several gunicorn workers and Celery worker processes, set
  `PROMETHEUS_MULTIPROC_DIR` to a directory shared by all of them (emptied before they start) and
  the scrape adds them up; without it, the counters cover only the process that answered.
"""

import hmac
import time
from datetime import timedelta

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

PROCESS = CollectorRegistry(auto_describe=True)  # counters of this process (or, multiprocess, of all)
REQUESTS = Counter("verify_http_requests", "HTTP requests answered, by method and status code.",
                   ["method", "status"], registry=PROCESS)
REQUEST_SECONDS = Histogram("verify_http_request_duration_seconds", "Time to answer an HTTP request.",
                            registry=PROCESS, buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
TASKS = Counter("verify_celery_tasks", "Celery tasks run, by task name and state (SUCCESS, FAILURE, RETRY).",
                ["task", "state"], registry=PROCESS)


class BusinessCollector:
    """Gauges computed from the database when scraped."""

    def collect(self):
        from verification.models import TaskHeartbeat
        from verification.operations.now import (
            cases_due_unbooked_count,
            cases_running_by_status,
            free_slots_count,
            heartbeat_at,
            outbox_health,
        )

        now = timezone.now()
        cases = GaugeMetricFamily("verify_cases_running", "Cases that are not closed, by status.", labels=["status"])
        for status, count in cases_running_by_status().items():
            cases.add_metric([status], count)
        yield cases
        for hours in (24, 72):
            yield GaugeMetricFamily(f"verify_cases_due_{hours}h_unbooked",
                                    f"OPEN cases (no call booked) whose deadline falls within the next {hours} hours.",
                                    value=cases_due_unbooked_count(now=now, hours=hours))
        outbox = outbox_health(now=now)
        messages = GaugeMetricFamily("verify_outbox_messages", "Outbox messages by state.", labels=["state"])
        for state, count in (("pending", outbox.pending), ("due", outbox.due), ("overdue", outbox.overdue),
                             ("failed", outbox.failed), ("stuck_sending", outbox.stuck_sending)):
            messages.add_metric([state], count)
        yield messages
        yield GaugeMetricFamily("verify_outbox_oldest_due_age_seconds",
                                "Seconds since the oldest pending message became due (0 when none is due): the "
                                "outbox lag.", value=outbox.lag_seconds(now))
        yield GaugeMetricFamily("verify_free_slots_72h", "Free bookable slots in the next 72 hours.",
                                value=free_slots_count(start=now, end=now + timedelta(hours=72)))
        finished = heartbeat_at(TaskHeartbeat.DEADLINE_SWEEP)
        yield GaugeMetricFamily("verify_deadline_sweep_last_finished_timestamp_seconds",
                                "Unix time the deadline sweep last finished (0: never).",
                                value=finished.timestamp() if finished else 0)


def metrics_text() -> bytes:
    business = CollectorRegistry(auto_describe=False)
    business.register(BusinessCollector())
    if settings.PROMETHEUS_MULTIPROC_DIR:  # prometheus-client reads the same variable itself
        from prometheus_client import multiprocess

        counters = CollectorRegistry()
        multiprocess.MultiProcessCollector(counters)
    else:
        counters = PROCESS
    return generate_latest(business) + generate_latest(counters)


@require_GET
def metrics_view(request):
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off: set METRICS_TOKEN.")
    given = request.headers.get("Authorization", "")
    if not (given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode())):
        response = HttpResponse("A valid 'Authorization: Bearer <METRICS_TOKEN>' header is needed.\n", status=401,
                                content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_PLAIN_0_0_4)


class RequestMetricsMiddleware:
    """Counts every answered request (by method and status) and times it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        REQUESTS.labels(method=request.method if request.method in KNOWN_METHODS else "other",
                        status=str(response.status_code)).inc()
        REQUEST_SECONDS.observe(time.perf_counter() - started)
        return response


KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def task_finished(sender=None, state=None, **kwargs) -> None:
    """Celery's `task_postrun`: one count per task run, by name and final state."""
    TASKS.labels(task=getattr(sender, "name", "unknown"), state=state or "UNKNOWN").inc()
