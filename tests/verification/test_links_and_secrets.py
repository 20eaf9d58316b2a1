"""Secrets and links: freelancer links carry their issue time and expire; the expired-link page
mails a fresh link on request (rate-limited in the cache); the presence code needs a server key;
tokens stay out of logs; webhooks are https only; seed_demo never runs under production settings."""

import io
import logging
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from notifications.models import OutboxMessage, WebhookEndpoint
from notifications.webhooks import WebhookFailed, webhook_deliver
from scheduling.models import Booking
from tests.factories import CaseFactory
from tests.helpers import make_reps, send_due
from verification.links import LinkExpired, LinkInvalid, case_from_token, freelancer_token
from verification.models import AuditEvent, Case, CaseStatus
from verify_site.logfilters import TokenFilter, mask_tokens

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def frozen_case(now):
    return CaseFactory(status=CaseStatus.FROZEN, frozen_at=now)


# --- links that expire ---------------------------------------------------------------------------

def test_a_link_issued_730_days_ago_for_a_still_frozen_case_no_longer_opens_it(client, now):
    case = frozen_case(now)
    old = freelancer_token(case, now=now - timedelta(days=730))
    with pytest.raises(LinkExpired) as expired:
        case_from_token(old, now=now)
    assert expired.value.renewable and expired.value.case == case
    with time_machine.travel(now, tick=False):
        page = client.get(f"/c/{old}/")
    assert page.status_code == 410
    body = page.content.decode()
    assert "This link has expired" in body and f"/c/{old}/new-link/" in body  # the fresh-link button
    assert "Hello" not in body  # nothing of the case is shown


def test_a_link_works_for_the_policys_days_then_expires(now):
    case = CaseFactory()
    token = freelancer_token(case, now=now)
    assert case_from_token(token, now=now + timedelta(days=case.policy.link_days) - timedelta(seconds=1)) == case
    with pytest.raises(LinkExpired):
        case_from_token(token, now=now + timedelta(days=case.policy.link_days, seconds=1))


def test_a_link_signed_before_links_had_an_issue_time_fails_cleanly_as_expired(client, now):
    case = CaseFactory()
    legacy = signing.Signer(salt="verification.freelancer-link").sign(f"{case.id.hex}.{case.link_nonce}")
    with pytest.raises(LinkExpired):
        case_from_token(legacy, now=now)
    assert client.get(f"/c/{legacy}/").status_code == 410


def test_an_expired_link_is_refused_by_the_api_with_a_401_and_a_stable_code(now):
    from rest_framework.test import APIClient

    case = CaseFactory()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {freelancer_token(case, now=now - timedelta(days=400))}")
    response = api.get("/api/v1/case")
    assert response.status_code == 401 and response.json()["code"] == "link_expired"


def test_a_tampered_link_is_invalid_not_expired(now):
    case = CaseFactory()
    token = freelancer_token(case, now=now)
    with pytest.raises(LinkInvalid):
        case_from_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB"), now=now)


# --- a fresh link on request -----------------------------------------------------------------------

def renew(client, token):
    return client.post(f"/c/{token}/new-link/")


def test_the_expired_link_page_mails_a_fresh_link_to_the_address_on_record(client, now):
    case = frozen_case(now)
    old = freelancer_token(case, now=now - timedelta(days=730))
    with time_machine.travel(now, tick=False):
        response = renew(client, old)
    assert response.status_code == 200 and "A new link is on its way" in response.content.decode()
    [message] = OutboxMessage.objects.filter(case_ref=case.id, kind="new_link")
    assert message.recipient == case.freelancer.email
    assert AuditEvent.objects.filter(case=case, action="link_renewed", actor="freelancer").count() == 1
    from django.core import mail

    send_due(now + timedelta(seconds=1))
    [email] = [m for m in mail.outbox if "new link" in m.subject]
    fresh = email.body.split("/c/")[1].split("/")[0]
    assert case_from_token(fresh, now=now + timedelta(seconds=2)) == Case.objects.get(pk=case.pk)
    with pytest.raises(LinkInvalid):  # the old one is revoked, not only expired
        case_from_token(old, now=now)


@override_settings(LINK_RENEWAL_RATE="3/h")
def test_fresh_links_are_rate_limited_per_case_with_a_429(client, now):
    from django.core.cache import caches

    assert type(caches["default"]).__name__ == "RedisCache"  # counted in Redis, shared by every web process
    case = frozen_case(now)
    with time_machine.travel(now, tick=False):
        answers = []
        for _ in range(5):  # each request with an expired link of the case's current nonce
            answers.append(renew(client, freelancer_token(Case.objects.get(pk=case.pk),
                                                          now=now - timedelta(days=60))))
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429, 429]
    assert answers[-1]["Retry-After"] == "3600" and "try again in an hour" in answers[-1].content.decode()
    assert OutboxMessage.objects.filter(case_ref=case.id, kind="new_link").count() == 3
    assert AuditEvent.objects.filter(case=case, action="link_renewed").count() == 3


@override_settings(LINK_RENEWAL_RATE="100/h", LINK_RENEWAL_RATE_PER_ADDRESS="2/h")
def test_fresh_links_are_rate_limited_per_address(client, now):
    cases = [frozen_case(now) for _ in range(3)]
    with time_machine.travel(now, tick=False):
        answers = [renew(client, freelancer_token(c, now=now - timedelta(days=60))).status_code for c in cases]
    assert answers == [200, 200, 429]
    assert OutboxMessage.objects.filter(kind="new_link").count() == 2


