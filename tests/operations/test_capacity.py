"""The forecast on hand-built data where the answer is known."""

import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from scheduling.models import Booking, BookingStatus
from scheduling.services.slots import representatives_slots_sync_all
from tests.operations.builders import cases, representatives
from verification.checklist import checklist_current
from verification.models import AccommodationNeed, CallRecord, CaseRequest, Outcome, RequestKind
from verification.operations.capacity import MIN_HISTORY, day_shares, forecast, rep_hours, spread_demand

NOW = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # a Monday, just after midnight UTC


def test_without_history_each_case_is_spread_evenly_until_its_deadline():
    assert day_shares(days_left=3, leads=None) == [0.25, 0.25, 0.25, 0.25]
    assert day_shares(days_left=-2, leads=None) == [1.0]  # past its deadline: due today
    # 4 cases due on day 1 and 3 due on day 2: day 0 gets 4/2 + 3/3, day 1 the same, day 2 only 1
    assert spread_demand(due={1: 4, 2: 3}, leads=None, horizon=4) == [3.0, 3.0, 1.0, 0.0]


def test_with_history_cases_follow_the_observed_lead():
    leads = {0: 30, 2: 10}  # three calls in four on the deadline day, one two days before
    assert day_shares(days_left=3, leads=leads) == [0.0, 0.25, 0.0, 0.75]
    assert day_shares(days_left=1, leads=leads) == [0.0, 1.0]  # only leads it can still have count
    assert spread_demand(due={3: 8}, leads=leads, horizon=2) == [0.0, 2.0]  # beyond the horizon: cut


def test_representative_hours_at_twelve_calls_an_hour():
    assert rep_hours(12) == 1.0 and rep_hours(1) == 0.1 and rep_hours(13) == 1.1


@pytest.fixture
def world(db):
    """2 representatives (en; one also pt, only one by phone), 09:00-10:00 UTC every day: 12 slots each."""
    with time_machine.travel(NOW, tick=False):
        [both] = representatives(1, languages=("en", "pt"), phone=True, hours=(time(9), time(10)))
        [english] = representatives(1, languages=("en",), phone=False, hours=(time(9), time(10)))
        representatives_slots_sync_all(now=NOW)
    return both, english


def test_a_day_short_of_slots_is_flagged_with_the_hours_that_close_it(world):
    # 60 Portuguese speakers due by the end of day 1 (tomorrow), no history: 30 a day on days 0 and 1
    cases(60, at=NOW - timedelta(days=6), deadline_at=datetime(2026, 3, 3, 20, tzinfo=UTC), language="pt")
    # 14 English speakers due on day 13: one a day
    cases(14, at=NOW - timedelta(days=1), deadline_at=datetime(2026, 3, 15, 12, tzinfo=UTC))
    result = forecast(now=NOW, zone_name="UTC")
    assert result.method == "uniform" and result.open_cases == 74
    day0, day1, day5 = result.days[0], result.days[1], result.days[5]
    assert (day0.total.supply, day0.languages["pt"].supply, day0.languages["en"].supply) == (24, 12, 24)
    assert day0.phone.supply == 12
    assert day0.languages["pt"].demand == pytest.approx(30) and day0.total.demand == pytest.approx(31)
    assert day0.total.flagged and day0.total.short == pytest.approx(7) and day0.total.rep_hours == 0.6
    assert day0.languages["pt"].flagged and day0.languages["pt"].rep_hours == 1.5  # 18 calls short
    assert not day0.languages["en"].flagged and not day0.phone.flagged  # nobody asked for the phone
    assert day1.flagged_routes == ["all calls", "language pt"]
    assert day5.flagged_routes == [] and day5.total.demand == pytest.approx(1)


def test_phone_needs_and_a_zone_move_the_days(world):
    [case] = cases(1, at=NOW - timedelta(days=6), deadline_at=datetime(2026, 3, 2, 23, tzinfo=UTC))
    CaseRequest.objects.create(case=case, kind=RequestKind.ACCOMMODATION, need=AccommodationNeed.PHONE_ONLY,
                               created_by="freelancer", created_at=NOW)
    utc = forecast(now=NOW, zone_name="UTC")
    assert utc.days[0].phone.demand == pytest.approx(1) and utc.days[0].total.demand == pytest.approx(1)
    # in Tokyo (UTC+9) it is already Monday 09:30 and that deadline is Tuesday 08:00: two days to spread over
    tokyo = forecast(now=NOW, zone_name="Asia/Tokyo")
    assert [round(d.total.demand, 2) for d in tokyo.days[:3]] == [0.5, 0.5, 0.0]
    assert tokyo.days[0].total.supply == 24  # 09:00-10:00 UTC is 18:00-19:00 in Tokyo, the same day


def test_enough_history_replaces_the_even_spread(world):
    both, _ = world
    # the last 30 days: 40 calls, each on the day of its case's deadline
    history = cases(40, at=NOW - timedelta(days=20), deadline_at=NOW - timedelta(days=3), status="VERIFIED")
    Booking.objects.bulk_create(
        Booking(case_ref=c.id, representative=both, starts_at=NOW - timedelta(days=3, minutes=20),
                ends_at=NOW - timedelta(days=3, minutes=15), status=BookingStatus.DONE, attendee_email="x@example.com",
                attendee_name="X", phone=i % 4 == 0, created_at=NOW - timedelta(days=5),
                updated_at=NOW - timedelta(days=3)) for i, c in enumerate(history))
    CallRecord.objects.bulk_create(
        CallRecord(booking_id=uuid.uuid4(), case=c, representative_user=both.user, checklist=checklist_current(now=NOW),
                   started_at=NOW - timedelta(days=3, minutes=20), outcome=Outcome.VERIFIED,
                   outcome_at=NOW - timedelta(days=3, minutes=17)) for c in history)
    assert len(history) >= MIN_HISTORY
    cases(10, at=NOW - timedelta(days=1), deadline_at=datetime(2026, 3, 6, 12, tzinfo=UTC))
    result = forecast(now=NOW, zone_name="UTC")
    assert result.method == "observed" and result.history_calls == 40 and result.phone_share == 0.25
    assert [round(d.total.demand, 1) for d in result.days[:6]] == [0, 0, 0, 0, 10.0, 0]
    assert result.days[4].phone.demand == pytest.approx(2.5)
