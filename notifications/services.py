"""The outbox: every write. Messages are rows written in the caller's transaction; the beat sweep
claims due rows with SKIP LOCKED; the send step re-checks that the message still holds, commits
the start of its attempt (only one worker can start it), hands it over and records the outcome at
once, so a redelivered or duplicated task sends nothing twice, and a worker that dies mid-delivery
leaves a trace. Retries are the same row due again later (exponential backoff), then FAILED."""

import logging
import smtplib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from scheduling.services.calendar_writes import booking_calendar_write

from .keys import MessageKey, booking_revision, booking_topic
from .kinds import KINDS, Kind, kind_for
from .models import MessageStatus, OutboxMessage, WebhookEndpoint
from .rendering import render_email
from .selectors import webhook_endpoints_active
from .webhooks import WebhookFailed, event_id, webhook_deliver

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """One message to write: what `outbox_enqueue` takes, for `outbox_enqueue_many`."""

    key: MessageKey
    recipient: str
    due_at: datetime
    case_ref: UUID | None = None
    context: dict[str, Any] | None = None


def outbox_enqueue_many(*, messages: Iterable[Outgoing], now: datetime) -> None:
    """Write these messages in the caller's transaction, in one statement; a message with a key
    that exists already is not written again (a retried change writes nothing twice)."""
    rows = []
    for message in messages:
        assert message.key.kind.split(":", 1)[0] in KINDS, f"unknown message kind {message.key.kind}"
        rows.append(OutboxMessage(kind=message.key.kind, topic=message.key.topic, revision=message.key.revision,
                                  case_ref=message.case_ref, recipient=message.recipient,
                                  context=message.context or {}, due_at=message.due_at, created_at=now,
                                  updated_at=now))
    if len(rows) > FEW:
        OutboxMessage.objects.bulk_create(rows, ignore_conflicts=True)
    elif rows:
        _insert_few(rows)


FEW = 8  # rows of one change: INSERT ... VALUES, not bulk_create's UNNEST (for the sweeps' batches)


