from celery import shared_task
from django.utils import timezone

from verification import calls, services
from verification.idempotency import idempotency_records_prune
from verification.models import TaskHeartbeat
from verification.operations.services import heartbeat_record


@shared_task
def bookings_displaced_handle() -> int:
    """Bookings the system moved or cancelled (a representative became unavailable): audit them,
    and for cancelled ones reopen the case and extend its deadline."""
    return services.bookings_displaced_handle(now=timezone.now())


@shared_task
def cases_deadline_sweep() -> dict[str, int]:
    """Every open case past its deadline: freeze when every guard holds, else extend. When it
    finished is recorded for /metrics and the Operations pages (an alert if it stops running)."""
    outcomes = services.cases_deadline_sweep(now=timezone.now())
    heartbeat_record(name=TaskHeartbeat.DEADLINE_SWEEP, now=timezone.now())
    return outcomes


@shared_task
def bookings_rep_no_show_detect() -> int:
    """Calls never started by their end plus the policy margin: our fault, made good at once."""
    return calls.bookings_rep_no_show_detect(now=timezone.now())


@shared_task
def idempotency_keys_prune() -> int:
    """Daily: Idempotency-Keys older than a week are forgotten."""
    return idempotency_records_prune(now=timezone.now())
