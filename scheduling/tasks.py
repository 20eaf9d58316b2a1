from celery import shared_task
from django.utils import timezone

from scheduling.services import slots


@shared_task
def representatives_slots_sync_all() -> int:
    """Roll every representative's slots forward (periodic)."""
    return slots.representatives_slots_sync_all(now=timezone.now())


@shared_task(autoretry_for=(slots.HoursBusy,), retry_backoff=10, max_retries=5)
def representative_slots_sync(representative_id: int) -> None:
    """Right after a representative's hours or time off change (in the admin). Freelancers booking
    those times just then: tried again a little later."""
    slots.representative_slots_sync(representative_id=representative_id, now=timezone.now())
