"""A periodic task records when it last finished a run: one cheap read for /metrics and the
Operations pages (an alert when the deadline sweep stops running)."""

from datetime import datetime

from django.db import transaction

from verification.models import TaskHeartbeat


@transaction.atomic
def heartbeat_record(*, name: str, now: datetime) -> None:
    TaskHeartbeat.objects.update_or_create(name=name, defaults={"finished_at": now})
