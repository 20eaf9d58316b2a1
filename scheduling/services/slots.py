"""Bookable slots from working hours and time off, for a rolling horizon; keeping them in step
when hours change while freelancers book (see `representative_slots_sync`)."""

import logging
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import OperationalError, connection, transaction

from scheduling.errors import HoursBusy
from scheduling.generation import slots_changed
from scheduling.models import Booking, BookingStatus, BusyTime, Representative, Slot, TimeOff, WorkingHours
from scheduling.services.bookings import booking_relocate

logger = logging.getLogger(__name__)


def slot_length() -> timedelta:
    return timedelta(minutes=settings.CALL_MINUTES + settings.CALL_BUFFER_MINUTES)


# --- slots ------------------------------------------------------------------------------------

def _merged(intervals: list[tuple[time, time]]) -> list[tuple[time, time]]:
    merged: list[tuple[time, time]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _to_utc(local: datetime, zone: ZoneInfo) -> datetime | None:
    """A wall-clock time in `zone` as a UTC instant; None when the time does not exist there
    (spring forward). An ambiguous time (fall back) maps to its first occurrence only."""
    aware = local.replace(tzinfo=zone, fold=0)
    instant = aware.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local:
        return None
    return instant


def slot_starts(
    *, zone_name: str, hours: list[tuple[int, time, time]], time_off: list[tuple[datetime, datetime]],
    start: datetime, end: datetime,
) -> list[datetime]:
    """The UTC starts of every slot in [start, end) from weekly local hours, minus time off."""
    zone = ZoneInfo(zone_name)
    length = slot_length()
    by_day: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for weekday, starts, ends in hours:
        by_day[weekday].append((starts, ends))
    by_day = {day: _merged(intervals) for day, intervals in by_day.items()}
    starts_utc: list[datetime] = []
    seen: set[datetime] = set()
    day: date = start.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date() + timedelta(days=1)
    while day <= last_day:
        for interval_start, interval_end in by_day.get(day.weekday(), []):
            local = datetime.combine(day, interval_start)
            local_end = datetime.combine(day, interval_end)
            while local + length <= local_end:
                instant = _to_utc(local, zone)
                if (
                    instant is not None
                    and start <= instant < end
                    and instant not in seen
                    and not any(off_start < instant + length and instant < off_end for off_start, off_end in time_off)
                ):
                    seen.add(instant)
                    starts_utc.append(instant)
                local += length
        day += timedelta(days=1)
    return sorted(starts_utc)


@dataclass
class SyncResult:
    created: int = 0
    created_starts: list[datetime] = field(default_factory=list)  # the new free times, earliest first
    removed: int = 0
    moved: list[Booking] = field(default_factory=list)
    cancelled: list[Booking] = field(default_factory=list)


# How long a change of hours or time off waits for a row someone else holds (a booking being made,
# moved or cancelled holds its slot for milliseconds) before it gives up with HoursBusy.
SYNC_LOCK_TIMEOUT = "3s"
# lock_not_available (the timeout above); deadlock_detected and serialization_failure defensively
_BUSY_SQLSTATES = frozenset({"55P03", "40P01", "40001"})
# Rounds of removing stale slots before giving up: each takes every slot that is not being changed
# by a freelancer at that moment, so a second is rare and a third rarer still.
_REMOVAL_ROUNDS = 5


def _lock_timeout_set(value: str) -> str:
    """SET LOCAL lock_timeout (ends with the transaction); returns the value it replaced."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)", [value])
        return cursor.fetchone()[0]


@contextmanager
def atomic_or_busy() -> Iterator[None]:
    """One transaction for a change of a representative's slots, waiting at most SYNC_LOCK_TIMEOUT
    for any lock (commit included). If PostgreSQL gives up on a lock, everything is rolled back and
    the representative is asked to try again (HoursBusy) instead of seeing a server error."""
    postgresql, nested = connection.vendor == "postgresql", connection.in_atomic_block
    try:
        with transaction.atomic():
            previous = _lock_timeout_set(SYNC_LOCK_TIMEOUT) if postgresql else ""
            yield
            if postgresql and nested:
                _lock_timeout_set(previous)  # inside a caller's transaction: give it back its own
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) in _BUSY_SQLSTATES:
            raise HoursBusy() from error
        raise


@atomic_or_busy()
def representative_slots_sync(*, representative_id: int, now: datetime) -> SyncResult:
    """Make the representative's slots match their hours and time off for the rolling horizon.

    Free slots that no longer fit are removed and missing ones created; booked slots are never
    touched by regeneration: a booking whose time no longer fits is moved to another free
    representative at the same time, or cancelled (marked displaced, for verification to extend
    the case's deadline and tell the freelancer). Raises HoursBusy if freelancers hold the rows it
    needs for longer than SYNC_LOCK_TIMEOUT; then nothing changed.
    """
    # FOR NO KEY UPDATE, not FOR UPDATE: it serializes the syncs of one representative, and lets a
    # booking commit meanwhile (its foreign key takes FOR KEY SHARE on this row, which FOR UPDATE
    # blocks: that wait, while this sync waited for the slot the booking had claimed, deadlocked).
    rep = Representative.objects.select_for_update(no_key=True).get(pk=representative_id)
    end = now + timedelta(days=settings.SLOT_HORIZON_DAYS)
    if rep.active:
        hours = list(WorkingHours.objects.filter(representative=rep).values_list("weekday", "starts", "ends"))
        off = list(
            TimeOff.objects.filter(representative=rep, ends_at__gt=now, starts_at__lt=end + slot_length())
            .values_list("starts_at", "ends_at")
        )
        wanted = set(slot_starts(zone_name=rep.timezone, hours=hours, time_off=off, start=now, end=end))
    else:
        wanted = set()
    existing = dict(Slot.objects.filter(representative=rep, starts_at__gte=now, starts_at__lt=end)
                    .values_list("starts_at", "pk"))
    blocked = _busy_blocked(rep=rep, starts=wanted | existing.keys(), now=now, end=end)
    result = SyncResult()
    _stale_slots_remove(slot_ids={pk for start, pk in existing.items() if start not in wanted}, result=result,
                        now=now)
    # Inside a busy time of the representative's own calendar: free slots go (a DELETE whose WHERE
    # is checked again after any wait, so a slot a freelancer just claimed stays); booked ones stay
    # and are shown to the representative and the admin as conflicts, never moved silently.
    busy_free = [pk for start, pk in existing.items() if start in blocked and start in wanted]
    if busy_free:
        result.removed += Slot.objects.filter(pk__in=busy_free, is_booked=False).delete()[0]
    to_create = wanted - existing.keys() - blocked
    Slot.objects.bulk_create(
        [Slot(representative=rep, starts_at=start, ends_at=start + slot_length()) for start in sorted(to_create)],
        ignore_conflicts=True,
    )
    result.created_starts = sorted(to_create)
    result.created = len(result.created_starts)
    if result.created or result.removed or result.moved or result.cancelled:
        slots_changed()  # else nothing changed (a periodic sync with nothing to add): cached answers stay
    # past slots are the record of what was offered (freeze guard 5): pruned by `slots_past_prune`,
    # on a schedule, once no open case can count them
    return result


def _busy_blocked(*, rep: Representative, starts: set[datetime], now: datetime, end: datetime) -> set[datetime]:
    """The slot starts among `starts` whose slot overlaps a busy time of the representative's calendar."""
    busy = list(BusyTime.objects.filter(representative=rep, ends_at__gt=now, starts_at__lt=end + slot_length())
                .order_by("starts_at").values_list("starts_at", "ends_at"))
    if not busy:
        return set()
    merged: list[list[datetime]] = []  # disjoint and sorted: their ends are sorted too
    for busy_start, busy_end in busy:
        if merged and busy_start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], busy_end)
        else:
            merged.append([busy_start, busy_end])
    merged_starts = [interval[0] for interval in merged]
    length, blocked = slot_length(), set()
    for start in starts:
        index = bisect_left(merged_starts, start + length) - 1  # the last one starting before the slot ends
        if index >= 0 and merged[index][1] > start:
            blocked.add(start)
    return blocked