def _insert_few(rows: list[OutboxMessage]) -> None:
    """`OutboxMessage.objects.bulk_create(rows, ignore_conflicts=True)`, as one INSERT ... VALUES:
    built in about half the time of Django's bulk form on PostgreSQL for a few rows."""
    fields = [field for field in OutboxMessage._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    row = f"({', '.join(['%s'] * len(fields))})"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(OutboxMessage._meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"  # noqa: S608
            f" VALUES {', '.join([row] * len(rows))} ON CONFLICT DO NOTHING",
            [field.get_db_prep_save(getattr(message, field.attname), connection) for message in rows
             for field in fields],
        )


def outbox_enqueue(
    *, key: MessageKey, recipient: str, due_at: datetime, now: datetime, case_ref: UUID | None = None,
    context: dict[str, Any] | None = None,
) -> None:
    """Write a message to send at `due_at`, in the caller's transaction; a message with this key
    exists once (a retried change writes nothing twice)."""
    outbox_enqueue_many(messages=[Outgoing(key=key, recipient=recipient, due_at=due_at, case_ref=case_ref,
                                           context=context)], now=now)


def webhook_messages(*, event: str, case_ref: UUID, revision: str, data: dict[str, Any], now: datetime,
                     endpoints: Iterable[WebhookEndpoint]) -> list[Outgoing]:
    """One message per endpoint of `endpoints` subscribed to `event`; every one carries the same
    event id (`Webhook-Id`), derived from the event, the case and its revision."""
    the_event_id = event_id(event=event, case_ref=case_ref, revision=revision)
    return [
        Outgoing(key=MessageKey(f"webhook:{event}", f"webhook:{endpoint.pk}:{case_ref}", revision),
                 case_ref=case_ref, recipient=endpoint.url, due_at=now,
                 context={"endpoint_id": endpoint.pk, "event_id": the_event_id,
                          "body": {"id": the_event_id, "type": event, "created_at": now.isoformat(), "data": data}})
        for endpoint in endpoints if endpoint.wants(event)
    ]


def calendar_write_enqueue(*, booking_id, representative_id: int, sequence: int, now: datetime) -> None:
    """Write the booking (as it will be when sent) into its representatives' calendars: one
    message per version of the booking; a newer one replaces a waiting older one."""
    outbox_enqueue(key=MessageKey("calendar_write", booking_topic(booking_id), booking_revision(sequence)),
                   recipient=f"calendar of representative {representative_id}", due_at=now, now=now,
                   context={"representative_id": representative_id})


def webhook_publish(*, event: str, case_ref: UUID, revision: str, data: dict[str, Any], now: datetime) -> None:
    """One outbox row per endpoint subscribed to `event`, in the caller's transaction (one
    statement)."""
    outbox_enqueue_many(messages=webhook_messages(event=event, case_ref=case_ref, revision=revision, data=data,
                                                  now=now, endpoints=webhook_endpoints_active()), now=now)


def outbox_skip_pending(
    *, reason: str, now: datetime, case_ref: UUID | None = None, topic: str | None = None,
    kinds: Iterable[str] | None = None, case_refs: list[UUID] | None = None,
) -> int:
    """Messages made obsolete by a change (a cancelled booking, a closed case) are never sent.
    Webhooks are never skipped: the marketplace always hears what happened. `case_refs`: the
    messages of several cases, in one statement."""
    if case_refs is not None and not case_refs:
        return 0
    pending = OutboxMessage.objects.filter(status=MessageStatus.PENDING).exclude(kind__startswith="webhook:")
    if case_ref is not None:
        pending = pending.filter(case_ref=case_ref)
    if case_refs is not None:
        pending = pending.filter(case_ref__in=case_refs)
    if topic is not None:
        pending = pending.filter(topic=topic)
    if kinds is not None:
        match = Q()
        for kind in kinds:
            match |= Q(kind=kind) | Q(kind__startswith=f"{kind}:")
        pending = pending.filter(match)
    return pending.update(status=MessageStatus.SKIPPED, skip_reason=reason, updated_at=now)


def outbox_supersede_pending_webhooks(*, case_ref: UUID, event: str, reason: str, now: datetime) -> int:
    """A newer event of the same type about the case replaces the ones not yet sent (rapid churn:
    book, cancel, book again): the marketplace hears the latest state once, not every step."""
    return OutboxMessage.objects.filter(status=MessageStatus.PENDING, case_ref=case_ref,
                                        kind=f"webhook:{event}").update(
        status=MessageStatus.SKIPPED, skip_reason=reason, updated_at=now)


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
    """Claim due messages for sending, and take back messages whose claim or attempt has expired.

    A claim is short (OUTBOX_CLAIM_LEASE_SECONDS): a send task lost with the broker's queue is
    replaced at the next sweep. A worker that picks the task up holds its messages for
    OUTBOX_LEASE_SECONDS (`outbox_send_batch`). An attempt still open when that expires means its
    worker died during the delivery: the message may have been delivered, which is counted in
    `uncertain_attempts`; it is sent again (same Message-ID) unless it has used all its attempts."""
    # expired claims first: they fell due before anything due now (after a broker loss, all of them)
    expired = list(
        OutboxMessage.objects.select_for_update(skip_locked=True)
        .filter(status=MessageStatus.SENDING, lease_until__lt=now)
        .order_by("lease_until")
        .values_list("pk", flat=True)[:limit]
    )
    due = _attempts_lost(message_ids=expired, now=now) if expired else []
    if len(expired) < limit:
        due += list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(status=MessageStatus.PENDING, due_at__lte=now)
            .order_by("due_at")
            .values_list("pk", flat=True)[: limit - len(expired)]
        )
    OutboxMessage.objects.filter(pk__in=due).update(
        status=MessageStatus.SENDING,
        lease_until=now + timedelta(seconds=settings.OUTBOX_CLAIM_LEASE_SECONDS),
        updated_at=now,
    )
    return due


_LOST = ("The worker stopped during a delivery before its outcome was recorded: it may have been delivered. "
         "It is sent again with the same Message-ID (Webhook-Id), so the recipient can recognise a copy.")


def _attempts_lost(*, message_ids: list[int], now: datetime) -> list[int]:
    """Expired SENDING rows (locked by the caller): those with an open attempt are counted as
    uncertain, and FAILED if they have no attempt left. Returns the ones to claim again."""
    lost = OutboxMessage.objects.filter(pk__in=message_ids, attempt_started_at__isnull=False)
    spent = set(lost.filter(attempts__gte=settings.OUTBOX_MAX_ATTEMPTS).values_list("pk", flat=True))
    lost.update(uncertain_attempts=F("uncertain_attempts") + 1, attempt_started_at=None, last_error=_LOST,
                updated_at=now)
    OutboxMessage.objects.filter(pk__in=spent).update(status=MessageStatus.FAILED, lease_until=None)
    return [pk for pk in message_ids if pk not in spent]


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=settings.OUTBOX_RETRY_BASE_SECONDS * 2 ** (attempts - 1))


