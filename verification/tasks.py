from celery import shared_task
from django.utils import timezone

from verification import services


@shared_task
def bookings_displaced_handle() -> int:
    """Bookings the system moved or cancelled (a representative became unavailable): audit them,
    and for cancelled ones reopen the case and extend its deadline."""
    return services.bookings_displaced_handle(now=timezone.now())
