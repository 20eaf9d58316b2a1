"""Why deadlines moved, read back from what the real services write to the audit log."""

from datetime import timedelta

import pytest

from scheduling.models import Booking
from tests.factories import CaseFactory
from tests.helpers import client_for, make_reps
from verification.deadlines.services import case_deadline_check, case_extend, case_extension_request
from verification.operations.funnel import funnel
from verification.operations.period import Period
from verification.services.no_shows import booking_rep_no_show
from verification.services.requests import case_hold

pytestmark = pytest.mark.django_db


def test_each_kind_of_extension_is_told_apart(now, frozen_clock):
    make_reps(1, now=now)
    flagged = now - timedelta(days=2)
    new = {"created_at": flagged, "notice_sent_at": flagged}
    self_extended, by_admin, held, unwarned, missed, untouched = (CaseFactory(**new) for _ in range(6))
    case_extension_request(case_id=self_extended.id, actor="freelancer", now=now)
    case_extend(case_id=by_admin.id, actor="user:ada", reason="Asked by support", now=now)
    case_hold(case_id=held.id, actor="user:ada", reason="Investigating", now=now)
    for case in (held, unwarned):  # past the deadline, warnings never sent: the sweep extends
        case_deadline_check(case_id=case.id, now=case.deadline_at + timedelta(minutes=1))
    client_for(missed).post("/api/v1/case/booking", {"starts_at": "2026-03-02T13:00:00Z"}, format="json")
    booking = Booking.objects.get(case_ref=missed.id)
    assert booking_rep_no_show(booking_id=booking.id, now=booking.ends_at + timedelta(minutes=10))

    result = funnel(period=Period(start=now - timedelta(days=7), end=now, zone_name="UTC", days=7, now=now))
    assert result.counts["flagged"] == 6 and result.extended_cases == 5
    # the held case failed two guards (the warnings, and the hold: not counted as "an accommodation pending")
    assert result.extensions == {"self": 1, "admin": 1, "hold": 1, "warned": 2, "rep_no_show": 1}
    assert untouched.audit_events.filter(action="deadline_extended").count() == 0
