from datetime import UTC, datetime

from notifications.timefmt import local_time


def test_a_time_is_shown_on_the_persons_wall_clock_with_the_zone_named_once():
    moment = datetime(2026, 3, 3, 13, 0, tzinfo=UTC)
    assert local_time(moment, "Asia/Kolkata") == "Tuesday 3 March 2026, 18:30 (Asia/Kolkata, IST)"
    assert local_time("2026-07-03T13:00:00Z", "Europe/London") == "Friday 3 July 2026, 14:00 (Europe/London, BST)"
    assert local_time(moment, "UTC") == "Tuesday 3 March 2026, 13:00 (UTC)"
