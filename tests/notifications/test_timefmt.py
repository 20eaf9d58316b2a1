from datetime import UTC, datetime

import pytest

from notifications.timefmt import local_time, wall_clock


def test_a_time_is_shown_on_the_persons_wall_clock_with_the_zone_named_once():
    moment = datetime(2026, 3, 3, 13, 0, tzinfo=UTC)
    assert local_time(moment, "Asia/Kolkata") == "Tuesday 3 March 2026, 18:30 (Asia/Kolkata, IST)"
    assert local_time("2026-07-03T13:00:00Z", "Europe/London") == "Friday 3 July 2026, 14:00 (Europe/London, BST)"
    assert local_time(moment, "UTC") == "Tuesday 3 March 2026, 13:00 (UTC)"


@pytest.mark.parametrize(
    ("zone", "first", "second", "labels", "long_forms"),
    [
        ("America/New_York", "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", ("01:30 EDT", "01:30 EST"),
         ("Sunday 1 November 2026, 01:30 (America/New_York, EDT)",
          "Sunday 1 November 2026, 01:30 (America/New_York, EST)")),
        ("Europe/London", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", ("01:30 BST", "01:30 GMT"),
         ("Sunday 25 October 2026, 01:30 (Europe/London, BST)", "Sunday 25 October 2026, 01:30 (Europe/London, GMT)")),
        # half an hour back, abbreviations that are numbers (+11, +1030): the offset tells them apart
        ("Australia/Lord_Howe", "2026-04-04T14:45:00Z", "2026-04-04T15:15:00Z", ("01:45 (UTC+11)", "01:45 (UTC+10:30)"),
         ("Sunday 5 April 2026, 01:45 (Australia/Lord_Howe, UTC+11)",
          "Sunday 5 April 2026, 01:45 (Australia/Lord_Howe, UTC+10:30)")),
        # Morocco goes back an hour for Ramadan, from +01 to +00
        ("Africa/Casablanca", "2026-02-15T01:30:00Z", "2026-02-15T02:30:00Z", ("02:30 (UTC+1)", "02:30 (UTC+0)"),
         ("Sunday 15 February 2026, 02:30 (Africa/Casablanca, UTC+1)",
          "Sunday 15 February 2026, 02:30 (Africa/Casablanca, UTC+0)")),
    ],
)
def test_a_time_repeated_when_clocks_go_back_is_told_apart(zone, first, second, labels, long_forms):
    assert (wall_clock(first, zone), wall_clock(second, zone)) == labels
    assert (local_time(first, zone), local_time(second, zone)) == long_forms


def test_every_other_time_is_the_plain_wall_clock():
    # the hour before and after New York's repeated hour, a spring-forward morning, and a normal day
    assert wall_clock("2026-11-01T04:59:00Z", "America/New_York") == "00:59"
    assert wall_clock("2026-11-01T07:00:00Z", "America/New_York") == "02:00"
    assert wall_clock("2026-03-08T07:00:00Z", "America/New_York") == "03:00"
    assert wall_clock(datetime(2026, 3, 3, 13, 0, tzinfo=UTC), "Asia/Kolkata") == "18:30"
    assert wall_clock(datetime(2026, 4, 4, 14, 0, tzinfo=UTC), "Australia/Lord_Howe") == "01:00"
    assert local_time("2026-04-04T15:30:00Z", "Australia/Lord_Howe") == (
        "Sunday 5 April 2026, 02:00 (Australia/Lord_Howe, +1030)")
