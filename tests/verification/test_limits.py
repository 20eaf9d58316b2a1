"""The API's limits (DRF throttles on the cache) and the freelancer's changes of time: every
change counts against the policy, changes are a cooldown apart, and the messages of rapid churn
are coalesced, so nobody's mailbox (or webhook receiver) is flooded. docs/security.md."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client, override_settings
from rest_framework.test import APIClient

from notifications.models import MessageStatus, OutboxMessage, WebhookEndpoint
from scheduling.models import Booking, BookingStatus
from tests.factories import CaseFactory
from tests.helpers import client_for, send_due
from verification.links import freelancer_token
from verification.models import Case, CaseStatus

pytestmark = pytest.mark.django_db

SLOT = "2026-03-03T10:00:00Z"


def rates(**changes):
    from django.conf import settings

    return override_settings(API_THROTTLE_RATES={**settings.API_THROTTLE_RATES, **changes})


def client(address: str, authorization: str = "") -> APIClient:
    api = APIClient(REMOTE_ADDR=address)
    if authorization:
        api.credentials(HTTP_AUTHORIZATION=authorization)
    return api


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["code"] == "throttled" and "Expected available in" in body["detail"]
    assert int(response["Retry-After"]) == body["retry_after"] > 0


# --- wrong credentials, per address ------------------------------------------------------------

@rates(auth_failure="3/min")
def test_wrong_api_keys_are_throttled_per_address_then_even_the_right_key_waits(api_key):
    _, key = api_key
    for _ in range(3):
        assert client("10.1.0.1", "Api-Key wrong.key").get("/api/v1/freelancers/x/eligibility").status_code == 401
    assert_throttled(client("10.1.0.1", "Api-Key wrong.key").get("/api/v1/freelancers/x/eligibility"))
    from tests.verification.test_marketplace_api import flag_body

    refused = client("10.1.0.1", f"Api-Key {key}").post("/api/v1/cases", flag_body(), format="json")
    assert_throttled(refused)
    assert not Case.objects.exists()  # refused: nothing written
    # another address is unaffected, and a spoofed X-Forwarded-For is not another address
    assert client("10.1.0.2", f"Api-Key {key}").get("/api/v1/freelancers/x/eligibility").status_code == 200
    spoofed = client("10.1.0.1", f"Api-Key {key}")
    assert_throttled(spoofed.get("/api/v1/freelancers/x/eligibility", HTTP_X_FORWARDED_FOR="192.0.2.7"))


@rates(auth_failure="3/min")
def test_wrong_bearer_tokens_are_throttled_per_address(case):
    for number in range(3):
        response = client("10.1.0.1", f"Bearer not-a-token-{number}").get("/api/v1/case")
        assert response.status_code == 401
    assert_throttled(client("10.1.0.1", f"Bearer {freelancer_token(case)}").get("/api/v1/case"))
    assert client("10.1.0.2", f"Bearer {freelancer_token(case)}").get("/api/v1/case").status_code == 200


@rates(auth_failure="3/min")
def test_right_credentials_do_not_count_as_failures(api_key):
    _, key = api_key
    for _ in range(10):
        assert client("10.1.0.1", f"Api-Key {key}").get("/api/v1/freelancers/x/eligibility").status_code == 200


# --- per key, per freelancer, availability -------------------------------------------------------

@rates(marketplace="3/min")
def test_each_api_key_has_its_own_rate(db):
    from rest_framework_api_key.models import APIKey

    _, first = APIKey.objects.create_key(name="one")
    _, second = APIKey.objects.create_key(name="two")
    for _ in range(3):
        assert client("10.1.0.1", f"Api-Key {first}").get("/api/v1/freelancers/x/eligibility").status_code == 200
    assert_throttled(client("10.1.0.1", f"Api-Key {first}").get("/api/v1/freelancers/x/eligibility"))
    assert client("10.1.0.1", f"Api-Key {second}").get("/api/v1/freelancers/x/eligibility").status_code == 200


@rates(marketplace="3/min")
def test_a_rate_is_earned_back_evenly_and_kept_as_one_number(api_key, now):
    """3/min: the three at once, then one every 20 s. What the cache keeps per key is one time,
    not a list of every request's (whose size grew with the rate: 6,000 at the default)."""
    from django.core.cache import cache

    key = client("10.1.0.1", f"Api-Key {api_key[1]}")
    with time_machine.travel(now, tick=False) as clock:
        for _ in range(3):
            assert key.get("/api/v1/freelancers/x/eligibility").status_code == 200
        refused = key.get("/api/v1/freelancers/x/eligibility")
        assert_throttled(refused)
        assert refused["Retry-After"] == "20"
        clock.shift(timedelta(seconds=19))
        assert_throttled(key.get("/api/v1/freelancers/x/eligibility"))
        clock.shift(timedelta(seconds=1))
        assert key.get("/api/v1/freelancers/x/eligibility").status_code == 200
        assert_throttled(key.get("/api/v1/freelancers/x/eligibility"))
        stored = cache.get(f"throttle_paced_marketplace_{api_key[0].pk}")
        assert stored == now.timestamp() + 80  # the time the full allowance is back: 4 requests x 20 s


