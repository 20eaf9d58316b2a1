"""The "Pick a time" page's model, from plain data: parts of the day in the page's zone, a quarter
of an hour between the times shown with every other free start under "more", the night folded away
unless it is the only choice, and never a free time dropped."""

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notifications.timefmt import wall_clock
from verification.booking_page import booking_page, day_parts
from verification.selectors import iso

FIVE = timedelta(minutes=5)


def every_five_minutes(start: datetime, end: datetime) -> list[datetime]:
    return [start + FIVE * k for k in range(int((end - start) / FIVE))]


def availability(zone: str, instants: list[datetime]) -> dict:
    """What `case_availability` answers for these free instants, shown in `zone`."""
    days: dict[str, list[dict[str, str]]] = {}
    for instant in sorted(instants):
        local = instant.astimezone(ZoneInfo(zone))
        days.setdefault(local.date().isoformat(), []).append({"starts_at": iso(instant),
                                                              "local_time": wall_clock(instant, zone)})
    return {"timezone": zone, "days": [{"date": day, "times": times} for day, times in days.items()]}


def parts_of(zone: str, instants: list[datetime]):
    [day] = availability(zone, instants)["days"]
    return {part.key: part for part in day_parts(day["times"], ZoneInfo(zone))}


def labels(choices) -> list[str]:
    return [choice.label for choice in choices]


def test_times_fall_into_the_parts_of_the_day_of_the_page_zone():
    # 03:00-21:00 UTC on Thursday 3 December 2026, every five minutes
    instants = every_five_minutes(datetime(2026, 12, 3, 3, tzinfo=UTC), datetime(2026, 12, 3, 21, tzinfo=UTC))
    sao_paulo = parts_of("America/Sao_Paulo", instants)  # UTC-3: 00:00-17:55
    assert list(sao_paulo) == ["night", "morning", "afternoon"]  # no evening times: no evening group
    assert (sao_paulo["night"].times[0].label, sao_paulo["morning"].times[0].label,
            sao_paulo["afternoon"].times[-1].label) == ("00:00", "06:00", "17:45")
    assert (sao_paulo["night"].count, sao_paulo["morning"].count, sao_paulo["afternoon"].count) == (72, 72, 72)
    assert all(choice.part == key for key, part in sao_paulo.items() for choice in part.times + part.more)

    [first, second] = availability("Asia/Kolkata", instants)["days"]  # UTC+5:30: 08:30 to 02:25 the next day
    kolkata = {part.key for part in day_parts(first["times"], ZoneInfo("Asia/Kolkata"))}
    assert kolkata == {"morning", "afternoon", "evening"}
    assert [p.key for p in day_parts(second["times"], ZoneInfo("Asia/Kolkata"))] == ["night"]


def test_a_quarter_of_an_hour_between_the_times_shown_and_every_other_start_under_more():
    # 09:00-09:55 London, every five minutes
    morning = parts_of("Europe/London", every_five_minutes(datetime(2026, 12, 3, 9, tzinfo=UTC),
                                                           datetime(2026, 12, 3, 10, tzinfo=UTC)))["morning"]
    assert labels(morning.times) == ["09:00", "09:15", "09:30", "09:45"]
    assert labels(morning.more) == ["09:05", "09:10", "09:20", "09:25", "09:35", "09:40", "09:50", "09:55"]

    # free times off the quarter: the earliest free start of each quarter is shown
    at = [datetime(2026, 12, 3, 9, minute, tzinfo=UTC) for minute in (5, 10, 20, 40, 55)]
    morning = parts_of("Europe/London", at)["morning"]
    assert labels(morning.times) == ["09:05", "09:20", "09:40", "09:55"]
    assert labels(morning.more) == ["09:10"]


def test_the_night_is_folded_unless_it_is_the_only_choice():
    night_and_day = parts_of("Europe/London", [datetime(2026, 12, 3, 2, tzinfo=UTC),
                                               datetime(2026, 12, 3, 14, tzinfo=UTC)])
    assert night_and_day["night"].collapsed and not night_and_day["afternoon"].collapsed
    only_night = parts_of("Europe/London", [datetime(2026, 12, 3, 2, tzinfo=UTC),
                                            datetime(2026, 12, 3, 2, 5, tzinfo=UTC)])
    assert list(only_night) == ["night"] and not only_night["night"].collapsed


def test_a_day_the_clocks_go_forward_and_one_they_go_back():
    # New York, Sunday 8 March 2026: 02:00 EST becomes 03:00 EDT. 05:00-12:00 UTC = 00:00-08:55 local.
    spring = parts_of("America/New_York", every_five_minutes(datetime(2026, 3, 8, 5, tzinfo=UTC),
                                                             datetime(2026, 3, 8, 12, tzinfo=UTC)))
    assert spring["night"].count == 5 * 12  # 00:00-01:55 and 03:00-05:55: the hour that does not exist is not there
    assert "02:00" not in labels(spring["night"].times) and labels(spring["night"].times)[8:9] == ["03:00"]
    assert labels(spring["morning"].times) == ["06:00", "06:15", "06:30", "06:45", "07:00", "07:15", "07:30", "07:45"]

    # Sunday 1 November 2026: 02:00 EDT becomes 01:00 EST, so 01:00-01:55 happens twice.
    # 04:00-08:00 UTC = 00:00 EDT to 03:00 EST: each occurrence of a quarter has its own time shown.
    autumn = parts_of("America/New_York", every_five_minutes(datetime(2026, 11, 1, 4, tzinfo=UTC),
                                                             datetime(2026, 11, 1, 8, tzinfo=UTC)))
    assert labels(autumn["night"].times) == [
        "00:00", "00:15", "00:30", "00:45",
        "01:00 EDT", "01:15 EDT", "01:30 EDT", "01:45 EDT",
        "01:00 EST", "01:15 EST", "01:30 EST", "01:45 EST",
        "02:00", "02:15", "02:30", "02:45",
    ]
    assert autumn["night"].count == 48 and len(autumn["night"].more) == 32


