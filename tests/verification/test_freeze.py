"""Never frozen without warning, never frozen because of us: each guard with time travel, and the
eligibility API and the sweep always agreeing."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import transaction

from notifications.models import OutboxMessage
from scheduling.models import Booking, BookingStatus, Displacement
from tests.factories import CaseFactory
from tests.helpers import client_for, make_reps, notice_enqueue, send_due
from verification.deadlines.guards import can_submit_proposals, freeze_due, freeze_guard_failures
from verification.deadlines.services import cases_deadline_sweep
from verification.models import AuditEvent, CaseRequest, CaseStatus, RequestKind
from verification.services.cases import case_lock, case_verify
from verification.services.requests import case_hold, case_hold_release, case_request_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def flagged(now):
    """A case whose notice went out at `now` and whose two warnings went out on time."""
    make_reps(1, now=now)
    case = CaseFactory(notice_sent_at=None, deadline_at=None, freelancer__external_id="fl-9")
    notice_enqueue(case, now=now)
    send_due(now)
    case.refresh_from_db()
    return case


def warn(case) -> None:
    send_due(case.deadline_at - timedelta(hours=72))
    send_due(case.deadline_at - timedelta(hours=24))


def eligible(marketplace, case, at) -> bool:
    with time_machine.travel(at, tick=False):
        return marketplace.get(f"/api/v1/freelancers/{case.freelancer.external_id}/eligibility").json()[
            "can_submit_proposals"]


def book_first(case, at) -> None:
    """The freelancer books the first free time, at `at`."""
    with time_machine.travel(at, tick=False):
        first = client_for(case).get("/api/v1/case/availability").json()["days"][0]["times"][0]["starts_at"]
        assert client_for(case).post("/api/v1/case/booking", {"starts_at": first}, format="json").status_code == 201


def sweep(at) -> dict:
    return cases_deadline_sweep(now=at)


def test_all_guards_hold_frozen_at_the_deadline_by_api_and_sweep_alike(flagged, marketplace):
    case = flagged
    warn(case)
    before, after = case.deadline_at - timedelta(minutes=1), case.deadline_at + timedelta(minutes=1)
    assert eligible(marketplace, case, before) is True  # the grace period: proposals work
    # past the deadline, before any sweep ran: the stored decision stands until the sweep makes
    # the new one (at most a sweep interval later), and the guards say it will freeze
    assert eligible(marketplace, case, after) is True
    assert freeze_due(case, now=after) and not freeze_due(case, now=before)
    assert sweep(after) == {"frozen": 1}
    case.refresh_from_db()
    assert case.status == CaseStatus.FROZEN and case.frozen_at == after
    assert eligible(marketplace, case, after) is False
    assert AuditEvent.objects.filter(case=case, action="frozen").count() == 1
    send_due(after)
    assert mail.outbox[-1].subject == "Submitting proposals is paused until you confirm your profile"
    assert case.standing_snapshot == {"badges": ["Top Rated"]}  # a hold never strips the standing


def test_guard_warned_missing_warning_extends_and_says_why(flagged, marketplace):
    case = flagged
    send_due(case.deadline_at - timedelta(hours=72))  # the 24 h warning never went out (workers down)
    after = case.deadline_at + timedelta(minutes=1)
    assert eligible(marketplace, case, after) is True
    assert not freeze_due(case, now=after)  # a guard fails: the sweep will extend
    assert sweep(after) == {"extended": 1}
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.deadline_at == after + timedelta(hours=48)
    event = AuditEvent.objects.get(case=case, action="deadline_extended")
    assert event.after["guard"] == "warned" and "24 h warning was not sent" in event.reason
    # the freelancer is told, and warned again for the new deadline
    assert OutboxMessage.objects.filter(case_ref=case.id, kind="deadline_extended", status="PENDING").exists()
    warn(case)
    assert sweep(case.deadline_at + timedelta(minutes=1)) == {"frozen": 1}


def test_guard_warned_last_warning_too_close_to_the_deadline(flagged):
    case = flagged
    send_due(case.deadline_at - timedelta(hours=72))
    send_due(case.deadline_at - timedelta(hours=2))  # the 24 h warning, sent late: 2 h before
    [failure] = freeze_guard_failures(case)
    assert failure.guard == "warned" and "less than 12:00:00" in failure.why


def test_guard_notice_never_sent(now, marketplace):
    make_reps(1, now=now)
    case = CaseFactory(notice_sent_at=None, deadline_at=None)
    assert can_submit_proposals(case)
    assert not freeze_due(case, now=now + timedelta(days=30))


def test_guard_booked_call_decides_even_after_the_deadline(flagged, marketplace):
    case = flagged
    warn(case)
    book_first(case, case.deadline_at - timedelta(hours=2))
    after = case.deadline_at + timedelta(hours=1)
    assert eligible(marketplace, case, after) is True
    assert not freeze_due(case, now=after)  # a guard fails: the sweep will extend
    assert sweep(after) == {}
    case.refresh_from_db()
    assert case.status == CaseStatus.SCHEDULED


def test_guard_pending_accommodation_extends(flagged, marketplace, now):
    case = flagged
    warn(case)
    case_request_create(case_id=case.id, kind=RequestKind.ACCOMMODATION, need="no_camera", actor="freelancer",
                                 now=now)
    after = case.deadline_at + timedelta(minutes=1)
    assert eligible(marketplace, case, after) is True
    assert not freeze_due(case, now=after)  # a guard fails: the sweep will extend
    assert sweep(after) == {"extended": 1}
    assert AuditEvent.objects.get(case=case, action="deadline_extended").after["guard"] == "nothing_pending"


def test_guard_admin_hold_extends_until_released(flagged, now):
    case = flagged
    warn(case)
    case_hold(case_id=case.id, actor="user:ada", reason="checking a complaint", now=now)
    assert [f.guard for f in freeze_guard_failures(case)] == ["nothing_pending"]
    case_hold_release(case_id=case.id, actor="user:ada", reason="done", now=now)
    assert freeze_guard_failures(case) == []


def test_guard_our_cancellation_not_made_good_extends(flagged, now):
    case = flagged
    warn(case)
    book_first(case, now)
    Booking.objects.filter(case_ref=case.id).update(status=BookingStatus.CANCELLED, displacement=Displacement.CANCELLED,
                                                    displaced_at=now)
    assert [f.guard for f in freeze_guard_failures(case)] == ["no_fault_of_ours"]


def test_guard_too_few_bookable_times_offered_extends(now, marketplace):
    case = CaseFactory(notice_sent_at=None, deadline_at=None)  # no representative works at all
    notice_enqueue(case, now=now)
    send_due(now)
    case.refresh_from_db()
    warn(case)
    after = case.deadline_at + timedelta(minutes=1)
    assert eligible(marketplace, case, after) is True
    assert not freeze_due(case, now=after)  # a guard fails: the sweep will extend
    assert sweep(after) == {"extended": 1}
    event = AuditEvent.objects.get(case=case, action="deadline_extended")
    assert event.after["guard"] == "offered_enough" and "only 0 bookable times" in event.reason


def test_a_frozen_freelancer_can_book_and_stays_frozen_until_verified(flagged, marketplace):
    case = flagged
    warn(case)
    after = case.deadline_at + timedelta(minutes=1)
    sweep(after)
    book_first(case, after)
    case.refresh_from_db()
    assert case.status == CaseStatus.SCHEDULED
    assert eligible(marketplace, case, after) is False


def test_admin_unfreeze_gives_a_new_deadline(flagged, admin_client, marketplace):
    case = flagged
    warn(case)
    after = case.deadline_at + timedelta(minutes=1)
    sweep(after)
    with time_machine.travel(after, tick=False):
        admin_client.post("/admin/verification/case/", {"action": "action_case_unfreeze",
                                                        "_selected_action": [case.pk], "reason": "Our mistake"})
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.frozen_at is None
    assert case.deadline_at == after + timedelta(hours=48)
    assert eligible(marketplace, case, after) is True
    assert not freeze_due(case, now=after)  # the new deadline is ahead


def test_self_service_extension_once_before_the_deadline(flagged, now):
    case = flagged
    client = client_for(case)
    with time_machine.travel(now + timedelta(days=1), tick=False):
        response = client.post("/api/v1/case/extension")
        assert response.status_code == 200, response.content
        assert response.json()["deadline_at"] == (case.deadline_at + timedelta(days=3)).isoformat().replace(
            "+00:00", "Z")
        again = client.post("/api/v1/case/extension")
    assert again.status_code == 409 and again.json()["code"] == "extension_not_allowed"
    assert CaseRequest.objects.filter(case=case, kind=RequestKind.EXTENSION).count() == 1
    late = CaseFactory(notice_sent_at=now - timedelta(days=8), deadline_at=now - timedelta(hours=1))
    with time_machine.travel(now, tick=False):
        assert client_for(late).post("/api/v1/case/extension").json()["code"] == "extension_not_allowed"


def test_accommodation_request_through_the_api(flagged, now):
    with time_machine.travel(now, tick=False):
        response = client_for(flagged).post("/api/v1/case/accommodation", {"need": "phone_only",
                                                                           "note": "no webcam"}, format="json")
        assert response.status_code == 201 and response.json()["status"] == "PENDING"
        bad = client_for(flagged).post("/api/v1/case/accommodation", {"need": "vibes"}, format="json")
        twice = client_for(flagged).post("/api/v1/case/accommodation", {"need": "other"}, format="json")
    assert bad.status_code == 400 and twice.status_code == 409
    assert CaseRequest.objects.filter(case=flagged).count() == 1


def test_sweep_touches_only_due_cases(flagged, now):
    case = flagged
    warn(case)
    CaseFactory.create_batch(3, deadline_at=now + timedelta(days=30))
    assert sweep(case.deadline_at + timedelta(minutes=1)) == {"frozen": 1}
    assert sweep(case.deadline_at + timedelta(minutes=2)) == {}


def test_verified_unfreezes_at_once_and_restores_the_standing(flagged, marketplace):
    from notifications.models import WebhookEndpoint

    WebhookEndpoint.objects.create(name="m", url="http://127.0.0.1:9/hooks", events=["case.verified"])
    case = flagged
    warn(case)
    after = case.deadline_at + timedelta(minutes=1)
    sweep(after)
    book_first(case, after)
    assert eligible(marketplace, case, after) is False  # frozen, booked
    later = after + timedelta(days=1)
    with transaction.atomic():
        locked, at = case_lock(case.id, now=later)
        case_verify(case=locked, actor="user:rep", reason="checklist passed", now=at)
    case.refresh_from_db()
    assert case.status == CaseStatus.VERIFIED and case.standing_restored_at == later and case.frozen_at is None
    assert eligible(marketplace, case, later) is True
    hook = OutboxMessage.objects.get(kind="webhook:case.verified")
    assert hook.context["body"]["data"]["standing"] == {"badges": ["Top Rated"]}
    assert hook.context["body"]["data"]["can_submit_proposals"] is True
    assert OutboxMessage.objects.filter(case_ref=case.id, kind="verified", status="PENDING").exists()
