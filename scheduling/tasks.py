from celery import shared_task
from django.utils import timezone

from scheduling import services


@shared_task
def representatives_slots_sync_all() -> int:
    """Roll every representative's slots forward (periodic)."""
    return services.representatives_slots_sync_all(now=timezone.now())


@shared_task(autoretry_for=(services.HoursBusy,), retry_backoff=10, max_retries=5)
def representative_slots_sync(representative_id: int) -> None:
    """Right after a representative's hours or time off change (in the admin). Freelancers booking
    those times just then: tried again a little later."""
    services.representative_slots_sync(representative_id=representative_id, now=timezone.now())
