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


@shared_task
def calendars_sync_all() -> int:
    """Beat, every CALENDAR_SYNC_SECONDS: read each connected calendar's busy times."""
    from scheduling.services.calendars import calendars_sync_all as sync_all

    return sync_all(now=timezone.now())