@rates(availability="2/min")
def test_availability_reads_are_limited_per_freelancer(reps, frozen_clock):
    mine, other = CaseFactory(), CaseFactory()
    for _ in range(2):
        assert client_for(mine).get("/api/v1/case/availability").status_code == 200
    assert_throttled(client_for(mine).get("/api/v1/case/availability"))
    assert client_for(mine).get("/api/v1/case").status_code == 200  # only the availability reads
    assert client_for(other).get("/api/v1/case/availability").status_code == 200


@rates(availability_address="3/min")
def test_availability_reads_are_limited_per_address_whatever_the_token(reps, frozen_clock):
    for _ in range(3):
        assert client_for(CaseFactory()).get("/api/v1/case/availability").status_code == 200
    assert_throttled(client_for(CaseFactory()).get("/api/v1/case/availability"))


@rates(freelancer="4/min")
def test_every_freelancer_request_counts_toward_their_rate(case, frozen_clock):
    for _ in range(4):
        assert client_for(case).get("/api/v1/case").status_code == 200
    assert_throttled(client_for(case).get("/api/v1/case"))


@rates(auth_failure="1/min", freelancer="1/min")
def test_with_the_cache_unreachable_the_api_keeps_answering(case, api_key):
    unreachable = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                               "LOCATION": "redis://127.0.0.1:9/0"}}
    with override_settings(CACHES=unreachable):
        for _ in range(3):
            assert client_for(case).get("/api/v1/case").status_code == 200
            assert client("10.1.0.1", "Api-Key wrong.key").get("/api/v1/freelancers/x/eligibility").status_code == 401


# --- changes of time -----------------------------------------------------------------------------

def book(case, at: str = SLOT):
    return client_for(case).post("/api/v1/case/booking", {"starts_at": at}, format="json")


def cancel(case):
    return client_for(case).delete("/api/v1/case/booking")


def test_cancel_then_book_counts_against_the_move_limit(reps, now):
    case = CaseFactory()
    with time_machine.travel(now, tick=False):
        assert book(case).status_code == 201
    for step in range(1, 4):  # three changes of time, a cooldown apart
        with time_machine.travel(now + timedelta(minutes=2 * step), tick=False):
            assert cancel(case).status_code == 200
            assert book(case).status_code == 201
    case.refresh_from_db()
    assert case.reschedule_count == 3
    with time_machine.travel(now + timedelta(minutes=10), tick=False):
        assert cancel(case).status_code == 200  # cancelling is always possible
        response = book(case)
        moved = client_for(case).patch("/api/v1/case/booking", {"starts_at": SLOT}, format="json")
        page = Client().get(f"/c/{freelancer_token(case)}/").content.decode()
    assert response.status_code == 409 and response.json()["code"] == "reschedule_limit_reached"
    assert moved.status_code == 404  # nothing booked to move
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.reschedule_count == 3
    assert not Booking.objects.filter(case_ref=case.id, status=BookingStatus.ACTIVE).exists()
    # the page says so, and offers the accommodation route instead of a time picker that would refuse
    assert "You have used all your changes of time" in page and "Pick a time" not in page
    assert "Ask for an accommodation" in page