# The send step's statements, hand-written: they run once per message, and building them with the
# ORM was most of a send's cost (bench/outbox_dispatch.py). Each is one autocommit statement whose
# WHERE says whose turn it is, so no transaction stays open while the mail server is spoken to.
# Begin an attempt: only on a claimed row nobody is attempting (nor locking) right now.
_BEGIN = (
    "UPDATE notifications_outboxmessage SET attempts = attempts + 1, attempt_started_at = %s, lease_until = %s,"
    " updated_at = %s WHERE id = (SELECT id FROM notifications_outboxmessage WHERE id = %s AND status = 'SENDING'"
    " AND attempt_started_at IS NULL FOR UPDATE SKIP LOCKED) RETURNING attempts"
)
_BEGIN_WITHOUT_SKIP_LOCKED = (  # SQLite: one writer at a time, the WHERE alone decides
    "UPDATE notifications_outboxmessage SET attempts = attempts + 1, attempt_started_at = %s, lease_until = %s,"
    " updated_at = %s WHERE id = %s AND status = 'SENDING' AND attempt_started_at IS NULL RETURNING attempts"
)
_SKIP = (
    "UPDATE notifications_outboxmessage SET status = 'SKIPPED', skip_reason = %s, lease_until = NULL, updated_at = %s"
    " WHERE id = %s AND status = 'SENDING' AND attempt_started_at IS NULL"
)
# The outcome of an attempt: only while it is still this attempt (`attempts` is its number).
_SENT = (
    "UPDATE notifications_outboxmessage SET status = 'SENT', sent_at = %s, lease_until = NULL,"
    " attempt_started_at = NULL, updated_at = %s"
    " WHERE id = %s AND status = 'SENDING' AND attempts = %s AND attempt_started_at IS NOT NULL"
)
_FAILED = (
    "UPDATE notifications_outboxmessage SET status = %s, due_at = %s, last_error = %s, lease_until = NULL,"
    " attempt_started_at = NULL, uncertain_attempts = uncertain_attempts + %s, updated_at = %s"
    " WHERE id = %s AND status = 'SENDING' AND attempts = %s AND attempt_started_at IS NOT NULL"
)


