import random
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, QuerySet

from scheduling.models import (
    Booking,
    BookingStatus,
    CalendarFeedToken,
    Representative,
    RepresentativeLanguage,
    Slot,
    feed_token_hash,
)


def _free_slots(*, language: str = "", phone: bool = False) -> QuerySet[Slot]:
    slots = Slot.objects.filter(is_booked=False, representative__active=True)
    if language:
        slots = slots.filter(representative__languages__code=language)
    if phone:
        slots = slots.filter(representative__can_take_phone_calls=True)
    return slots


# One free slot `s` of an active representative (speaking %(language)s unless it is '', taking phone
# calls if %(phone)s): `_free_slots` in SQL, for the loose index scan below. The constants fold away
# when planned (the parameters are bound client-side).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FREE_SLOT_SQL = """
    NOT s.is_booked
    AND EXISTS (SELECT 1 FROM scheduling_representative r WHERE r.id = s.representative_id AND r.active
                AND (NOT %(phone)s OR r.can_take_phone_calls))
    AND (%(language)s = '' OR EXISTS (SELECT 1 FROM scheduling_representativelanguage l
                                      WHERE l.representative_id = s.representative_id AND l.code = %(language)s))
"""
_AVAILABILITY_SQL = f"""
WITH RECURSIVE t(at) AS (
    (SELECT s.starts_at FROM scheduling_slot s
     WHERE {_FREE_SLOT_SQL} AND s.starts_at >= %(start)s AND s.starts_at < %(end)s
     ORDER BY s.starts_at LIMIT 1)
    UNION ALL
    SELECT (SELECT s.starts_at FROM scheduling_slot s
            WHERE {_FREE_SLOT_SQL} AND s.starts_at > t.at AND s.starts_at < %(end)s
            ORDER BY s.starts_at LIMIT 1)
    FROM t WHERE t.at IS NOT NULL
)
SELECT (extract(epoch FROM at) * 1000000)::bigint FROM t WHERE at IS NOT NULL
"""  # noqa: S608 (built from the module constant above, no input)


def availability_list(*, start: datetime, end: datetime, language: str = "", phone: bool = False) -> list[datetime]:
    """The distinct start times in [start, end) with at least one free representative: one query.

    A loose index scan (a recursive CTE): each step asks the partial index of free slots for the
    first free start time after the previous one, so a window of N distinct times costs about N
    short index probes instead of reading and de-duplicating every free (time, representative)
    pair in it (about 30 per time at 200 representatives); see docs/benchmarks.md. Same answers
    as `_free_slots(...)` with DISTINCT (tests/scheduling/test_availability_loose_scan.py)."""
    if connection.vendor != "postgresql":  # the demo's SQLite: the plain query
        return availability_list_distinct(start=start, end=end, language=language, phone=phone)
    with connection.cursor() as cursor:
        cursor.execute(_AVAILABILITY_SQL, {"start": start, "end": end, "language": language, "phone": phone})
        # microseconds since the epoch: Django's loader for timestamptz costs 5 us a value in Python
        return [_EPOCH + timedelta(microseconds=row[0]) for row in cursor.fetchall()]


def availability_list_distinct(*, start: datetime, end: datetime, language: str = "", phone: bool = False
                               ) -> list[datetime]:
    """`availability_list` as the ORM says it (DISTINCT over every free slot in the window): the
    reference its loose index scan is tested against, and what SQLite runs."""
    return list(
        _free_slots(language=language, phone=phone)
        .filter(starts_at__gte=start, starts_at__lt=end)
        .order_by("starts_at")
        .values_list("starts_at", flat=True)
        .distinct()
    )


ALTERNATIVES_OFFERED = 5
ALTERNATIVES_WINDOW = 24  # distinct free start times they are drawn from: two hours of 5-minute slots


def free_time_alternatives(
    *, after: datetime, language: str = "", phone: bool = False, count: int = ALTERNATIVES_OFFERED,
    window: int = ALTERNATIVES_WINDOW, rng: random.Random | None = None,
) -> list[datetime]:
    """Free start times to offer someone whose time was just taken, earliest first.

    Everyone who loses a race for one time asks at about the same moment; offering them all the
    same next five sends them all to the same next time, where most lose again. So `count` times
    are drawn without replacement from the next `window` distinct free start times after `after`
    (never `after` itself), each weighted by how many representatives are free at it: a time that
    can take twenty more calls is offered twenty times as often as one that can take one. One
    query (free slots counted per start time, in time order, limited to the window). `rng` is for
    tests; the default is the `random` module's generator, which is reseeded in each forked worker.
    """
    free = list(
        _free_slots(language=language, phone=phone)
        .filter(starts_at__gt=after)
        .values("starts_at")
        .annotate(free=Count("representative_id"))  # the partial index covers it: an index-only scan
        .order_by("starts_at")
        .values_list("starts_at", "free")[:window]
    )
    uniform = (rng or random).random
    # Efraimidis-Spirakis: the `count` largest keys u ** (1 / weight) are a weighted sample without replacement
    drawn = sorted(free, key=lambda row: uniform() ** (1 / row[1]), reverse=True)[:count]
    return sorted(starts_at for starts_at, _ in drawn)


def slot_exists(*, starts_at: datetime) -> bool:
    """Whether any representative has a slot (free or not) starting at this instant."""
    return Slot.objects.filter(starts_at=starts_at).exists()


def booking_active_for(*, case_ref) -> Booking | None:
    return (
        Booking.objects.select_related("representative")
        .filter(case_ref=case_ref, status=BookingStatus.ACTIVE)
        .first()
    )


def booking_latest_for(*, case_ref) -> Booking | None:
    return Booking.objects.select_related("representative").filter(case_ref=case_ref).order_by("-created_at").first()


def bookings_displaced_unhandled(*, limit: int = 200) -> list[Booking]:
    return list(
        Booking.objects.filter(displaced_at__isnull=False, displacement_handled_at__isnull=True)
        .order_by("displaced_at")[:limit]
    )


def offered_times_count(*, start: datetime, end: datetime, at_most: int | None = None) -> int:
    """Distinct start times that existed as slots in [start, end), taken or not; counted no further
    than `at_most` if given (by the start-time index: it stops there)."""
    times = Slot.objects.filter(starts_at__gte=start, starts_at__lt=end).values("starts_at").distinct()
    return times.order_by("starts_at")[:at_most].count() if at_most is not None else times.count()


def bookings_active_case_refs(*, case_refs: list) -> set:
    """Which of these cases have an active booking: one query."""
    return set(Booking.objects.filter(case_ref__in=case_refs, status=BookingStatus.ACTIVE)
               .values_list("case_ref", flat=True))


def bookings_unmade_good_case_refs(*, case_refs: list) -> set:
    """Which of these cases have a call we cancelled or missed not made good yet: one query."""
    return set(Booking.objects.filter(case_ref__in=case_refs, displaced_at__isnull=False,
                                      displacement_handled_at__isnull=True).values_list("case_ref", flat=True))


def languages_offered() -> list[str]:
    """Language tags some active representative holds calls in."""
    return sorted(set(RepresentativeLanguage.objects.filter(representative__active=True)
                      .values_list("code", flat=True)))


def representative_for_feed_token(*, token: str) -> Representative | None:
    """The active representative whose live feed link this is, or None (unknown, rotated, revoked)."""
    if not token or len(token) > 100:
        return None
    row = (CalendarFeedToken.objects.select_related("representative")
           .filter(token_hash=feed_token_hash(token), revoked_at__isnull=True, representative__active=True).first())
    return row.representative if row else None


def calendar_feed_live(*, representative_id: int) -> CalendarFeedToken | None:
    return CalendarFeedToken.objects.filter(representative_id=representative_id, revoked_at__isnull=True).first()


def feed_bookings(*, representative_id: int, now: datetime) -> list[Booking]:
    """The calls in a representative's feed: from CALENDAR_FEED_PAST_DAYS ago on, active or held,
    and those cancelled in the last CALENDAR_FEED_CANCELLED_DAYS (kept so calendars strike them out)."""
    since = now - timedelta(days=settings.CALENDAR_FEED_PAST_DAYS)
    cancelled_since = now - timedelta(days=settings.CALENDAR_FEED_CANCELLED_DAYS)
    return list(
        Booking.objects.filter(representative_id=representative_id, starts_at__gte=since)
        .filter(~Q(status=BookingStatus.CANCELLED) | Q(updated_at__gte=cancelled_since))
        .order_by("starts_at")
    )


def time_is_free(*, starts_at: datetime, language: str = "", phone: bool = False) -> bool:
    """Whether some active representative (speaking `language`, taking phone calls if asked) is
    free at this instant."""
    return _free_slots(language=language, phone=phone).filter(starts_at=starts_at).exists()


def free_representatives_at(*, starts_at: datetime) -> list[tuple[frozenset[str], bool]]:
    """Each free active representative at this instant: (their languages, takes phone calls)."""
    reps = (Representative.objects.filter(active=True, slots__starts_at=starts_at, slots__is_booked=False)
            .prefetch_related("languages").distinct())
    return [(frozenset(rep.language_codes), rep.can_take_phone_calls) for rep in reps]


# --- representatives' own calendars --------------------------------------------------------------

def calendar_connection_of(*, representative_id: int):
    from scheduling.models import CalendarConnection

    return CalendarConnection.objects.filter(representative_id=representative_id).first()


def calendar_conflicts(*, now: datetime, representative_id: int | None = None) -> list[Booking]:
    """Active future bookings that a busy time of their representative's calendar now overlaps
    (each once): the representative and the admin see them, with a one-click hand-over."""
    from django.db.models import Exists, OuterRef

    from scheduling.models import BusyTime

    overlapping = BusyTime.objects.filter(representative_id=OuterRef("representative_id"),
                                          starts_at__lt=OuterRef("ends_at"), ends_at__gt=OuterRef("starts_at"))
    bookings = Booking.objects.select_related("representative").filter(
        Exists(overlapping), status=BookingStatus.ACTIVE, ends_at__gt=now)
    if representative_id is not None:
        bookings = bookings.filter(representative_id=representative_id)
    return list(bookings.order_by("starts_at")[:200])


def calendar_connections_stale() -> list:
    from scheduling.models import CalendarConnection

    return list(CalendarConnection.objects.select_related("representative").filter(stale=True)
                .order_by("last_good_sync_at"))


def booking_calendar_write_wanted(*, booking: Booking, written_before: bool = True) -> bool:
    """Whether a change of this booking has a calendar to update: its representative's CalDAV
    calendar, or one it was written to before (never, for a booking just made: `written_before`)."""
    from scheduling.models import BookingCalendarEntry, CalendarConnection, CalendarKind

    return (CalendarConnection.objects.filter(representative_id=booking.representative_id,
                                              kind=CalendarKind.CALDAV).exists()
            or (written_before and BookingCalendarEntry.objects.filter(booking=booking).exists()))
