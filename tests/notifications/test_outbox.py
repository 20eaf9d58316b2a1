"""The outbox: what each change sends, when, once; stale messages are skipped, failures retried."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from icalendar import Calendar

from notifications.models import MessageStatus, OutboxMessage
from notifications.rendering import message_id
from notifications.services import message_send, outbox_claim_due, outbox_send_batch
from scheduling.models import Booking, BookingStatus
from tests.factories import CaseFactory
from tests.helpers import client_for, make_reps, notice_enqueue, send_due
from tests.notifications.failing_backend import WorkerDied
from verification.models import CaseStatus
from verification.services.cases import case_withdraw

pytestmark = pytest.mark.django_db
AT = "2026-03-04T10:00:00Z"  # 46 hours after now: every reminder offset is still ahead
CALL = datetime(2026, 3, 4, 10, tzinfo=UTC)


def messages(**filters) -> list[tuple[str, str, datetime]]:
    return list(OutboxMessage.objects.filter(**filters).order_by("due_at", "kind")
                .values_list("kind", "status", "due_at"))


def calendar_part(email):
    parts = [part for part in email.message().walk() if part.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    return parts[0]


def test_booking_sends_confirmation_with_invite_and_reminders_at_the_policy_offsets(reps, now, frozen_clock):
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    assert messages() == [
        ("booking_confirmed", "PENDING", now),
        ("reminder:1440", "PENDING", CALL - timedelta(hours=24)),
        ("reminder:60", "PENDING", CALL - timedelta(hours=1)),
        ("reminder:10", "PENDING", CALL - timedelta(minutes=10)),
    ]
    assert send_due(now) == {"sent": 1}
    [email] = mail.outbox
    assert email.to == [case.freelancer.email]
    assert "Wednesday 4 March 2026, 15:30 (Asia/Kolkata, IST)" in email.subject  # their zone, with its name
    assert "https://meet.jit.si/verify-" in email.body
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html" and "Join by video" in html
    part = calendar_part(email)
    assert part.get_param("method") == "REQUEST"
    event = Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")[0]
    assert event.decoded("DTSTART") == CALL


def test_an_offset_already_past_at_booking_time_is_not_made(reps, now, frozen_clock):
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-02T14:00:00Z"}, format="json")
    assert [kind for kind, *_ in messages()] == ["booking_confirmed", "reminder:60", "reminder:10"]


def test_each_reminder_goes_once_at_its_time(reps, now, frozen_clock):
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    send_due(now)
    assert send_due(CALL - timedelta(hours=24)) == {"sent": 1}
    assert send_due(CALL - timedelta(hours=24)) == {}
    assert send_due(CALL - timedelta(minutes=10)) == {"sent": 2}  # the 1 h one was due too (late sweep)
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "Your verification call is booked", "Reminder", "Reminder", "Reminder"]


def test_cancelled_booking_gets_no_stale_reminder_and_a_cancel_invite(reps, now, frozen_clock):
    case = CaseFactory()
    client = client_for(case)
    client.post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    send_due(now)  # the confirmation went out (one that had not is simply dropped: tests/test_limits.py)
    client.delete("/api/v1/case/booking")
    assert [(k, s) for k, s, _ in messages()] == [
        ("booking_cancelled", "PENDING"), ("booking_confirmed", "SENT"),
        ("reminder:1440", "SKIPPED"), ("reminder:60", "SKIPPED"), ("reminder:10", "SKIPPED")]
    send_due(CALL)
    [_, email] = mail.outbox
    assert "cancelled" in email.subject
    part = calendar_part(email)
    assert part.get_param("method") == "CANCEL"
    assert str(Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")[0]["STATUS"]) == "CANCELLED"


def test_moved_booking_gets_reminders_for_the_new_time_only(reps, now, frozen_clock):
    case = CaseFactory()
    client = client_for(case)
    client.post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    send_due(now)  # the confirmation went out (a move before it does is confirmed as new: tests/test_limits.py)
    mail.outbox.clear()
    client.patch("/api/v1/case/booking", {"starts_at": "2026-03-05T10:00:00Z"}, format="json")
    pending = OutboxMessage.objects.filter(status=MessageStatus.PENDING)
    assert sorted(pending.values_list("kind", "revision")) == [
        ("booking_moved", "booking-seq-1"), ("reminder:10", "booking-seq-1"), ("reminder:1440", "booking-seq-1"),
        ("reminder:60", "booking-seq-1")]
    send_due(datetime(2026, 3, 5, 9, 55, tzinfo=UTC))  # just before the new call
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "Your verification call moved", "Reminder", "Reminder", "Reminder"]
    assert all("Thursday 5 March" in m.subject for m in mail.outbox)


def test_send_time_recheck_skips_a_reminder_whose_booking_changed_behind_its_back(reps, now, frozen_clock):
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    send_due(now)
    Booking.objects.filter(case_ref=case.id).update(status=BookingStatus.CANCELLED)  # no outbox call at all
    send_due(CALL - timedelta(hours=24))
    reminder = OutboxMessage.objects.get(kind="reminder:1440")
    assert reminder.status == MessageStatus.SKIPPED and reminder.skip_reason == "the booking was cancelled"
    assert len(mail.outbox) == 1


def test_a_reminder_due_after_the_call_started_is_skipped(reps, now, frozen_clock):
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    # the workers were down all morning; they come back after the call started
    send_due(CALL + timedelta(minutes=1))
    skipped = OutboxMessage.objects.filter(kind__startswith="reminder")
    assert set(skipped.values_list("status", "skip_reason")) == {("SKIPPED", "the call has already started")}
    assert [m.subject.split(":")[0] for m in mail.outbox] == ["Your verification call is booked"]


def test_reminder_24_hours_before_a_call_the_day_after_dst_is_24_real_hours(now, frozen_clock):
    make_reps(1, now=now, zone="America/New_York")
    case = CaseFactory(deadline_at=now + timedelta(days=14))
    # New York springs forward on Sunday 8 March; the call is Monday 9 March, 09:00 EDT = 13:00Z
    call = datetime(2026, 3, 9, 13, tzinfo=UTC)
    assert client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-09T09:00:00-04:00"},
                                 format="json").status_code == 201
    reminder = OutboxMessage.objects.get(kind="reminder:1440")
    assert reminder.due_at == call - timedelta(hours=24)  # Sunday 13:00Z = 09:00 EDT; Saturday would be EST


def test_notice_then_deadline_warnings_while_not_booked(reps, now, frozen_clock):
    case = CaseFactory(notice_sent_at=None, deadline_at=None)
    notice_enqueue(case, now=now)
    send_due(now)
    case.refresh_from_db()
    assert case.deadline_at == now + timedelta(days=7)
    warnings = messages(kind__startswith="deadline_warning")
    assert warnings == [("deadline_warning:72", "PENDING", case.deadline_at - timedelta(hours=72)),
                        ("deadline_warning:24", "PENDING", case.deadline_at - timedelta(hours=24))]
    # booked before the first warning: it is skipped; cancelled again before the second: it goes
    client = client_for(case)
    client.post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    send_due(case.deadline_at - timedelta(hours=72))
    client.delete("/api/v1/case/booking")
    send_due(case.deadline_at - timedelta(hours=24))
    assert messages(kind__startswith="deadline_warning") == [
        ("deadline_warning:72", "SKIPPED", case.deadline_at - timedelta(hours=72)),
        ("deadline_warning:24", "SENT", case.deadline_at - timedelta(hours=24))]


def test_withdrawal_skips_everything_pending_and_says_so(reps, now, frozen_clock):
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    case_withdraw(case_id=case.id, actor="marketplace:x", reason="error", now=now)
    assert OutboxMessage.objects.filter(status=MessageStatus.PENDING).values_list("kind", flat=True).get() == \
        "withdrawn"
    send_due(CALL)
    assert [m.subject for m in mail.outbox] == ["Your verification is no longer needed"]


def test_failures_are_retried_with_backoff_then_failed_with_the_error(reps, now, frozen_clock, settings):
    settings.EMAIL_BACKEND = "tests.notifications.failing_backend.FailingBackend"
    settings.OUTBOX_MAX_ATTEMPTS = 3
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-05T10:00:00Z"}, format="json")
    assert send_due(now)["retry"] == 1
    confirmation = OutboxMessage.objects.get(kind="booking_confirmed")
    assert confirmation.status == MessageStatus.PENDING and confirmation.attempts == 1
    assert confirmation.due_at == now + timedelta(seconds=60)
    assert "SMTPServerDisconnected" in confirmation.last_error
    assert confirmation.uncertain_attempts == 1  # the server hung up: it may have stored the message
    send_due(now + timedelta(seconds=60))
    confirmation.refresh_from_db()
    assert confirmation.due_at == now + timedelta(seconds=60 + 120)  # exponential
    send_due(now + timedelta(seconds=180))
    confirmation.refresh_from_db()
    assert confirmation.status == MessageStatus.FAILED and confirmation.attempts == 3


def test_a_refusal_is_retried_and_is_not_an_uncertain_attempt(reps, now, frozen_clock, settings):
    settings.EMAIL_BACKEND = "tests.notifications.failing_backend.RefusingBackend"
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    assert send_due(now) == {"retry": 1}
    confirmation = OutboxMessage.objects.get(kind="booking_confirmed")
    assert (confirmation.status, confirmation.attempts, confirmation.uncertain_attempts) == (
        MessageStatus.PENDING, 1, 0)
    assert confirmation.attempt_started_at is None and "554" in confirmation.last_error


def test_a_redelivered_send_task_sends_nothing_twice(reps, now, frozen_clock):
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    ids = outbox_claim_due(now=now, limit=100)
    assert outbox_send_batch(message_ids=ids) == {"sent": 1}
    assert outbox_send_batch(message_ids=ids) == {"not_mine": 1}  # redelivered
    assert message_send(message_id=ids[0], now=now) == "not_mine"
    assert len(mail.outbox) == 1


def test_a_claim_whose_send_task_never_started_is_taken_again_after_the_short_claim_lease(
        reps, now, frozen_clock, settings):
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    assert len(outbox_claim_due(now=now, limit=100)) == 1  # claimed, then its task is lost with the broker
    assert outbox_claim_due(now=now + timedelta(seconds=settings.OUTBOX_CLAIM_LEASE_SECONDS - 1), limit=100) == []
    assert settings.OUTBOX_CLAIM_LEASE_SECONDS < settings.OUTBOX_SWEEP_SECONDS < settings.OUTBOX_LEASE_SECONDS
    # a sweep runs only if it waited less than one interval: the send tasks queued before it were taken
    assert settings.CELERY_BEAT_SCHEDULE["outbox-dispatch"]["options"]["expires"] == settings.OUTBOX_SWEEP_SECONDS
    assert send_due(now + timedelta(seconds=settings.OUTBOX_CLAIM_LEASE_SECONDS + 1)) == {"sent": 1}


def test_messages_a_worker_took_are_held_for_the_long_lease_then_taken_again(reps, now, frozen_clock, settings):
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    ids = outbox_claim_due(now=now, limit=100)
    settings.EMAIL_BACKEND = "tests.notifications.failing_backend.DieOnConnect"
    with time_machine.travel(now, tick=False), pytest.raises(WorkerDied):
        outbox_send_batch(message_ids=ids)  # took the task, died before delivering anything
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert outbox_claim_due(now=now + timedelta(seconds=settings.OUTBOX_CLAIM_LEASE_SECONDS + 1), limit=100) == []
    assert send_due(now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS + 1)) == {"sent": 1}
    confirmation = OutboxMessage.objects.get(kind="booking_confirmed")
    assert (confirmation.attempts, confirmation.uncertain_attempts) == (1, 0)  # nothing began: no doubt
    assert len(mail.outbox) == 1


def test_a_worker_dying_after_the_server_accepted_leaves_its_attempt_and_the_copy_keeps_the_message_id(
        reps, now, frozen_clock, settings):
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    settings.EMAIL_BACKEND = "tests.notifications.failing_backend.AcceptThenDie"
    with pytest.raises(WorkerDied):
        send_due(now)
    [delivered] = mail.outbox
    confirmation = OutboxMessage.objects.get(kind="booking_confirmed")
    # the attempt was recorded before the server was spoken to, and never closed
    assert (confirmation.status, confirmation.attempts) == (MessageStatus.SENDING, 1)
    assert confirmation.attempt_started_at == now and confirmation.uncertain_attempts == 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_due(now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS - 1)) == {}  # its worker may be alive
    assert send_due(now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS + 1)) == {"sent": 1}
    confirmation.refresh_from_db()
    assert (confirmation.status, confirmation.attempts, confirmation.uncertain_attempts) == (MessageStatus.SENT, 2, 1)
    assert confirmation.attempt_started_at is None and "may have been delivered" in confirmation.last_error
    _, copy = mail.outbox
    assert copy.extra_headers["Message-ID"] == delivered.extra_headers["Message-ID"] == message_id(confirmation)


def test_a_notice_whose_worker_died_after_acceptance_starts_the_grace_period_only_when_recorded(
        now, frozen_clock, settings):
    case = CaseFactory(notice_sent_at=None, deadline_at=None)
    notice_enqueue(case, now=now)
    settings.EMAIL_BACKEND = "tests.notifications.failing_backend.AcceptThenDie"
    with pytest.raises(WorkerDied):
        send_due(now)
    notice = OutboxMessage.objects.get(kind="notice")
    assert (notice.status, notice.attempts) == (MessageStatus.SENDING, 1) and notice.attempt_started_at == now
    case.refresh_from_db()
    assert case.notice_sent_at is None and case.deadline_at is None  # never a deadline without the record
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    later = now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS + 1)
    assert send_due(later) == {"sent": 1}
    notice.refresh_from_db()
    case.refresh_from_db()
    assert (notice.status, notice.uncertain_attempts) == (MessageStatus.SENT, 1)
    assert case.notice_sent_at == later and case.deadline_at == later + timedelta(days=7)
    assert len(mail.outbox) == 2 and len({m.extra_headers["Message-ID"] for m in mail.outbox}) == 1


def test_a_message_whose_workers_keep_dying_fails_after_its_attempts_flagged_uncertain(
        reps, now, frozen_clock, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    settings.EMAIL_BACKEND = "tests.notifications.failing_backend.AcceptThenDie"
    lease = timedelta(seconds=settings.OUTBOX_LEASE_SECONDS + 1)
    for at in (now, now + lease):
        with pytest.raises(WorkerDied):
            send_due(at)
    assert send_due(now + 2 * lease) == {}
    confirmation = OutboxMessage.objects.get(kind="booking_confirmed")
    assert (confirmation.status, confirmation.attempts, confirmation.uncertain_attempts) == (
        MessageStatus.FAILED, 2, 2)
    assert confirmation.attempt_started_at is None and confirmation.lease_until is None


def test_representative_agenda_once_a_day_in_their_morning(reps, now, frozen_clock):
    from notifications.agenda import agendas_enqueue

    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-02T15:00:00Z"}, format="json")
    assert agendas_enqueue(now=now) == 3  # 12:00 in London, after 07:00
    agendas_enqueue(now=now + timedelta(hours=1))
    assert OutboxMessage.objects.filter(kind="rep_agenda").count() == 3
    send_due(now)
    agendas = [m for m in mail.outbox if m.subject.startswith("Your verification calls today")]
    assert len(agendas) == 3
    assert sum("Monday 2 March 2026, 15:00 (Europe/London, GMT)" in m.body for m in agendas) == 1


def test_case_status_untouched_by_sending(reps, now, frozen_clock):
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": AT}, format="json")
    send_due(now)
    case.refresh_from_db()
    assert case.status == CaseStatus.SCHEDULED


def test_failed_messages_are_visible_in_the_admin_and_can_be_sent_again(admin_client, now, frozen_clock):
    case = CaseFactory()
    failed = OutboxMessage.objects.create(kind="withdrawn", topic=f"case:{case.id}", revision="case-rev-2",
                                          case_ref=case.id,
                                          recipient="x@example.com", context={"first_name": "X"}, due_at=now,
                                          status=MessageStatus.FAILED, attempts=6, last_error="SMTPException: 554",
                                          created_at=now, updated_at=now)
    page = admin_client.get("/admin/notifications/outboxmessage/?status__exact=FAILED")
    assert page.status_code == 200 and b"x@example.com" in page.content
    assert b"SMTPException: 554" in admin_client.get(f"/admin/notifications/outboxmessage/{failed.pk}/change/").content
    admin_client.post("/admin/notifications/outboxmessage/", {"action": "send_again", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert failed.status == MessageStatus.PENDING and failed.attempts == 0
    assert send_due(now) == {"sent": 1}
