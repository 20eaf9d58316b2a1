"""`availability_list` is a loose index scan (a recursive CTE) on PostgreSQL: it must answer exactly
what the plain DISTINCT over free slots answers, for every filter and at the window's edges."""

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scheduling.models import Slot
from scheduling.selectors import availability_list, availability_list_distinct
from tests.helpers import make_reps

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

FILTERS = [{}, {"language": "en"}, {"language": "es"}, {"language": "de"}, {"language": "xx"},
           {"phone": True}, {"language": "es", "phone": True}, {"language": "de", "phone": True}]


@pytest.fixture
def mixed_reps(now):
    """Representatives in three zones with different languages and phone skills, one inactive, and
    a random third of the slots taken, so that some times are free for some filters only."""
    reps = [*make_reps(2, now=now, languages=["en", "es"], phone=True),
            *make_reps(1, now=now, zone="America/New_York", languages=["de"], phone=False),
            *make_reps(1, now=now, zone="Asia/Tokyo", languages=["es", "de"], phone=True)]
    inactive = make_reps(1, now=now, zone="Australia/Sydney", languages=["fr"], phone=True)[0]
    inactive.active = False
    inactive.save(update_fields=["active"])
    ids = list(Slot.objects.order_by("id").values_list("id", flat=True))
    Slot.objects.filter(id__in=random.Random(15).sample(ids, len(ids) // 3)).update(is_booked=True)
    return reps


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: "-".join(f"{k}={v}" for k, v in f.items()) or "none")
def test_same_times_as_the_plain_distinct(mixed_reps, now, filters):
    for start, end in [(now, now + timedelta(days=14)), (now + timedelta(days=1, hours=3), now + timedelta(days=2))]:
        expected = availability_list_distinct(start=start, end=end, **filters)
        assert availability_list(start=start, end=end, **filters) == expected
    if filters.get("language") != "xx":
        assert expected, "the fixture leaves every real filter some free time"


def test_the_window_is_half_open_and_a_taken_or_inactive_time_is_left_out(mixed_reps, now):
    times = availability_list(start=now, end=now + timedelta(days=14))
    first, second = times[0], times[1]
    assert availability_list(start=first, end=second) == [first]  # [start, end): the end is left out
    assert availability_list(start=first, end=first) == []
    Slot.objects.filter(starts_at=first).update(is_booked=True)
    assert availability_list(start=first, end=second + timedelta(seconds=1)) == [second]
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in times)
    inactive_only = set(Slot.objects.filter(representative__active=False, is_booked=False)
                        .values_list("starts_at", flat=True)) - set(
        Slot.objects.filter(representative__active=True, is_booked=False).values_list("starts_at", flat=True))
    assert inactive_only and not inactive_only & set(times)


def test_one_query_whatever_the_window(mixed_reps, now):
    for days in (1, 14):
        with CaptureQueriesContext(connection) as queries:
            availability_list(start=now, end=now + timedelta(days=days), language="es", phone=True)
        assert len(queries) == 1