def _stale_slots_remove(*, slot_ids: set[int], result: SyncResult, now: datetime) -> None:
    """Remove slots that no longer fit: a free one at once, a booked one once its booking has been
    moved to a colleague or cancelled as displaced.

    Freelancers may be booking, moving or cancelling any of them right now, so nothing is decided
    on what was read before: free slots are locked with `NOT is_booked` checked again after any
    wait (a slot a booking just claimed counts as booked), and booked slots are reached through
    their active bookings, locked first as the freelancer's own changes lock them (booking, then
    slot), so the two never wait for each other in a circle. A slot freed in the meantime is
    taken in the next round.
    """
    for _ in range(_REMOVAL_ROUNDS):
        if not slot_ids:
            return
        free = set(Slot.objects.select_for_update().filter(pk__in=slot_ids, is_booked=False)
                   .order_by("pk").values_list("pk", flat=True))
        if free:
            Slot.objects.filter(pk__in=free).delete()  # cancelled bookings that pointed at them: slot NULL
            result.removed += len(free)
        booked = slot_ids - free
        for booking in (Booking.objects.select_for_update()
                        .filter(slot_id__in=booked, status=BookingStatus.ACTIVE).order_by("pk")):
            (result.moved if booking_relocate(booking=booking, now=now) else result.cancelled).append(booking)
        # booked, and no active booking holds them any more (moved or cancelled just above): nobody
        # can claim or free such a slot, so it goes
        vacated = set(Slot.objects.filter(pk__in=booked, is_booked=True)
                      .exclude(bookings__status=BookingStatus.ACTIVE).values_list("pk", flat=True))
        if vacated:
            Slot.objects.filter(pk__in=vacated).delete()
        slot_ids = booked - vacated
        if slot_ids:  # freed or booked again since this round read them (or gone altogether)
            slot_ids = set(Slot.objects.filter(pk__in=slot_ids).values_list("pk", flat=True))
    if slot_ids:
        raise HoursBusy()