@pytest.mark.parametrize("zone", ["America/Sao_Paulo", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu",
                                  "Australia/Lord_Howe", "Europe/London"])
def test_nothing_free_is_ever_dropped(zone):
    rng = random.Random(zone)
    # three weeks across a change of the clocks (March and April 2026, north and south), a random half of the
    # five-minute starts free
    grid = every_five_minutes(datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 4, 10, tzinfo=UTC))
    free = sorted(rng.sample(grid, len(grid) // 2))
    answer = availability(zone, free)
    listed = []
    for day in answer["days"]:
        page = booking_page(availability=answer, day=day["date"])
        assert page.day.date.isoformat() == day["date"] and page.day.count == len(day["times"])
        listed_today = [choice.starts_at for part in page.parts for choice in part.times + part.more]
        assert sorted(listed_today) == [time["starts_at"] for time in day["times"]]  # each once, none lost
        for part in page.parts:
            assert [c.starts_at for c in part.times] == sorted(c.starts_at for c in part.times)  # earliest first
            assert len(part.times) <= 4 * (part.end_hour - part.first_hour) + 4  # +4: a repeated hour at fall back
        listed += listed_today
    assert sorted(listed) == [iso(instant) for instant in free]


def test_the_soonest_time_and_the_soonest_outside_the_night():
    zone = "America/Sao_Paulo"
    night_first = [datetime(2026, 12, 3, 5, 10, tzinfo=UTC), datetime(2026, 12, 3, 5, 15, tzinfo=UTC),  # 02:10, 02:15
                   datetime(2026, 12, 3, 12, 5, tzinfo=UTC)]  # 09:05
    page = booking_page(availability=availability(zone, night_first))
    assert [(c.label, c.part, c.day) for c in page.soonest] == [("02:10", "night", date(2026, 12, 3)),
                                                                 ("09:05", "morning", date(2026, 12, 3))]
    day_first = [datetime(2026, 12, 3, 12, 5, tzinfo=UTC), datetime(2026, 12, 4, 5, tzinfo=UTC)]
    assert labels(booking_page(availability=availability(zone, day_first)).soonest) == ["09:05"]
    only_nights = [datetime(2026, 12, 3, 5, tzinfo=UTC), datetime(2026, 12, 4, 5, tzinfo=UTC)]
    assert labels(booking_page(availability=availability(zone, only_nights)).soonest) == ["02:00"]
    assert booking_page(availability=availability(zone, [])).soonest == ()


def test_the_chosen_day_the_day_chips_and_the_filters():
    zone = "America/Sao_Paulo"
    free = [datetime(2026, 12, 3, 13, tzinfo=UTC), datetime(2026, 12, 4, 13, tzinfo=UTC),
            datetime(2026, 12, 4, 13, 5, tzinfo=UTC)]
    answer = availability(zone, free)
    assert [(d.date, d.count) for d in booking_page(availability=answer).days] == [(date(2026, 12, 3), 1),
                                                                                  (date(2026, 12, 4), 2)]
    assert booking_page(availability=answer).day.date == date(2026, 12, 3)  # the first day by default
    assert booking_page(availability=answer, day="2026-12-04").day.date == date(2026, 12, 4)
    assert booking_page(availability=answer, day="2026-12-25").day.date == date(2026, 12, 3)  # unknown: the first
    assert booking_page(availability=answer, day="nonsense").day.date == date(2026, 12, 3)
    page = booking_page(availability=answer, language="pt-BR", phone=True)
    assert page.query == "timezone=America%2FSao_Paulo&language=pt-BR&phone=on"
    assert page.zone_city == "Sao Paulo"
    empty = booking_page(availability=availability(zone, []))
    assert (empty.days, empty.day, empty.parts) == ((), None, ())


def test_free_times_after_a_taken_one_are_shown_in_the_page_zone():
    page = booking_page(availability=availability("Asia/Kolkata", []),
                        next_free=[datetime(2026, 3, 2, 13, 5, tzinfo=UTC), datetime(2026, 3, 2, 19, tzinfo=UTC)])
    assert [(c.starts_at, c.label, c.day, c.part) for c in page.alternatives] == [
        ("2026-03-02T13:05:00Z", "18:35", date(2026, 3, 2), "evening"),
        ("2026-03-02T19:00:00Z", "00:30", date(2026, 3, 3), "night"),
    ]
