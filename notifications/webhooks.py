"""Signed webhooks to the marketplace, delivered through the outbox.

Headers: `Webhook-Id` (stable per event: de-duplicate on it), `Webhook-Timestamp` (Unix seconds)
and `Webhook-Signature: sha256=<hex>`, the HMAC-SHA256 with the endpoint's secret over
`<timestamp>.<body>`. Any answer but 2xx, or no answer within 10 s, is retried with backoff.
"""

import hashlib
import hmac
import json
import urllib.error
import urllib.request
import uuid
from datetime import datetime

from .models import OutboxMessage, WebhookEndpoint, webhook_url_refusal

_NAMESPACE = uuid.UUID("7d5bb0c2-4b0e-4a43-9d43-3e1c7b8f2a10")
TIMEOUT_SECONDS = 10


class WebhookFailed(Exception):
    def __init__(self, detail: str, *, may_have_arrived: bool = False):
        super().__init__(detail)
        self.may_have_arrived = may_have_arrived  # no answer: the receiver may have stored it


def event_id(*, event: str, case_ref: uuid.UUID, revision: str) -> str:
    """Stable for an event: every retry (and every endpoint) carries the same Webhook-Id."""
    return str(uuid.uuid5(_NAMESPACE, f"{event}:{case_ref}:{revision}"))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def endpoint_active(message: OutboxMessage, now: datetime) -> str | None:
    endpoint = WebhookEndpoint.objects.filter(pk=message.context["endpoint_id"]).first()
    return None if endpoint and endpoint.active else "the endpoint was removed or turned off"


def webhook_deliver(message: OutboxMessage, *, now: datetime) -> None:
    endpoint = WebhookEndpoint.objects.get(pk=message.context["endpoint_id"])
    refusal = webhook_url_refusal(endpoint.url)
    if refusal:  # an endpoint saved before https was required, or the setting changed: never sent in clear
        raise WebhookFailed(f"not sent to {endpoint.url}: {refusal}")
    body = json.dumps(message.context["body"], separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(now.timestamp()))
    request = urllib.request.Request(  # noqa: S310 - the URL is an admin-configured https/http endpoint
        endpoint.url, data=body, method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "verification-calls-webhooks/1",
                 "Webhook-Id": message.context["event_id"], "Webhook-Timestamp": timestamp,
                 "Webhook-Signature": sign(endpoint.secret, timestamp, body)},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as error:
        raise WebhookFailed(f"HTTP {error.code} from {endpoint.url}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        refused = isinstance(getattr(error, "reason", error), ConnectionRefusedError)
        raise WebhookFailed(f"no answer from {endpoint.url}: {error}", may_have_arrived=not refused) from None
    if not 200 <= status < 300:
        raise WebhookFailed(f"HTTP {status} from {endpoint.url}")
