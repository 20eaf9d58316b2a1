"""On the night clocks go back a wall-clock time happens twice. A representative in another zone
can work through that night, so the freelancer is offered both instants: every label they see (the
API's `local_time`, the time picker, the emails) must tell the two apart. Other times are unchanged."""

import re
from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.core import mail

from scheduling.services.slots import representatives_slots_sync_all
from tests.factories import CaseFactory, RepresentativeFactory, WorkingHoursFactory
from tests.helpers import client_for, send_due
from verification.links import freelancer_token

pytestmark = pytest.mark.django_db

NIGHTS = {
    # zone: (now, the representative's zone, weekday and hours there, the freelancer's day,
    #        the two instants with the same wall time, their labels, their long forms, times around them)
    "America/New_York": (
        "2026-10-31T12:00:00Z", "UTC", 6, (time(4), time(8)), "2026-11-01",
        ("2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"), ("01:30 EDT", "01:30 EST"),
        ("Sunday 1 November 2026, 01:30 (America/New_York, EDT)",
         "Sunday 1 November 2026, 01:30 (America/New_York, EST)"),
        {"2026-11-01T04:30:00Z": "00:30", "2026-11-01T07:30:00Z": "02:30"},
    ),
    "Europe/London": (
        "2026-10-24T12:00:00Z", "Asia/Kolkata", 6, (time(5), time(8)), "2026-10-25",
        ("2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"), ("01:30 BST", "01:30 GMT"),
        ("Sunday 25 October 2026, 01:30 (Europe/London, BST)", "Sunday 25 October 2026, 01:30 (Europe/London, GMT)"),
        {"2026-10-24T23:30:00Z": "00:30", "2026-10-25T02:00:00Z": "02:00"},
    ),
    "Australia/Lord_Howe": (  # half an hour back; its abbreviations are numbers (+11, +1030): the offset
        "2026-04-03T12:00:00Z", "UTC", 5, (time(14), time(16)), "2026-04-05",
        ("2026-04-04T14:30:00Z", "2026-04-04T15:00:00Z"), ("01:30 (UTC+11)", "01:30 (UTC+10:30)"),
        ("Sunday 5 April 2026, 01:30 (Australia/Lord_Howe, UTC+11)",
         "Sunday 5 April 2026, 01:30 (Australia/Lord_Howe, UTC+10:30)"),
        {"2026-04-04T14:00:00Z": "01:00", "2026-04-04T15:30:00Z": "02:00"},
    ),
}


@pytest.fixture(params=list(NIGHTS), ids=lambda zone: zone.split("/")[1])
def night(request):
    """A representative working through the freelancer's fall-back night, and the freelancer's case."""
    zone = request.param
    now_text, rep_zone, weekday, (starts, ends), *rest = NIGHTS[zone]
    now = datetime.fromisoformat(now_text)
    with time_machine.travel(now, tick=False):
        rep = RepresentativeFactory(timezone=rep_zone)
        WorkingHoursFactory(representative=rep, weekday=weekday, starts=starts, ends=ends)
        representatives_slots_sync_all(now=now)
        case = CaseFactory(freelancer__timezone=zone, notice_sent_at=now, deadline_at=now + timedelta(days=7))
        yield zone, now, case, *rest


def test_the_api_labels_the_two_occurrences_apart_and_leaves_other_times_plain(night):
    zone, now, case, day, instants, labels, _, around = night
    body = client_for(case).get("/api/v1/case/availability", {"from": day, "to": day}).json()
    assert body["timezone"] == zone
    [listed] = body["days"]
    by_instant = {t["starts_at"]: t["local_time"] for t in listed["times"]}
    assert (by_instant[instants[0]], by_instant[instants[1]]) == labels
    assert {instant: by_instant[instant] for instant in around} == around  # a normal time stays "HH:MM"
    # every one of the day's times has its own label
    assert len(set(by_instant.values())) == len(by_instant)


def test_the_time_picker_labels_the_two_occurrences_apart(client, night):
    zone, now, case, day, instants, labels, *_ = night
    page = client.get(f"/c/{freelancer_token(case)}/book/", {"day": day})
    assert page.status_code == 200
    day_times = page.content.decode().split('id="day-times"', 1)[1]
    shown = dict(re.findall(r'<input type="radio" name="starts_at" value="([^"]+)"[^>]*><span class="t">([^<]+)</span>',
                            day_times))
    assert (shown[instants[0]], shown[instants[1]]) == labels
    assert len(set(shown.values())) == len(shown)


def test_the_confirmation_emails_name_which_occurrence(night):
    zone, now, case, day, instants, labels, long_forms, _ = night
    other = CaseFactory(freelancer__timezone=zone, notice_sent_at=now, deadline_at=now + timedelta(days=7))
    with time_machine.travel(now, tick=False):
        for who, instant in zip((case, other), instants, strict=True):
            response = client_for(who).post("/api/v1/case/booking", {"starts_at": instant}, format="json")
            assert response.status_code == 201, response.content
    assert send_due(now) == {"sent": 2}
    subjects = {email.to[0]: email.subject for email in mail.outbox}
    bodies = {email.to[0]: email.body for email in mail.outbox}
    for who, long_form in zip((case, other), long_forms, strict=True):
        assert subjects[who.freelancer.email] == f"Your verification call is booked: {long_form}"
        assert f"When: {long_form}" in bodies[who.freelancer.email]


def test_every_label_is_what_wall_clock_says(night):
    """The API formats times far from an offset change itself and asks `wall_clock` only near one:
    every label of the week around the fall-back night must still be exactly `wall_clock`'s."""
    from notifications.timefmt import wall_clock

    zone, now, case, *_ = night
    with time_machine.travel(now, tick=False):
        body = client_for(case).get("/api/v1/case/availability").json()
    times = [t for d in body["days"] for t in d["times"]]
    assert len(times) > 20
    assert [t["local_time"] for t in times] == [wall_clock(t["starts_at"], zone) for t in times]
    assert any(" " in t["local_time"] for t in times)
