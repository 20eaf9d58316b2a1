"""GET /api/v1/case/availability from a cache (docs/benchmarks.md, issue 15): a repeated question
is answered without reading slots, and every write that can change availability invalidates the
cached answers once it commits (scheduling.generation), so the very next answer shows the change.

The tests run inside a transaction that never commits: `on_commit` (the bump) runs when
`django_capture_on_commit_callbacks(execute=True)` ends, as it would after a real commit."""

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.admin.sites import site as admin_site
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer

from scheduling.generation import GENERATION_KEY, day_generation_key, slots_changed, slots_generation, slots_generations
from scheduling.models import Booking, RepresentativeLanguage, Slot
from scheduling.selectors import availability_list
from scheduling.services.bookings import booking_cancel, booking_create, booking_move
from scheduling.services.calendars import booking_hand_over, calendar_connect_ical
from scheduling.services.hours import time_off_add, working_hours_add
from scheduling.services.slots import slots_past_prune
from tests.factories import CaseFactory
from tests.helpers import make_reps
from verification import selectors
from verification.models import CaseStatus

pytestmark = pytest.mark.django_db

T = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)  # a Tuesday: London reps work 09-17 (= UTC in March)
T2 = T + timedelta(hours=1)


def starts(freelancer, **params) -> set[datetime]:
    response = freelancer.get("/api/v1/case/availability", params)
    assert response.status_code == 200, response.content
    return {datetime.fromisoformat(entry["starts_at"]) for day in response.json()["days"] for entry in day["times"]}


def slot_queries(queries) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if "scheduling_slot" in query["sql"]]


def book(case_ref, at: datetime, now: datetime) -> Booking:
    return booking_create(case_ref=case_ref, starts_at=at, attendee_email="a@example.com", attendee_name="A",
                          now=now)


@pytest.fixture
def rep(db, now):
    [rep] = make_reps(1, now=now)
    return rep


def test_a_repeated_question_is_answered_from_the_cache(freelancer, rep, frozen_clock):
    first = freelancer.get("/api/v1/case/availability")
    with CaptureQueriesContext(connection) as queries:
        second = freelancer.get("/api/v1/case/availability")
    assert second.status_code == 200 and second["Content-Type"] == "application/json"
    assert second.content == first.content and T in starts(freelancer)
    assert slot_queries(queries) == []  # no slot read: the answer came from the cache
    # another question (a language) is another answer
    with CaptureQueriesContext(connection) as queries:
        assert starts(freelancer, language="es") == set()
    assert slot_queries(queries)


def test_no_cache_when_it_is_off(freelancer, rep, frozen_clock, settings):
    cached = freelancer.get("/api/v1/case/availability").content
    settings.AVAILABILITY_CACHE_SECONDS = 0
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            uncached = freelancer.get("/api/v1/case/availability").content
        assert slot_queries(queries)  # read every time
    assert uncached == cached  # the same bytes, cached or not
    assert uncached == JSONRenderer().render(json.loads(uncached))  # and as DRF's renderer writes them


def test_an_unreachable_cache_still_answers(freelancer, rep, frozen_clock, settings):
    expected = freelancer.get("/api/v1/case/availability").content
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1"}}  # nobody there
    response = freelancer.get("/api/v1/case/availability")
    assert response.status_code == 200 and response.content == expected  # from the database


def test_the_window_is_rounded_up_to_the_minute(freelancer, rep, now, settings):
    for seconds in (60, 0):  # cached or not
        settings.AVAILABILITY_CACHE_SECONDS = seconds
        with time_machine.travel(now + timedelta(seconds=30.5), tick=False):
            body = freelancer.get("/api/v1/case/availability").json()
        # one hour's notice from 12:00:30.5 and the deadline (7 days after 12:00): up to the minute
        assert (body["from"], body["to"]) == ("2026-03-02T13:01:00Z", "2026-03-09T12:00:00Z")
        assert body["days"][0]["times"][0]["starts_at"] == "2026-03-02T13:05:00Z"  # 13:00 is before `from`
        with time_machine.travel(now + timedelta(seconds=59), tick=False):  # the same minute: the same answer
            with CaptureQueriesContext(connection) as queries:
                assert freelancer.get("/api/v1/case/availability").json() == body
        assert bool(slot_queries(queries)) == (seconds == 0)