def _execute(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else [()] * cursor.rowcount


def _at(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _attempt_begin(message: OutboxMessage, *, now: datetime) -> bool:
    """Record, committed, that a delivery of this message begins now; False if it is not this
    worker's to deliver (sent, skipped, or another worker is attempting or locking it)."""
    sql = _BEGIN if connection.features.has_select_for_update_skip_locked else _BEGIN_WITHOUT_SKIP_LOCKED
    rows = _execute(sql, [_at(now), _at(now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)), _at(now),
                          message.pk])
    if not rows:
        return False
    [(message.attempts,)] = rows
    return True


class _NotDelivered(Exception):
    """Rendering, a hook or the receiver failed before the message was handed over: safe to retry."""


def _hand_over_and_record(message: OutboxMessage, hand_over: Callable[[], object], *, now: datetime) -> str:
    """Hand the message over and record it as sent, with nothing between the receiver's acceptance
    and the commit of the record but one database round trip: a second copy is possible only if the
    worker dies inside that window (measured by bench/outbox_faults.py)."""
    try:
        hand_over()
    except Exception as error:
        raise _NotDelivered(error) from error
    if not _execute(_SENT, [_at(now), _at(now), message.pk, message.attempts]):
        logger.error("outbox message %s was delivered by attempt %s after its lease expired; another attempt "
                     "owns it now and may deliver a copy", message.pk, message.attempts)
    return "sent"


def _prepare(message: OutboxMessage, kind: Kind, *, now: datetime, mail_connection) -> Callable[[], object]:
    """What hands the message over: the rendered email's send, or the webhook's POST."""
    if kind.channel == "webhook":
        return partial(webhook_deliver, message, now=now)
    if kind.channel == "calendar":
        return partial(booking_calendar_write, booking_id=message.topic.removeprefix(booking_topic("")), now=now)
    email = render_email(message, now=now)
    email.connection = mail_connection
    return email.send


def _send(message: OutboxMessage, *, now: datetime, mail_connection) -> str:
    kind = kind_for(message)
    reason = kind.still_holds(message, now) if kind.still_holds else None
    if reason:
        return "skipped" if _execute(_SKIP, [reason[:200], _at(now), message.pk]) else "not_mine"
    try:
        hand_over, problem = _prepare(message, kind, now=now, mail_connection=mail_connection), None
    except Exception as error:  # noqa: BLE001 - recorded below as this attempt's failure
        hand_over, problem = None, error
    if not _attempt_begin(message, now=now):
        return "not_mine"
    try:
        if problem is not None:
            raise _NotDelivered(problem) from problem
        return _hand_over_and_record(message, hand_over, now=now)
    except _NotDelivered as failure:
        error = failure.__cause__
    # Only a failed hand-over gets here (a failure to record one that succeeded propagates, and its
    # open attempt is taken back after the lease as uncertain). It is retried; one whose answer was
    # lost may have arrived all the same, and is counted so.
    logger.warning("outbox message %s attempt %s failed: %s", message.pk, message.attempts, error)
    failed = message.attempts >= settings.OUTBOX_MAX_ATTEMPTS
    status = MessageStatus.FAILED if failed else MessageStatus.PENDING
    due_at = message.due_at if failed else now + _backoff(message.attempts)
    _execute(_FAILED, [status.value, _at(due_at), f"{type(error).__name__}: {error}"[:2000],
                       int(_may_have_arrived(error)), _at(now), message.pk, message.attempts])
    return "failed" if failed else "retry"


def _may_have_arrived(error: BaseException) -> bool:
    """A refusal is an answer; a connection lost or timed out once the message was on its way is
    not, and may hide an acceptance (the server stored it, its "250" never came back)."""
    if isinstance(error, WebhookFailed):
        return error.may_have_arrived
    if isinstance(error, ConnectionRefusedError | smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused):
        return False
    return isinstance(error, OSError)  # SMTPServerDisconnected, timeouts, resets


def message_send(*, message_id: int, now: datetime, mail_connection=None) -> str:
    """Send one claimed message. Returns what happened: sent, skipped, retry, failed or not_mine.

    Not one transaction, on purpose: the attempt is committed before the mail server is spoken to
    (so a worker that dies leaves a trace), and each step's WHERE decides whose turn it is, so a
    redelivered or duplicated task never delivers a message twice. Call it outside a transaction."""
    message = OutboxMessage.objects.filter(pk=message_id, status=MessageStatus.SENDING,
                                           attempt_started_at__isnull=True).first()
    if message is None:
        return "not_mine"
    return _send(message, now=now, mail_connection=mail_connection)


def _pick_up(message_ids: list[int], *, now: datetime) -> list[OutboxMessage]:
    """A worker took the send task: hold its messages for OUTBOX_LEASE_SECONDS instead of the short
    claim, so they are not handed to another worker while this one works through them. Messages
    sent, skipped, or being attempted or locked elsewhere are left out."""
    with transaction.atomic():
        messages = {
            message.pk: message
            for message in OutboxMessage.objects.select_for_update(skip_locked=True).filter(
                pk__in=message_ids, status=MessageStatus.SENDING, attempt_started_at__isnull=True)
        }
        OutboxMessage.objects.filter(pk__in=messages).update(
            lease_until=now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS), updated_at=now)
    return [messages[pk] for pk in message_ids if pk in messages]


def outbox_send_batch(*, message_ids: list[int]) -> dict[str, int]:
    """Send claimed messages over one SMTP connection."""
    messages = _pick_up(message_ids, now=timezone.now())
    outcomes: dict[str, int] = {"not_mine": len(message_ids) - len(messages)} if len(messages) < len(message_ids) \
        else {}
    if not messages:
        return outcomes
    with get_connection() as mail_connection:
        for message in messages:
            outcome = _send(message, now=timezone.now(), mail_connection=mail_connection)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


@transaction.atomic
def message_retry(*, message_id: int, now: datetime) -> None:
    """Admin: send a FAILED message again now."""
    OutboxMessage.objects.filter(pk=message_id, status=MessageStatus.FAILED).update(
        status=MessageStatus.PENDING, due_at=now, attempts=0, updated_at=now)


_DONE = (MessageStatus.SENT, MessageStatus.SKIPPED, MessageStatus.FAILED)


def outbox_anonymise(*, case_refs: Iterable[UUID], now: datetime) -> int:
    """Retention or an erase request: emails still waiting for these cases are never sent, and
    every message that is done (sent, skipped, failed) loses its recipient and content; its kind,
    status, times and attempts stay. A message a worker is sending right now, or a webhook still
    on its way, keeps its content until it is done (the retention task comes back to it)."""
    case_refs = list(case_refs)
    OutboxMessage.objects.filter(case_ref__in=case_refs, status=MessageStatus.PENDING).exclude(
        kind__startswith="webhook:").update(status=MessageStatus.SKIPPED, skip_reason="personal data erased",
                                            updated_at=now)
    return (OutboxMessage.objects.filter(case_ref__in=case_refs, status__in=_DONE)
            .exclude(recipient="", context={}).update(recipient="", context={}, updated_at=now))
