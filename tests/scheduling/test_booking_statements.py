"""What one booking costs the database: a case's bookings are found by an index, and a booking just
made does not look for messages or calendar entries that cannot exist yet (issue 15)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import OutboxMessage
from scheduling.models import Booking
from scheduling.selectors import booking_latest_for
from tests.factories import CaseFactory
from verification.models import CaseStatus

pytestmark = pytest.mark.django_db

FIRST = "2026-03-02T13:00:00Z"  # now is Monday 12:00Z; reps work 09-17 London


@pytest.mark.postgres
def test_a_cases_latest_booking_is_read_by_an_index():
    """Without `booking_case_latest_idx` this read scanned every booking ever made (12 ms with
    90,000 of them: most of a booking's database time in bench/http.py)."""
    case = CaseFactory()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the tables are tiny here: make the planner show its index
        query = Booking.objects.filter(case_ref=case.id).order_by("-created_at")[:1]
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "booking_case_latest_idx" in plan, plan
    assert booking_latest_for(case_ref=case.id) is None


def test_a_first_booking_skips_no_lookups_it_needs_and_makes_none_it_does_not(freelancer, case, reps, frozen_clock):
    with CaptureQueriesContext(connection) as queries:
        response = freelancer.post("/api/v1/case/booking", {"starts_at": FIRST}, format="json")
    assert response.status_code == 201, response.content
    statements = [query["sql"] for query in queries.captured_queries]
    # nothing about a booking made in this transaction can be pending or written to a calendar yet
    topic = f"booking:{response.json()['id']}"
    assert not [s for s in statements if "bookingcalendarentry" in s], statements
    assert not [s for s in statements if s.startswith('UPDATE "notifications_outboxmessage"') and topic in s]
    # what it does write: the confirmation and reminders about it, the webhook, the case scheduled
    case.refresh_from_db()
    assert case.status == CaseStatus.SCHEDULED
    assert OutboxMessage.objects.filter(topic=topic, kind="booking_confirmed").exists()


def test_a_moved_booking_still_drops_what_was_queued_about_its_old_time(freelancer, case, reps, frozen_clock):
    booking_id = freelancer.post("/api/v1/case/booking", {"starts_at": FIRST}, format="json").json()["id"]
    topic = f"booking:{booking_id}"
    first = set(OutboxMessage.objects.filter(topic=topic).values_list("pk", flat=True))
    assert first
    moved = freelancer.patch("/api/v1/case/booking", {"starts_at": "2026-03-03T13:00:00Z"}, format="json")
    assert moved.status_code == 200, moved.content
    # the unsent confirmation and reminders of the first time are skipped; new ones replace them
    assert set(OutboxMessage.objects.filter(pk__in=first).values_list("status", flat=True)) == {"SKIPPED"}
    assert OutboxMessage.objects.filter(topic=topic, status="PENDING", kind="booking_confirmed").count() == 1
