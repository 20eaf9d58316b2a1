"""Periodic work (Celery beat), each a thin call into one service."""

from celery import shared_task
from django.utils import timezone

from verification.deadlines import services as deadlines
from verification.idempotency import idempotency_records_prune
from verification.services import bookings, no_shows, privacy


@shared_task
def cases_notice_sent_record() -> int:
    """Every few seconds: the grace period of each case whose notice the outbox has sent starts."""
    return deadlines.cases_notice_sent_record(now=timezone.now())


@shared_task
def bookings_displaced_handle() -> int:
    """Bookings the system moved or cancelled (a representative became unavailable): audit them,
    and for cancelled ones reopen the case and extend its deadline."""
    return bookings.bookings_displaced_handle(now=timezone.now())


@shared_task
def cases_deadline_sweep() -> dict[str, int]:
    """Every open case past its deadline: freeze when every guard holds, else extend (the sweep
    records when it finished, for /metrics and the Operations pages)."""
    return deadlines.cases_deadline_sweep(now=timezone.now())


@shared_task
def bookings_rep_no_show_detect() -> int:
    """Calls never started by their end plus the policy margin: our fault, made good at once."""
    return no_shows.bookings_rep_no_show_detect(now=timezone.now())


@shared_task
def idempotency_keys_prune() -> int:
    """Daily: Idempotency-Keys older than a week are forgotten."""
    return idempotency_records_prune(now=timezone.now())


@shared_task
def cases_retention_apply() -> dict[str, int]:
    """Daily: personal data of cases closed longer than PRIVACY_RETENTION_DAYS is erased (audited)."""
    return privacy.cases_retention_apply(now=timezone.now())


@shared_task
def past_slots_prune() -> int:
    """Hourly: past slots (free, or of a booking that is over) no open case's freeze guard
    can count any more are deleted."""
    return deadlines.past_slots_prune(now=timezone.now())