def representatives_slots_sync_all(*, now: datetime) -> int:
    """Roll every representative's horizon forward (one transaction each). One whose slots are busy
    being booked is skipped this time; the next run catches up. Returns how many were synced."""
    synced = 0
    for rep_id in Representative.objects.values_list("pk", flat=True):
        try:
            representative_slots_sync(representative_id=rep_id, now=now)
        except HoursBusy:
            logger.warning("slots of representative %s busy; left for the next sync", rep_id)
            continue
        synced += 1
    return synced


def slots_past_prune(*, before: datetime, now: datetime, chunk: int = 5000) -> int:
    """Delete the slots that started before `before` (never any at or after `now`), free or taken,
    except one an active booking still holds: a past slot is only a record of what was offered, and
    the caller says until when that record is needed. A finished or cancelled booking keeps its row
    and its times (its `slot` becomes NULL). Chunks of `chunk` rows, each its own short
    transaction, by the start-time index. Returns how many were deleted."""
    bound, deleted = min(before, now), 0
    while True:
        with transaction.atomic():
            prunable = Slot.objects.filter(starts_at__lt=bound).exclude(bookings__status=BookingStatus.ACTIVE)
            ids = list(prunable.order_by("starts_at").values_list("pk", flat=True)[:chunk])
            if ids:
                gone = Slot.objects.filter(pk__in=ids).exclude(bookings__status=BookingStatus.ACTIVE).delete()[1]
                deleted += gone.get(Slot._meta.label, 0)
                slots_changed()  # past slots only, never in a window that starts after now: for completeness
        if len(ids) < chunk:
            return deleted
