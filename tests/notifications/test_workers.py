"""The outbox with real processes: Celery worker and beat on a real Redis broker, PostgreSQL, an
SMTP server on loopback. Broker down, worker killed, sweeps racing: every message once."""

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection, connections, transaction
from django.utils import timezone

from notifications.keys import MessageKey
from notifications.models import MessageStatus, OutboxMessage
from notifications.services import message_send, outbox_claim_due, outbox_enqueue, outbox_send_batch
from tests.factories import CaseFactory
from tests.helpers import client_for, make_reps, notice_enqueue
from tests.notifications.processes import RedisServer, app_env, beat, smtp_sink, worker
from verification.models import Case

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def broker() -> str:
    url = settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + "/14"
    redis.Redis.from_url(url).flushdb()
    return url


def book_first_free_time() -> Case:
    now = timezone.now()
    make_reps(2, now=now)
    case = CaseFactory(notice_sent_at=now - timedelta(hours=1), deadline_at=now + timedelta(days=7))
    client = client_for(case)
    days = client.get("/api/v1/case/availability").json()["days"]
    response = client.post("/api/v1/case/booking", {"starts_at": days[0]["times"][0]["starts_at"]}, format="json")
    assert response.status_code == 201, response.content
    return case


def wait_until(predicate, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_real_worker_on_redis_sends_the_booking_confirmation(broker, tmp_path):
    with smtp_sink() as (sink, port):
        env = app_env(broker=broker, smtp_port=port, tmp_path=tmp_path)
        processes = [worker(env), beat(env)]
        try:
            case = book_first_free_time()
            [message] = sink.wait_for(1, timeout=60)
        finally:
            for process in processes:
                process.stop()
    assert message["X-Verification-Kind"] == "booking_confirmed"
    assert message["To"] == case.freelancer.email
    row = OutboxMessage.objects.get(kind="booking_confirmed")
    assert row.status == MessageStatus.SENT and row.attempts == 1


def test_booking_while_the_broker_is_down_still_sends_once_it_is_back(tmp_path):
    redis_server = RedisServer()
    redis_server.start()
    with smtp_sink() as (sink, port):
        env = app_env(broker=redis_server.url, smtp_port=port, tmp_path=tmp_path)
        processes = [worker(env), beat(env)]
        try:
            redis_server.stop()  # the broker goes down
            case = book_first_free_time()  # booking needs no broker: the outbox is in the database
            time.sleep(3)  # beat tries to dispatch and fails meanwhile
            assert sink.received == []
            assert OutboxMessage.objects.get(kind="booking_confirmed").status == MessageStatus.PENDING
            redis_server.start()  # back, on the same address
            received = sink.wait_for(1, timeout=90)
        finally:
            for process in processes:
                process.stop()
            redis_server.stop()
    assert [m["X-Verification-Kind"] for m in received] == ["booking_confirmed"]
    assert received[0]["To"] == case.freelancer.email
    assert OutboxMessage.objects.get(kind="booking_confirmed").status == MessageStatus.SENT


def test_worker_killed_in_the_middle_of_a_batch_every_message_is_sent_once(broker, tmp_path):
    now = timezone.now()
    cases = [CaseFactory(notice_sent_at=None, deadline_at=None) for _ in range(30)]
    for case in cases:
        notice_enqueue(case, now=now)
    with smtp_sink(rcpt_delay=0.3) as (sink, port):
        env = app_env(broker=broker, smtp_port=port, tmp_path=tmp_path, OUTBOX_LEASE_SECONDS="3")
        first, scheduler = worker(env), beat(env)
        second = None
        try:
            # kill the worker while it is delivering its sixth message (waiting in RCPT, not yet accepted)
            assert wait_until(lambda: sink.deliveries_started >= 6 and sink.in_delivery.is_set(), timeout=60)
            first.kill()
            delivered_before_kill = len(sink.received)
            assert 5 <= delivered_before_kill < 30
            assert OutboxMessage.objects.filter(status=MessageStatus.SENDING).exists()
            second = worker(env)
            received = sink.wait_for(30, timeout=120)
            # verification's beat task sees the notices sent and starts each grace period
            wait_until(lambda: Case.objects.filter(notice_sent_at__isnull=False).count() == 30, timeout=30)
        finally:
            for process in (first, scheduler, second):
                if process:
                    process.stop()
    ids = Counter(message["Message-ID"] for message in received)
    assert len(received) == 30 and max(ids.values()) == 1  # every message, none twice
    assert OutboxMessage.objects.filter(status=MessageStatus.SENT).count() == 30
    assert Case.objects.filter(notice_sent_at__isnull=False).count() == 30  # each grace period started once


def test_a_worker_killed_after_the_server_accepted_leaves_its_attempt_and_the_copy_keeps_the_message_id(
        broker, tmp_path):
    now = timezone.now()
    case = CaseFactory(notice_sent_at=None, deadline_at=None)
    notice_enqueue(case, now=now)
    with smtp_sink(reply_delay=10, delayed_replies=1) as (sink, port):
        env = app_env(broker=broker, smtp_port=port, tmp_path=tmp_path, OUTBOX_LEASE_SECONDS="3")
        first, scheduler = worker(env), beat(env)
        second = None
        try:
            # the server has stored the notice; the worker is killed before it hears "250"
            assert wait_until(lambda: sink.replying.is_set(), timeout=60)
            first.kill()
            notice = OutboxMessage.objects.get(kind="notice")
            assert (notice.status, notice.attempts) == (MessageStatus.SENDING, 1)  # committed before SMTP
            assert notice.attempt_started_at is not None and notice.uncertain_attempts == 0
            assert Case.objects.get(pk=case.pk).notice_sent_at is None
            second = worker(env)
            received = sink.wait_for(2, timeout=60)
            wait_until(lambda: Case.objects.filter(pk=case.pk, notice_sent_at__isnull=False).exists(), timeout=30)
        finally:
            for process in (first, scheduler, second):
                if process:
                    process.stop()
    assert len(received) == 2 and received[0]["Message-ID"] == received[1]["Message-ID"]  # a recognisable copy
    notice.refresh_from_db()
    assert (notice.status, notice.attempts, notice.uncertain_attempts) == (MessageStatus.SENT, 2, 1)
    assert Case.objects.get(pk=case.pk).notice_sent_at == notice.sent_at


def test_messages_whose_send_tasks_the_broker_lost_go_out_at_the_next_sweep_not_after_the_lease(tmp_path):
    """Redis dies with send tasks in its queue and comes back empty: the messages they carried are
    claimed again once their short claim expires, long before the worker lease (600 s here)."""
    redis_server = RedisServer()
    redis_server.start()
    now = timezone.now()
    for _ in range(60):
        notice_enqueue(CaseFactory(notice_sent_at=None, deadline_at=None), now=now)
    with smtp_sink(rcpt_delay=0.2) as (sink, port):
        env = app_env(broker=redis_server.url, smtp_port=port, tmp_path=tmp_path, OUTBOX_LEASE_SECONDS="600",
                      OUTBOX_CLAIM_LEASE_SECONDS="1")
        processes = [worker(env), beat(env)]
        try:
            # the worker is busy with the first of three send tasks (25 + 25 + 10); two wait in Redis
            assert wait_until(lambda: sink.deliveries_started >= 2, timeout=60)
            queue = redis.Redis.from_url(redis_server.url)
            assert queue.llen("celery") >= 2
            redis_server.stop()
            redis_server.start()  # back, empty
            assert queue.llen("celery") == 0
            # claimed: more than the task in the worker holds, so some were in the lost tasks
            assert OutboxMessage.objects.filter(status=MessageStatus.SENDING).count() > 25
            received = sink.wait_for(60, timeout=120)  # the wait is far shorter than the 600 s lease
            # the grace periods start when beat's next check runs (the solo worker may still be busy)
            wait_until(lambda: Case.objects.filter(notice_sent_at__isnull=False).count() == 60, timeout=60)
        finally:
            for process in processes:
                process.stop()
            redis_server.stop()
    assert len(received) == 60 and len({m["Message-ID"] for m in received}) == 60
    assert OutboxMessage.objects.filter(status=MessageStatus.SENT).count() == 60
    assert Case.objects.filter(notice_sent_at__isnull=False).count() == 60


def test_two_sweeps_racing_and_a_redelivered_task_send_each_message_once(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    now = timezone.now()
    for _ in range(40):
        notice_enqueue(CaseFactory(notice_sent_at=None, deadline_at=None), now=now)
    barrier = threading.Barrier(2)
    claims: list[list[int]] = [[], []]

    def sweep(index: int) -> None:
        barrier.wait()
        claims[index] = outbox_claim_due(now=now, limit=1000)
        connections.close_all()

    threads = [threading.Thread(target=sweep, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not set(claims[0]) & set(claims[1])
    assert len(claims[0]) + len(claims[1]) == 40
    mail.outbox = []
    for ids in (claims[0], claims[1], claims[0] + claims[1]):  # the last one: every task redelivered
        outbox_send_batch(message_ids=ids)
    assert len(mail.outbox) == 40 and len({m.to[0] for m in mail.outbox}) == 40


def test_a_message_another_worker_is_sending_is_left_to_it(settings):
    """The same chunk delivered to two workers at once: the one that does not hold the row's lock
    sends nothing and leaves the row to the one that does."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    now = timezone.now()
    notice_enqueue(CaseFactory(notice_sent_at=None, deadline_at=None), now=now)
    [message_id] = outbox_claim_due(now=now, limit=10)
    locked, release = threading.Event(), threading.Event()

    def other_worker() -> None:  # holds the row as a sending worker does, then gives up without sending
        with transaction.atomic():
            OutboxMessage.objects.select_for_update().get(pk=message_id)
            locked.set()
            release.wait(30)
        connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(30)
        mail.outbox = []
        assert message_send(message_id=message_id, now=now) == "not_mine"
        assert mail.outbox == []
        assert OutboxMessage.objects.get(pk=message_id).status == MessageStatus.SENDING
    finally:
        release.set()
        thread.join()
    assert message_send(message_id=message_id, now=now) == "sent"
    assert len(mail.outbox) == 1
    assert OutboxMessage.objects.get(pk=message_id).status == MessageStatus.SENT


def test_a_message_another_worker_is_delivering_is_left_to_it_without_any_lock(settings):
    """The attempt is committed before the mail server is spoken to and no transaction stays open:
    a second worker given the same message sends nothing, during the delivery and after it."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    now = timezone.now()
    outbox_enqueue(key=MessageKey("withdrawn", "case:x", "case-rev-2"), recipient="x@example.com", due_at=now, now=now,
                   context={"first_name": "X", "timezone": "UTC"})
    [message_id] = outbox_claim_due(now=now, limit=10)
    in_delivery, release = threading.Event(), threading.Event()

    class SlowServer(LocmemBackend):
        def send_messages(self, email_messages):
            in_delivery.set()
            release.wait(30)
            return super().send_messages(email_messages)

    outcomes: list[str] = []

    def other_worker() -> None:
        outcomes.append(message_send(message_id=message_id, now=now, mail_connection=SlowServer()))
        connections.close_all()

    mail.outbox = []
    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert in_delivery.wait(30)
        with connection.cursor() as cursor:  # nobody holds the row: the exclusion is the committed attempt
            cursor.execute("SELECT id FROM notifications_outboxmessage WHERE id = %s FOR UPDATE NOWAIT",
                           [message_id])
        assert message_send(message_id=message_id, now=now) == "not_mine"
        assert outbox_send_batch(message_ids=[message_id]) == {"not_mine": 1}
        assert mail.outbox == []
    finally:
        release.set()
        thread.join()
    assert outcomes == ["sent"]
    assert message_send(message_id=message_id, now=now) == "not_mine"
    assert len(mail.outbox) == 1
    assert OutboxMessage.objects.get(pk=message_id).status == MessageStatus.SENT