# Each write site, after an answer is cached: what changes. Each fails if that site's bump is removed.

CASE_REF = uuid.UUID(int=1)


def _site(name, rep, now, ics_server, settings):
    """(prepare before the first read, the write, times that must be gone after it, times back)."""
    prepare, gone, back = (lambda: None), set(), set()
    if name == "booking":
        def write():
            book(uuid.uuid4(), T, now)
        gone = {T}
    elif name == "cancel":
        def prepare():
            book(CASE_REF, T, now)

        def write():
            booking_cancel(case_ref=CASE_REF, reason="test", now=now)
        back = {T}
    elif name == "move":
        def prepare():
            book(CASE_REF, T, now)

        def write():
            booking_move(case_ref=CASE_REF, starts_at=T2, now=now)
        gone, back = {T2}, {T}
    elif name == "hand over":  # a colleague takes the call at the same time; the old slot goes
        make_reps(1, now=now)

        def prepare():
            book(CASE_REF, T, now)

        def write():
            booking_hand_over(booking_id=Booking.objects.get(case_ref=CASE_REF).pk, representative_id=None,
                              actor="test", now=now)
        gone = {T}
    elif name == "hours added":
        def write():
            working_hours_add(representative_id=rep.pk, weekday=1, starts=time(17), ends=time(18), now=now)
        back = {datetime(2026, 3, 3, 17, 0, tzinfo=UTC)}
    elif name == "time off":
        def write():
            time_off_add(representative_id=rep.pk, starts_at=T, ends_at=T2, note="", now=now)
        gone = {T}
    elif name == "calendar busy time":
        settings.DEBUG = True  # the test's calendar is served over http on loopback
        ics_server.body = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:m@x\r\n"
                           b"DTSTART:20260303T100000Z\r\nDTEND:20260303T103000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")

        def write():
            calendar_connect_ical(representative_id=rep.pk, url=ics_server.url, actor="test", now=now)
        gone = {T, T + timedelta(minutes=25)}
    elif name == "representative deactivated":
        def write():
            rep.active = False
            rep.save(update_fields=["active"])
        gone = {T, T2}
    elif name == "no phone calls":
        def write():
            rep.can_take_phone_calls = False
            rep.save(update_fields=["can_take_phone_calls"])
        gone = {T, T2}
    elif name == "language removed":
        def write():
            RepresentativeLanguage.objects.get(representative=rep, code="en").delete()
        gone = {T, T2}
    elif name == "slot deleted in the admin":
        def write():
            admin_site._registry[Slot].delete_queryset(None, Slot.objects.filter(starts_at=T))
        gone = {T}
    return prepare, write, gone, back


@pytest.mark.parametrize("name", ["booking", "cancel", "move", "hand over", "hours added", "time off",
                                  "calendar busy time", "representative deactivated", "no phone calls",
                                  "language removed", "slot deleted in the admin"])
def test_the_very_next_answer_shows_each_change(name, freelancer, rep, now, frozen_clock, ics_server, settings,
                                               django_capture_on_commit_callbacks):
    prepare, write, gone, back = _site(name, rep, now, ics_server, settings)
    params = {"language": "en", "phone": "true"}
    with django_capture_on_commit_callbacks(execute=True):
        prepare()
    before = starts(freelancer, **params)
    assert starts(freelancer, **params) == before  # cached now
    assert gone <= before and not back & before
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        write()
    assert callbacks  # the bump waits for the commit
    after = starts(freelancer, **params)
    assert not gone & after and back <= after


def test_nothing_is_invalidated_before_the_commit(freelancer, rep, now, frozen_clock,
                                                 django_capture_on_commit_callbacks):
    generation = slots_generation()
    with django_capture_on_commit_callbacks(execute=False):
        book(uuid.uuid4(), T, now)
    assert slots_generation() == generation  # no commit yet: no bump (a reader would cache the old rows)