def test_changes_of_time_are_a_cooldown_apart(reps, now):
    case = CaseFactory()
    with time_machine.travel(now, tick=False):
        book(case)
        assert client_for(case).patch("/api/v1/case/booking", {"starts_at": "2026-03-03T11:00:00Z"},
                                      format="json").status_code == 200
    with time_machine.travel(now + timedelta(seconds=20), tick=False):
        response = client_for(case).patch("/api/v1/case/booking", {"starts_at": "2026-03-03T12:00:00Z"},
                                          format="json")
        assert cancel(case).status_code == 200
        rebook = book(case)
    assert response.status_code == 409 and response.json()["code"] == "change_too_soon"
    assert response.json()["retry_after"] == 40
    assert rebook.status_code == 409 and rebook.json()["code"] == "change_too_soon"
    case.refresh_from_db()
    assert case.reschedule_count == 1
    with time_machine.travel(now + timedelta(seconds=60), tick=False):
        assert book(case).status_code == 201


def test_a_frozen_freelancer_can_always_book_again(reps, now):
    case = CaseFactory(status=CaseStatus.FROZEN, reschedule_count=3, time_changed_at=now)
    with time_machine.travel(now + timedelta(seconds=5), tick=False):
        assert book(case).status_code == 201


def test_a_storm_of_book_and_cancel_makes_a_handful_of_messages(reps, now):
    """150 book+cancel cycles (as one token did in 7 s): at most the policy's changes succeed, and
    cancellations of confirmations never sent write no email at all."""
    WebhookEndpoint.objects.create(name="marketplace", url="https://127.0.0.1:9/hook", secret="s" * 32)
    case = CaseFactory()
    outcomes = []
    for cycle in range(150):
        with time_machine.travel(now + timedelta(seconds=3 * cycle), tick=False):
            outcomes.append(book(case).status_code)
            cancel(case)
    assert outcomes.count(201) == 4  # the booking and the policy's 3 changes
    assert Booking.objects.filter(case_ref=case.id).count() == 4
    case.refresh_from_db()
    assert case.reschedule_count == 3 and case.status == CaseStatus.OPEN
    rows = OutboxMessage.objects.filter(case_ref=case.id)
    assert rows.count() <= 25, sorted(rows.values_list("kind", "status"))
    assert not rows.filter(kind="booking_cancelled").exists()  # no confirmation had gone out
    assert not rows.filter(status=MessageStatus.PENDING).exclude(kind__startswith="webhook:").exists()
    assert rows.filter(kind="webhook:case.scheduled", status=MessageStatus.PENDING).count() == 1


def test_a_cancellation_after_the_confirmation_went_out_is_still_sent(reps, now, frozen_clock):
    from django.core import mail

    case = CaseFactory()
    book(case)
    send_due(now)
    cancel(case)
    send_due(now)
    assert len(mail.outbox) == 2 and "cancelled" in mail.outbox[1].subject
    assert OutboxMessage.objects.get(case_ref=case.id, kind="booking_cancelled").status == MessageStatus.SENT


def test_booking_again_drops_a_cancellation_email_still_waiting(reps, now):
    case = CaseFactory()
    with time_machine.travel(now, tick=False):
        book(case)
        send_due(now)  # the confirmation went out
        cancel(case)
    cancelled = OutboxMessage.objects.get(case_ref=case.id, kind="booking_cancelled")
    assert cancelled.status == MessageStatus.PENDING
    with time_machine.travel(now + timedelta(seconds=1), tick=False):
        assert book(case, "2026-03-03T11:00:00Z").status_code == 201
    cancelled.refresh_from_db()
    assert cancelled.status == MessageStatus.SKIPPED and cancelled.skip_reason == "booked again"


def test_a_move_before_the_confirmation_went_out_is_confirmed_as_new(reps, now, frozen_clock):
    case = CaseFactory()
    book(case)
    client_for(case).patch("/api/v1/case/booking", {"starts_at": "2026-03-03T11:00:00Z"}, format="json")
    pending = OutboxMessage.objects.filter(case_ref=case.id, status=MessageStatus.PENDING)
    assert set(pending.values_list("kind", flat=True)) >= {"booking_confirmed"}
    assert not pending.filter(kind="booking_moved").exists()
