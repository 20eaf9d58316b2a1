"""Idempotency-Key on the marketplace API: a retried request gets the first response back.

The record is inserted before the work, inside the same transaction, so a concurrent retry with
the same key waits on the unique index and then replays the committed response. A request that
fails writes nothing, the record included, so it can simply be retried. Keys are remembered for
`KEEP`; a daily task forgets older ones.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.response import Response

from scheduling.errors import Conflict, DomainError
from verification.models import IdempotencyRecord

HEADER = "Idempotency-Key"
KEEP = timedelta(days=7)


class IdempotencyKeyInvalid(DomainError):
    code = "idempotency_key_invalid"
    detail = _("Idempotency-Key must be 1 to 255 visible ASCII characters.")


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    detail = _("This Idempotency-Key was already used for a different request.")


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return Response(record.response_body, status=record.status_code, headers={"Idempotent-Replayed": "true"})


def idempotent(request, handler: Callable[[], Response]) -> Response:
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not (0 < len(key) <= 255 and key.isascii() and key.isprintable()):
        raise IdempotencyKeyInvalid()
    fingerprint = _fingerprint(request)
    # no look-up first: a key seen before fails the insert on the unique index (after waiting for
    # a retry still in flight) and is replayed below; a new key, nearly every request, saves a query
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                api_key=request.auth,
                key=key,
                fingerprint=fingerprint,
                status_code=0,
                response_body={},
                created_at=timezone.now(),
            )
            response = handler()
            record.status_code = response.status_code
            record.response_body = response.data
            record.save(update_fields=["status_code", "response_body"])
    except IntegrityError:
        first = IdempotencyRecord.objects.filter(api_key=request.auth, key=key).first()
        if first is None:  # not a key race: the work itself failed
            raise
        return _replay(first, fingerprint)
    return response


def idempotency_records_prune(*, now: datetime) -> int:
    """Forget keys older than `KEEP`: a retry comes within minutes, not weeks."""
    deleted, _kinds = IdempotencyRecord.objects.filter(created_at__lt=now - KEEP).delete()
    return deleted
