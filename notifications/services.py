"""The outbox: every write. Messages are rows written in the caller's transaction; the beat sweep
claims due rows with SKIP LOCKED; the send step locks its row, re-checks that the message still
holds, sends, and records the outcome, so a redelivered or duplicated task sends nothing twice.
Retries are the same row due again later (exponential backoff), then FAILED."""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from .kinds import KINDS, kind_for
from .models import MessageStatus, OutboxMessage
from .rendering import render_email
from .webhooks import webhook_deliver

logger = logging.getLogger(__name__)


def outbox_enqueue(
    *, kind: str, subject: str, recipient: str, due_at: datetime, now: datetime, version: int = 0,
    case_ref: UUID | None = None, context: dict[str, Any] | None = None,
) -> None:
    """Write a message to send at `due_at`; a message for (kind, subject, version) exists once."""
    assert kind.split(":", 1)[0] in KINDS, f"unknown message kind {kind}"
    OutboxMessage.objects.bulk_create(
        [OutboxMessage(kind=kind, subject=subject, version=version, case_ref=case_ref, recipient=recipient,
                       context=context or {}, due_at=due_at, created_at=now, updated_at=now)],
        ignore_conflicts=True,
    )


def outbox_skip_pending(
    *, reason: str, now: datetime, case_ref: UUID | None = None, subject: str | None = None,
    kinds: Iterable[str] | None = None,
) -> int:
    """Messages made obsolete by a change (a cancelled booking, a closed case) are never sent.
    Webhooks are never skipped: the marketplace always hears what happened."""
    pending = OutboxMessage.objects.filter(status=MessageStatus.PENDING).exclude(kind__startswith="webhook:")
    if case_ref is not None:
        pending = pending.filter(case_ref=case_ref)
    if subject is not None:
        pending = pending.filter(subject=subject)
    if kinds is not None:
        match = Q()
        for kind in kinds:
            match |= Q(kind=kind) | Q(kind__startswith=f"{kind}:")
        pending = pending.filter(match)
    return pending.update(status=MessageStatus.SKIPPED, skip_reason=reason, updated_at=now)


@transaction.atomic
def outbox_context_update_pending(*, case_ref: UUID, key: str, value: Any, now: datetime) -> int:
    """A fact the waiting messages carry changed (the freelancer's link was replaced): every
    message about the case still waiting to be sent (not webhooks) carries the new value. Messages
    already claimed by a worker are being sent as this happens and keep what they had."""
    pending = list(
        OutboxMessage.objects.select_for_update()
        .filter(case_ref=case_ref, status=MessageStatus.PENDING, context__has_key=key)
        .exclude(kind__startswith="webhook:")
    )
    for message in pending:
        message.context = {**message.context, key: value}
        message.updated_at = now
    OutboxMessage.objects.bulk_update(pending, ["context", "updated_at"])
    return len(pending)


@transaction.atomic
def outbox_claim_due(*, now: datetime, limit: int) -> list[int]:
    """Claim due messages (and ones whose worker died: expired leases) for sending."""
    due = list(
        OutboxMessage.objects.select_for_update(skip_locked=True)
        .filter(status=MessageStatus.PENDING, due_at__lte=now)
        .order_by("due_at")
        .values_list("pk", flat=True)[:limit]
    )
    if len(due) < limit:
        due += list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(status=MessageStatus.SENDING, lease_until__lt=now)
            .order_by("lease_until")
            .values_list("pk", flat=True)[: limit - len(due)]
        )
    OutboxMessage.objects.filter(pk__in=due).update(
        status=MessageStatus.SENDING,
        lease_until=now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS),
        updated_at=now,
    )
    return due


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=settings.OUTBOX_RETRY_BASE_SECONDS * 2 ** (attempts - 1))


# The send step's two statements, hand-written: they run once per message, and building them with
# the ORM was most of a send's cost (bench/outbox_dispatch.py).
_LOCK_CLAIMED = "SELECT * FROM notifications_outboxmessage WHERE id = %s AND status = %s"
_OUTCOME = ("status", "attempts", "due_at", "sent_at", "lease_until", "skip_reason", "last_error", "updated_at")
_RECORD_OUTCOME = (
    "UPDATE notifications_outboxmessage SET status = %s, attempts = %s, due_at = %s, sent_at = %s,"
    " lease_until = %s, skip_reason = %s, last_error = %s, updated_at = %s WHERE id = %s"
)


def _lock_claimed(message_id: int) -> OutboxMessage | None:
    """The claimed row, locked until this transaction ends; None if it is no longer claimed (sent,
    skipped) or another worker holds it right now (SKIP LOCKED)."""
    sql = _LOCK_CLAIMED + (" FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else "")
    return next(iter(OutboxMessage.objects.raw(sql, [message_id, MessageStatus.SENDING])), None)


def _record_outcome(message: OutboxMessage) -> None:
    fields = [OutboxMessage._meta.get_field(name) for name in _OUTCOME]
    with connection.cursor() as cursor:
        cursor.execute(_RECORD_OUTCOME, [f.get_db_prep_save(getattr(message, f.attname), connection) for f in fields]
                       + [message.pk])


@transaction.atomic
def message_send(*, message_id: int, now: datetime, mail_connection=None) -> str:
    """Send one claimed message. Returns what happened: sent, skipped, retry, failed or not_mine."""
    message = _lock_claimed(message_id)
    if message is None:
        return "not_mine"  # already sent or skipped, or another worker holds it right now
    kind = kind_for(message)
    reason = kind.still_holds(message, now) if kind.still_holds else None
    message.lease_until, message.updated_at = None, now
    if reason:
        message.status, message.skip_reason = MessageStatus.SKIPPED, reason
        _record_outcome(message)
        return "skipped"
    message.attempts += 1
    try:
        if kind.channel == "webhook":
            webhook_deliver(message, now=now)
        else:
            email = render_email(message, now=now)
            email.connection = mail_connection
            email.send()
    except Exception as error:  # noqa: BLE001 - any failure to deliver is recorded on the row
        logger.warning("outbox message %s attempt %s failed: %s", message.pk, message.attempts, error)
        message.last_error = f"{type(error).__name__}: {error}"[:2000]
        if message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
            message.status = MessageStatus.FAILED
        else:
            message.status, message.due_at = MessageStatus.PENDING, now + _backoff(message.attempts)
        _record_outcome(message)
        return "failed" if message.status == MessageStatus.FAILED else "retry"
    message.status, message.sent_at = MessageStatus.SENT, now
    _record_outcome(message)
    for hook in kind.after_sent:
        hook(message, now)
    return "sent"


def outbox_send_batch(*, message_ids: list[int]) -> dict[str, int]:
    """Send claimed messages over one SMTP connection."""
    outcomes: dict[str, int] = {}
    with get_connection() as mail_connection:
        for message_id in message_ids:
            outcome = message_send(message_id=message_id, now=timezone.now(), mail_connection=mail_connection)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


@transaction.atomic
def message_retry(*, message_id: int, now: datetime) -> None:
    """Admin: send a FAILED message again now."""
    OutboxMessage.objects.filter(pk=message_id, status=MessageStatus.FAILED).update(
        status=MessageStatus.PENDING, due_at=now, attempts=0, updated_at=now)
