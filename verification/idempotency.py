"""Idempotency-Key on the marketplace API: a retried request gets the first response back.

The record of the key is written with the finished response at the end of the request's own
transaction, in one statement. A retry (or a concurrent duplicate) with the same key runs in a
transaction of its own and either fails on the domain's own rules (the case is open already, the
case was withdrawn already) or, having done its work, fails to insert the key: the unique index
makes it wait for the first request's commit. Either way its transaction is rolled back, so its
work is undone, and the recorded response is replayed (the same key with a different body: 409).
A request that fails writes nothing, the record included, so it can simply be retried. Keys are
remembered for `KEEP`; a daily task forgets older ones.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils import timezone
from rest_framework.response import Response

from verification.errors import IdempotencyKeyInvalid, IdempotencyKeyReused
from verification.models import IdempotencyRecord
from verification.transactions import whole

HEADER = "Idempotency-Key"
KEEP = timedelta(days=7)


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
    # no look-up first and no record before the work: a new key, nearly every request, costs one
    # INSERT at the end; a key seen before is found only when the request fails (below)
    try:
        with whole():  # an error leaves the block: the services inside take no savepoint
            response = handler()
            IdempotencyRecord.objects.create(
                api_key=request.auth,
                key=key,
                fingerprint=fingerprint,
                status_code=response.status_code,
                response_body=response.data,
                created_at=timezone.now(),
            )
    except Exception:
        # rolled back: a key recorded by an earlier (or concurrent, now committed) request is
        # replayed, whatever stopped this one (the unique index, or the work itself refused)
        first = IdempotencyRecord.objects.filter(api_key=request.auth, key=key).first()
        if first is None:  # the work itself failed: nothing is remembered
            raise
        return _replay(first, fingerprint)
    return response


def idempotency_records_prune(*, now: datetime) -> int:
    """Forget keys older than `KEEP`: a retry comes within minutes, not weeks."""
    deleted, _kinds = IdempotencyRecord.objects.filter(created_at__lt=now - KEEP).delete()
    return deleted