def test_no_fresh_link_for_a_forged_token_or_a_case_that_ended_long_ago(client, now):
    assert renew(client, "forged:token:value").status_code == 404
    ended = CaseFactory(status=CaseStatus.VERIFIED, closed_at=now - timedelta(days=400))
    with time_machine.travel(now, tick=False):
        response = renew(client, freelancer_token(ended, now=now - timedelta(days=401)))
    assert response.status_code == 410 and "Your check ended some time ago" in response.content.decode()
    assert not OutboxMessage.objects.filter(kind="new_link").exists()
    assert not AuditEvent.objects.filter(action="link_renewed").exists()


# --- presence code ------------------------------------------------------------------------------

def test_the_presence_code_cannot_be_computed_from_the_join_url(now, frozen_clock):
    from scheduling.ics import presence_code
    from tests.helpers import client_for

    make_reps(1, now=now)
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-02T13:00:00Z"}, format="json")
    booking = Booking.objects.get(case_ref=case.id)
    code = presence_code(booking)
    assert len(code) == 4 and code.isdigit() and presence_code(booking) == code  # stable for the call
    # the join URL carries the join token: the code does not follow from it ...
    booking.join_token = "another-join-token"
    assert presence_code(booking) == code
    # ... it follows from the server key
    codes = set()
    for index in range(20):
        with override_settings(PRESENCE_CODE_KEY=f"key-{index}"):
            codes.add(presence_code(booking))
    assert len(codes) > 1


# --- tokens out of logs ---------------------------------------------------------------------------

def test_tokens_are_masked_in_django_log_records(now):
    token = freelancer_token(CaseFactory(), now=now)
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"%s" %s %s',
                               (f"GET /c/{token}/book/?day=2026-03-02 HTTP/1.1", "200", "512"), None)
    TokenFilter().filter(record)
    line = record.getMessage()
    assert token not in line and "GET /c/…/book/?day=2026-03-02 HTTP/1.1" in line
    assert mask_tokens("/feeds/calendar/abc.def-ghi?x=1") == "/feeds/calendar/…?x=1"
    assert mask_tokens("Not Found: /c/abc:def:ghi/") == "Not Found: /c/…/"


def test_the_gunicorn_access_log_masks_tokens(now):
    from types import SimpleNamespace

    from gunicorn.config import Config

    from verify_site.logfilters import TokenMaskingGunicornLogger

    token = freelancer_token(CaseFactory(), now=now)
    logger = TokenMaskingGunicornLogger(Config())
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/c/{token}/", "SERVER_PROTOCOL": "HTTP/1.1",
               "PATH_INFO": f"/c/{token}/", "QUERY_STRING": "", "HTTP_REFERER": f"https://x/c/{token}/book/",
               "REMOTE_ADDR": "127.0.0.1"}
    atoms = logger.atoms(SimpleNamespace(status="200 OK", sent=10, headers=[]),
                         SimpleNamespace(headers=[("REFERER", f"https://x/c/{token}/")]),
                         environ, timedelta(milliseconds=3))
    line = logger.cfg.access_log_format % atoms
    assert token not in line and "GET /c/…/ HTTP/1.1" in line and "https://x/c/…/book/" in line


# --- webhooks are https -------------------------------------------------------------------------

@pytest.mark.parametrize("url, loopback_allowed, ok", [
    ("https://marketplace.example/hooks", False, True),
    ("http://marketplace.example/hooks", False, False),
    ("http://marketplace.example/hooks", True, False),
    ("http://127.0.0.1:9000/hooks", False, False),
    ("http://127.0.0.1:9000/hooks", True, True),
    ("http://[::1]:9000/hooks", True, True),
    ("http://localhost/hooks", True, True),
    ("ftp://marketplace.example/hooks", True, False),
])
def test_webhook_endpoints_must_be_https_except_loopback_in_development(url, loopback_allowed, ok):
    with override_settings(WEBHOOK_HTTP_LOOPBACK=loopback_allowed):
        endpoint = WebhookEndpoint(name="m", url=url)
        if ok:
            endpoint.full_clean()
        else:
            with pytest.raises(ValidationError, match="https"):
                endpoint.full_clean()


@override_settings(WEBHOOK_HTTP_LOOPBACK=False)
def test_a_plain_http_endpoint_saved_earlier_is_never_sent_to(now):
    endpoint = WebhookEndpoint.objects.create(name="old", url="http://marketplace.example/hooks")
    message = OutboxMessage(kind="webhook:case.created", context={"endpoint_id": endpoint.pk, "event_id": "e",
                                                                  "body": {"x": 1}})
    with pytest.raises(WebhookFailed, match="not sent"):
        webhook_deliver(message, now=now)


# --- seed_demo ------------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [{}, {"force": True}])
def test_seed_demo_refuses_under_production_settings_whatever_the_flag(options):
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", stdout=io.StringIO(), **options)
    assert not User.objects.exists()


@pytest.mark.slow
def test_a_real_gunicorn_keeps_the_token_out_of_its_access_log(tmp_path):
    """gunicorn started as the image starts it (it reads gunicorn.conf.py from the working directory)."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "access.log"
    token = "Y2FzZS1pZC5ub25jZQ:1vQxyz:not-a-real-signature-but-a-token-shape"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "verify_site.settings_test", "ALLOWED_HOSTS": "127.0.0.1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "verify_site.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--access-logfile", str(log)], cwd=root, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/c/{token}/book/",
                                                 headers={"Referer": f"https://site/c/{token}/"})
                urllib.request.urlopen(request, timeout=5)  # noqa: S310 - loopback http only
            except urllib.error.HTTPError:
                break  # an answer (404: the token is not valid)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
                continue
            break
        time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=10)
    text = log.read_text()
    assert "GET /c/…/book/" in text and "https://site/c/…/" in text
    assert token not in text
