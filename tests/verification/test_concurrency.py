"""Races on real PostgreSQL: threads with their own connections, released together by a barrier."""

from collections import Counter

import pytest
from rest_framework.test import APIClient

from tests.helpers import race
from tests.verification.test_marketplace_api import flag_body
from verification.models import AuditEvent, Case, Freelancer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]



def client_for(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def test_twenty_parallel_flags_of_one_freelancer_open_one_case(api_key):
    _, key = api_key
    statuses = race(20, lambda i: client_for(key).post("/api/v1/cases", flag_body(), format="json").status_code)
    assert Counter(statuses) == {201: 1, 409: 19}
    assert Case.objects.count() == 1 and Freelancer.objects.count() == 1
    assert AuditEvent.objects.filter(action="flagged").count() == 1


def test_parallel_retries_with_one_idempotency_key_create_one_case_and_all_get_it(api_key):
    _, key = api_key
    responses = race(
        12,
        lambda i: client_for(key).post("/api/v1/cases", flag_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1"),
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert Case.objects.count() == 1
