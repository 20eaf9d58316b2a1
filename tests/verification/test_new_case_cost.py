"""A new case costs less (issue 15, second pass) and keeps its guarantees: the grace policies and the
webhook endpoints are kept in the process for a few seconds, and an admin's edit still applies to
the very next case; the Idempotency-Key is recorded once, at the end, and a retry still replays."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from notifications.keys import MessageKey
from notifications.models import OutboxMessage, WebhookEndpoint
from notifications.selectors import webhook_endpoints_active
from notifications.services import FEW, Outgoing, outbox_enqueue_many
from scheduling import process_cache
from scheduling.process_cache import ProcessCache
from tests.operations.test_policy_form import form_data
from tests.verification.test_marketplace_api import flag_body
from verification.models import AuditEvent, Case, CaseStatus, Freelancer, GracePolicy, IdempotencyRecord
from verification.selectors import policy_for
from verification.transactions import atomic, whole

pytestmark = pytest.mark.django_db


def flag(marketplace, external_id: str, **headers):
    body = flag_body()
    body["freelancer"] = {**body["freelancer"], "external_id": external_id}
    response = marketplace.post("/api/v1/cases", body, format="json", **headers)
    assert response.status_code == 201, response.content
    return Case.objects.get(pk=response.json()["id"])


def webhooks_of(case: Case) -> list[str]:
    return sorted(OutboxMessage.objects.filter(case_ref=case.id, kind__startswith="webhook:")
                  .values_list("recipient", flat=True))


# --- grace policies and webhook endpoints, kept in the process ------------------------------------

def test_an_admin_edit_of_a_grace_policy_applies_to_the_very_next_case(marketplace, admin_client):
    # given a first case, flagged with the default policy (now kept in the process)
    assert flag(marketplace, "fl-1").policy.grace_days == 7
    default = GracePolicy.objects.get(reason_code=GracePolicy.DEFAULT)
    # when an admin changes the default policy
    response = admin_client.post(f"/admin/verification/gracepolicy/{default.pk}/change/",
                                 form_data(reason_code="default", grace_days=10))
    assert response.status_code == 302, response.context["adminform"].form.errors
    # then the very next case takes the new value, read from the database
    with CaptureQueriesContext(connection) as queries:
        case = flag(marketplace, "fl-2")
    assert case.policy.grace_days == 10 and case.policy_snapshot["grace_days"] == 10
    assert any("verification_gracepolicy" in q["sql"] for q in queries.captured_queries)


def test_a_policy_added_or_deleted_applies_to_the_very_next_case(marketplace):
    assert flag(marketplace, "fl-1").policy.grace_days == 7
    own = GracePolicy.objects.create(reason_code="profile_details", grace_days=10)
    assert flag(marketplace, "fl-2").policy.grace_days == 10
    own.delete()
    assert flag(marketplace, "fl-3").policy.grace_days == 7


def test_the_policies_are_read_once_while_nothing_changes(marketplace):
    flag(marketplace, "fl-1")
    with CaptureQueriesContext(connection) as queries:
        flag(marketplace, "fl-2")
    assert not any("verification_gracepolicy" in q["sql"] for q in queries.captured_queries)
    assert not any("notifications_webhookendpoint" in q["sql"] for q in queries.captured_queries)


def test_a_webhook_endpoint_turned_off_added_or_deleted_applies_to_the_very_next_case(marketplace):
    # given an endpoint, and a case whose webhook went to it (the endpoints now kept in the process)
    first = WebhookEndpoint.objects.create(name="first", url="https://first.example.com/hooks")
    assert webhooks_of(flag(marketplace, "fl-1")) == ["https://first.example.com/hooks"]
    # when it is turned off (as the admin does: a save) and another endpoint is added
    first.active = False
    first.save()
    second = WebhookEndpoint.objects.create(name="second", url="https://second.example.com/hooks")
    # then the very next case goes to the new one only
    assert webhooks_of(flag(marketplace, "fl-2")) == ["https://second.example.com/hooks"]
    # and once that one is deleted, to none
    second.delete()
    assert webhooks_of(flag(marketplace, "fl-3")) == []


def test_an_admin_turning_an_endpoint_off_applies_to_the_very_next_case(marketplace, admin_client):
    endpoint = WebhookEndpoint.objects.create(name="marketplace", url="https://hooks.example.com/v1")
    assert webhooks_of(flag(marketplace, "fl-1")) == ["https://hooks.example.com/v1"]
    response = admin_client.post(f"/admin/notifications/webhookendpoint/{endpoint.pk}/change/", {
        "name": endpoint.name, "url": endpoint.url, "secret": endpoint.secret, "events": "[]"})  # active unticked
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert not WebhookEndpoint.objects.get().active
    assert webhooks_of(flag(marketplace, "fl-2")) == []


def test_an_edit_without_a_signal_is_seen_within_the_ttl(monkeypatch):
    # given the policies and endpoints kept in the process at t=1000 s
    clock = [1000.0]
    monkeypatch.setattr(process_cache.time, "monotonic", lambda: clock[0])
    assert policy_for(reason_code="profile_details").grace_days == 7
    assert webhook_endpoints_active() == []
    # when rows change without a signal (QuerySet.update, bulk_create: no save())
    GracePolicy.objects.filter(reason_code=GracePolicy.DEFAULT).update(grace_days=2)
    WebhookEndpoint.objects.bulk_create([WebhookEndpoint(name="bulk", url="https://bulk.example.com/")])
    # then the kept values are used until the TTL has passed, the new ones after
    clock[0] += process_cache.TTL - 0.1
    assert policy_for(reason_code="profile_details").grace_days == 7
    assert webhook_endpoints_active() == []
    clock[0] += 0.1
    assert policy_for(reason_code="profile_details").grace_days == 2
    assert [e.name for e in webhook_endpoints_active()] == ["bulk"]


def test_a_save_empties_the_cache_now_and_again_at_commit(django_capture_on_commit_callbacks):
    loads = []
    cache = ProcessCache(lambda: loads.append(1) or len(loads), models=[GracePolicy])
    assert cache.get() == cache.get() == 1
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        GracePolicy.objects.filter(reason_code=GracePolicy.DEFAULT).get().save()
        assert cache.get() == 2  # emptied at once: this transaction reads its own edit
    assert cache.get() == 2
    for callback in callbacks:  # the commit
        callback()
    assert cache.get() == 3  # a value read before the commit is not kept


# --- the Idempotency-Key, recorded once at the end ---------------------------------------------------

def test_the_key_is_recorded_with_the_response_in_one_insert(marketplace):
    with CaptureQueriesContext(connection) as queries:
        flag(marketplace, "fl-1", HTTP_IDEMPOTENCY_KEY="k-1")
    writes = [q["sql"] for q in queries.captured_queries if "verification_idempotencyrecord" in q["sql"]]
    assert len(writes) == 1 and writes[0].startswith("INSERT")
    assert IdempotencyRecord.objects.get(key="k-1").status_code == 201


def test_a_retry_after_the_case_was_withdrawn_is_replayed_and_its_new_case_rolled_back(marketplace):
    # given a case flagged with a key, then withdrawn
    first = marketplace.post("/api/v1/cases", flag_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    marketplace.post(f"/api/v1/cases/{first.json()['id']}/withdraw", {}, format="json")
    # when the flag is retried with the same key (its work succeeds: the freelancer has no open case)
    retry = marketplace.post("/api/v1/cases", flag_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    # then the first response is replayed and the retry's work is undone: no second case, no audit
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert list(Case.objects.values_list("status", flat=True)) == [CaseStatus.WITHDRAWN]
    assert AuditEvent.objects.filter(action="flagged").count() == 1
    assert OutboxMessage.objects.filter(kind="notice").count() == 1


def test_a_retry_refused_by_the_domain_is_replayed(marketplace):
    # the case is open: the retry's own work is refused (case_already_open), the first answer replayed
    first = marketplace.post("/api/v1/cases", flag_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    retry = marketplace.post("/api/v1/cases", flag_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert retry.status_code == 201 and retry.json() == first.json()
    assert Case.objects.count() == Freelancer.objects.count() == 1


def test_a_failed_request_records_nothing_and_looks_once(marketplace):
    with CaptureQueriesContext(connection) as queries:
        response = marketplace.post("/api/v1/cases", flag_body(reason_code="nope"), format="json",
                                    HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 400
    assert not IdempotencyRecord.objects.exists()
    assert [q["sql"][:6] for q in queries.captured_queries if "verification_idempotencyrecord" in q["sql"]] == [
        "SELECT"]


# --- services joining the Idempotency-Key's transaction without a savepoint -------------------------

@atomic
def endpoint_add(name: str, *, fail: bool = False) -> None:
    WebhookEndpoint.objects.create(name=name, url="https://hooks.example.com/")
    if fail:
        raise RuntimeError("refused")


def savepoints(queries) -> int:
    return sum(q["sql"].startswith("SAVEPOINT") for q in queries.captured_queries)


def test_a_service_inside_whole_takes_no_savepoint_and_its_error_undoes_the_whole_block():
    with CaptureQueriesContext(connection) as queries, whole():  # whole() itself: one (inside the test's)
        endpoint_add("a")
        endpoint_add("b")
    assert savepoints(queries) == 1 and WebhookEndpoint.objects.count() == 2
    with pytest.raises(RuntimeError), whole():
        endpoint_add("c")
        endpoint_add("d", fail=True)
    assert sorted(WebhookEndpoint.objects.values_list("name", flat=True)) == ["a", "b"]  # c undone too


def test_elsewhere_a_service_keeps_its_savepoint_so_a_caller_may_carry_on():
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        endpoint_add("a")
        with pytest.raises(RuntimeError):
            endpoint_add("b", fail=True)
        endpoint_add("c")  # the transaction is still usable: b alone was undone
    assert savepoints(queries) == 4
    assert sorted(WebhookEndpoint.objects.values_list("name", flat=True)) == ["a", "c"]


# --- the outbox rows of one change, one INSERT ... VALUES ------------------------------------------

@pytest.mark.parametrize("count", [2, FEW, FEW + 1, 40])  # INSERT ... VALUES up to FEW, bulk_create above
def test_enqueued_messages_are_written_once_with_their_defaults_whatever_their_number(count, now):
    messages = [Outgoing(key=MessageKey("notice", f"case:{i}", "notice"), recipient=f"x{i}@example.com",
                         due_at=now, context={"i": i, "link": "https://example.com/c/ä"}) for i in range(count)]
    outbox_enqueue_many(messages=messages[:1], now=now)
    with CaptureQueriesContext(connection) as queries:
        outbox_enqueue_many(messages=messages, now=now)  # the first one exists already: not written again
    assert len(queries.captured_queries) == 1
    rows = list(OutboxMessage.objects.order_by("id"))
    assert [row.recipient for row in rows] == [f"x{i}@example.com" for i in range(count)]
    assert [row.context for row in rows] == [{"i": i, "link": "https://example.com/c/ä"} for i in range(count)]
    assert {(row.status, row.attempts, row.uncertain_attempts, row.sent_at, row.skip_reason, row.due_at,
             row.created_at, row.updated_at) for row in rows} == {("PENDING", 0, 0, None, "", now, now, now)}