def test_the_prune_bumps_the_generation(rep, now, django_capture_on_commit_callbacks):
    """Only past slots go, never in a window (which starts after now): still, it invalidates."""
    Slot.objects.create(representative=rep, starts_at=now - timedelta(days=1),
                        ends_at=now - timedelta(days=1) + timedelta(minutes=5))
    generation = slots_generation()
    with django_capture_on_commit_callbacks(execute=True):
        assert slots_past_prune(before=now, now=now) == 1
    assert slots_generation() != generation


# The answer is assembled from one cached fragment per local day (verification.selectors): a booking
# recomputes its own day only, and the assembled bytes are what DRF's renderer writes.

LONDON, KOLKATA = ZoneInfo("Europe/London"), ZoneInfo("Asia/Kolkata")


def local_midnight(day: date, zone=LONDON) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


@pytest.fixture
def ranges_read(monkeypatch) -> list[tuple[datetime, datetime]]:
    """The [start, end) of each availability query the selector runs."""
    read = []

    def recording(*, start, end, **kwargs):
        read.append((start, end))
        return availability_list(start=start, end=end, **kwargs)

    monkeypatch.setattr(selectors, "availability_list", recording)
    return read


def test_a_booking_recomputes_its_own_day_only(freelancer, case, rep, now, frozen_clock, ranges_read,
                                               django_capture_on_commit_callbacks):
    params = {"language": "en", "phone": "true", "timezone": "Europe/London"}  # local days = UTC dates in March
    before = starts(freelancer, **params)
    assert len(ranges_read) == 1 and T in before  # every day computed at once, in one query
    ranges_read.clear()
    with django_capture_on_commit_callbacks(execute=True):
        book(uuid.uuid4(), T, now)
    response = freelancer.get("/api/v1/case/availability", params)
    after = {datetime.fromisoformat(entry["starts_at"]) for day in response.json()["days"] for entry in day["times"]}
    assert after == before - {T}
    # one query, over Tuesday 3 March (London) only: every other day came from the cache
    assert ranges_read == [(local_midnight(date(2026, 3, 3)), local_midnight(date(2026, 3, 4)))]
    assert response.content == JSONRenderer().render(selectors.case_availability(
        case=case, now=now, language="en", phone=True, zone_name="Europe/London"))


def test_in_a_zone_off_utc_midnight_a_booking_recomputes_the_two_days_overlapping_its_utc_date(
        freelancer, rep, now, frozen_clock, ranges_read, django_capture_on_commit_callbacks):
    before = starts(freelancer)  # the freelancer's zone: Asia/Kolkata, UTC+05:30
    ranges_read.clear()
    with django_capture_on_commit_callbacks(execute=True):
        book(uuid.uuid4(), T, now)
    assert starts(freelancer) == before - {T}
    # 3 March UTC lies in 3 and 4 March in Kolkata: both again, in one query; the other days cached
    assert ranges_read == [(local_midnight(date(2026, 3, 3), KOLKATA), local_midnight(date(2026, 3, 5), KOLKATA))]


