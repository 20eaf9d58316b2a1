"""Webhooks to a real HTTP receiver on loopback: signed, retried after a 500, never duplicated
on the receiver's side (stable event id)."""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from notifications.models import MessageStatus, OutboxMessage, WebhookEndpoint
from tests.helpers import send_due

pytestmark = pytest.mark.django_db
SECRET = "whsec-test-0123456789"


class Receiver:
    """The marketplace's side, as its README example does it: verify, de-duplicate, answer."""

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.requests: list[dict] = []
        self.processed: dict[str, dict] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers["Webhook-Timestamp"]
                expected = "sha256=" + hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body,
                                                hashlib.sha256).hexdigest()
                valid = hmac.compare_digest(expected, self.headers["Webhook-Signature"])
                receiver.requests.append({"id": self.headers["Webhook-Id"], "valid": valid})
                if not valid:
                    self.send_response(401)
                elif receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    self.send_response(500)
                else:
                    event = json.loads(body)
                    receiver.processed.setdefault(event["id"], event)  # de-duplicate on the event id
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver(fail_first=1)
    yield receiver
    receiver.close()


def test_case_created_is_signed_retried_after_a_500_and_not_duplicated(receiver, marketplace, now, frozen_clock):
    from tests.verification.test_marketplace_api import flag_body

    WebhookEndpoint.objects.create(name="marketplace", url=receiver.url, secret=SECRET, events=["case.created"])
    created = marketplace.post("/api/v1/cases", flag_body(), format="json").json()
    assert send_due(now)["retry"] == 1  # the receiver answered 500
    delivery = OutboxMessage.objects.get(kind="webhook:case.created")
    assert delivery.status == MessageStatus.PENDING and "HTTP 500" in delivery.last_error
    assert send_due(now + timedelta(seconds=60)) == {"sent": 1}
    assert send_due(now + timedelta(hours=1)) == {}
    assert [r["valid"] for r in receiver.requests] == [True, True]
    assert receiver.requests[0]["id"] == receiver.requests[1]["id"]  # the same event, delivered twice
    [event] = receiver.processed.values()  # processed once
    assert event["type"] == "case.created"
    assert event["data"]["case_id"] == created["id"] and event["data"]["external_id"] == "fl-42"
    assert event["data"]["can_submit_proposals"] is True


def test_unsubscribed_events_and_inactive_endpoints_get_nothing(receiver, marketplace, now):
    from tests.verification.test_marketplace_api import flag_body

    WebhookEndpoint.objects.create(name="only frozen", url=receiver.url, secret=SECRET, events=["case.frozen"])
    WebhookEndpoint.objects.create(name="off", url=receiver.url, secret=SECRET, active=False)
    marketplace.post("/api/v1/cases", flag_body(), format="json")
    assert not OutboxMessage.objects.filter(kind__startswith="webhook:").exists()


def test_withdrawal_webhook_is_not_skipped_with_the_cases_other_messages(receiver, marketplace, now,
                                                                        frozen_clock):
    from tests.verification.test_marketplace_api import flag_body

    receiver.fail_first = 0
    WebhookEndpoint.objects.create(name="all", url=receiver.url, secret=SECRET)
    created = marketplace.post("/api/v1/cases", flag_body(), format="json").json()
    marketplace.post(f"/api/v1/cases/{created['id']}/withdraw", {"reason": "duplicate"}, format="json")
    send_due(now + timedelta(minutes=1))
    assert sorted(e["type"] for e in receiver.processed.values()) == ["case.created", "case.withdrawn"]
    withdrawn = next(e for e in receiver.processed.values() if e["type"] == "case.withdrawn")
    assert withdrawn["data"]["status"] == "WITHDRAWN" and withdrawn["data"]["reason"] == "duplicate"
