from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications import services
from notifications.agenda import agendas_enqueue


@shared_task
def outbox_dispatch() -> int:
    """Beat: claim due messages in batches and hand them to send tasks once the claim commits."""
    claimed, chunk = 0, settings.OUTBOX_SEND_CHUNK
    for _ in range(settings.OUTBOX_MAX_BATCHES_PER_SWEEP):
        with transaction.atomic():
            ids = services.outbox_claim_due(now=timezone.now(), limit=settings.OUTBOX_BATCH_SIZE)
            transaction.on_commit(lambda ids=ids: [outbox_send.delay(ids[i:i + chunk])
                                                   for i in range(0, len(ids), chunk)])
        claimed += len(ids)
        if len(ids) < settings.OUTBOX_BATCH_SIZE:
            break
    return claimed


@shared_task
def outbox_send(message_ids: list[int]) -> dict[str, int]:
    return services.outbox_send_batch(message_ids=message_ids)


@shared_task
def representative_agendas() -> int:
    """Hourly: each representative's daily agenda, once a day, in the morning of their zone."""
    return agendas_enqueue(now=timezone.now())