def test_a_move_recomputes_its_old_and_new_days(freelancer, rep, now, frozen_clock, ranges_read,
                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        book(CASE_REF, T, now)
    before = starts(freelancer)
    ranges_read.clear()
    with django_capture_on_commit_callbacks(execute=True):
        booking_move(case_ref=CASE_REF, starts_at=T + timedelta(days=2), now=now)
    assert starts(freelancer) == before - {T + timedelta(days=2)} | {T}
    # the Kolkata days overlapping 3 and 5 March UTC (3-6 March), in one query; 4-5 March are
    # read by it too (between the missing ones), 7 March and later come from the cache
    assert ranges_read == [(local_midnight(date(2026, 3, 3), KOLKATA), local_midnight(date(2026, 3, 7), KOLKATA))]
    ranges_read.clear()
    assert starts(freelancer) == before - {T + timedelta(days=2)} | {T} and ranges_read == []


def test_a_representative_edit_recomputes_every_day(freelancer, rep, now, frozen_clock, ranges_read,
                                                     django_capture_on_commit_callbacks):
    starts(freelancer)
    [(start, end)] = ranges_read
    ranges_read.clear()
    with django_capture_on_commit_callbacks(execute=True):
        rep.can_take_phone_calls = False
        rep.save(update_fields=["can_take_phone_calls"])
    assert starts(freelancer) and ranges_read == [(start, end)]  # the whole window again


def test_a_booking_bumps_only_its_utc_date(rep, now, django_capture_on_commit_callbacks):
    days = [date(2026, 3, 3), date(2026, 3, 4)]
    generations = slots_generations(days)
    with django_capture_on_commit_callbacks(execute=True):
        book(uuid.uuid4(), T, now)
    after = slots_generations(days)
    assert after[day_generation_key(days[0])] != generations[day_generation_key(days[0])]
    assert {key: after[key] for key in (GENERATION_KEY, day_generation_key(days[1]))} == {
        key: generations[key] for key in (GENERATION_KEY, day_generation_key(days[1]))}


def test_a_lost_day_generation_comes_back_unused(django_capture_on_commit_callbacks):
    key = day_generation_key(date(2026, 3, 3))
    first = slots_generations([date(2026, 3, 3)])[key]
    cache.delete(key)  # evicted or flushed
    with django_capture_on_commit_callbacks(execute=True):
        slots_changed(instants=[T])
    assert cache.get(key) > first  # a number never used before: the clock in ns, not 1


@pytest.mark.parametrize(("zone", "now_at", "rep_zones"), [
    # spring forward (Sunday 8 March: a 23-hour day) and, for the Kolkata half hour, the same week
    ("America/New_York", datetime(2026, 3, 2, 12, 0, tzinfo=UTC), ["Europe/London", "Asia/Tokyo"]),
    ("Asia/Kolkata", datetime(2026, 3, 2, 12, 0, tzinfo=UTC), ["Europe/London", "Asia/Tokyo"]),
    # fall back (Sunday 1 November: 25 hours, 01:00-02:00 twice, served by London's Sunday hours below)
    ("America/New_York", datetime(2026, 10, 27, 12, 0, tzinfo=UTC), ["Europe/London", "Asia/Tokyo"]),
])
def test_assembled_days_are_what_the_renderer_writes(zone, now_at, rep_zones, db, ranges_read,
                                                     django_capture_on_commit_callbacks):
    with time_machine.travel(now_at, tick=False):
        reps = [make_reps(1, now=now_at, zone=rep_zone)[0] for rep_zone in rep_zones]
        # Sundays 01:00-08:00 London (= UTC in November): New York's 01:00-02:00 twice on 1 November
        working_hours_add(representative_id=reps[0].pk, weekday=6, starts=time(1), ends=time(8), now=now_at)
        case = CaseFactory(status=CaseStatus.FROZEN)  # the next 14 days

        def uncached():
            return JSONRenderer().render(selectors.case_availability(case=case, now=now_at, zone_name=zone))

        ranges_read.clear()
        assembled = selectors.case_availability_json(case=case, now=now_at, zone_name=zone)  # all computed
        assert len(ranges_read) == 1 and assembled == uncached()
        body = json.loads(assembled)
        assert len(body["days"]) >= 6 and all(day["times"] for day in body["days"])
        assert {"2026-03-08", "2026-11-01"} & {day["date"] for day in body["days"]} or zone == "Asia/Kolkata"
        if now_at.month == 10:
            assert {"01:30 EDT", "01:30 EST"} <= {t["local_time"] for day in body["days"] for t in day["times"]}
        ranges_read.clear()
        assert selectors.case_availability_json(case=case, now=now_at, zone_name=zone) == assembled  # all cached
        assert ranges_read == []
        # a booking on the offset change's night: that local day again, the rest from the cache
        at = datetime(2026, 11, 1, 6, 30, tzinfo=UTC) if now_at.month == 10 else datetime(2026, 3, 9, 0, 30,
                                                                                           tzinfo=UTC)
        at_json = f'"{at.isoformat().replace("+00:00", "Z")}"'.encode()
        assert at_json in assembled
        with django_capture_on_commit_callbacks(execute=True):
            book(uuid.uuid4(), at, now_at)
        ranges_read.clear()
        assembled = selectors.case_availability_json(case=case, now=now_at, zone_name=zone)
        [(start, end)] = ranges_read
        assert end - start <= timedelta(hours=49)  # the local days over its UTC date only
        assert assembled == uncached() and at_json not in assembled
