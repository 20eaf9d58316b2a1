from celery import shared_task
from django.utils import timezone

from verification import services


@shared_task
def bookings_displaced_handle() -> int:
    """Bookings the system moved or cancelled (a representative became unavailable): audit them,
    and for cancelled ones reopen the case and extend its deadline."""
    return services.bookings_displaced_handle(now=timezone.now())


@shared_task
def cases_deadline_sweep() -> dict[str, int]:
    """Every open case past its deadline: freeze when every guard holds, else extend."""
    return services.cases_deadline_sweep(now=timezone.now())
