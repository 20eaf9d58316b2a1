"""Every write to slots and bookings. Each service takes `now`, runs in one transaction and raises
a `DomainError`. This app imports no other app of ours: a booking knows its case only by id."""

import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction

from scheduling.errors import AlreadyBooked, BookingNotFound, HoursBusy, HoursInvalid, SlotTaken
from scheduling.models import Booking, BookingStatus, Displacement, Representative, Slot, TimeOff, WorkingHours
from scheduling.selectors import free_time_alternatives

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
def _atomic_or_busy() -> Iterator[None]:
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


@_atomic_or_busy()
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
    result = SyncResult()
    _stale_slots_remove(slot_ids={pk for start, pk in existing.items() if start not in wanted}, result=result,
                        now=now)
    Slot.objects.bulk_create(
        [Slot(representative=rep, starts_at=start, ends_at=start + slot_length())
         for start in sorted(wanted - existing.keys())],
        ignore_conflicts=True,
    )
    result.created = len(wanted - existing.keys())
    # past free slots are kept a while: they are the record of what was offered (freeze guard 5)
    Slot.objects.filter(representative=rep, is_booked=False, starts_at__lt=now - timedelta(days=90)).delete()
    return result


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
            (result.moved if _booking_relocate(booking=booking, now=now) else result.cancelled).append(booking)
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


def _booking_relocate(*, booking: Booking, now: datetime) -> bool:
    """Move a displaced booking to another free representative at the same time, or cancel it."""
    slot = _claim(starts_at=booking.starts_at, language=booking.language, phone=booking.phone,
                  exclude_representative_id=booking.representative_id)
    booking.displaced_at = now
    booking.displacement_handled_at = None
    booking.updated_at = now
    booking.sequence += 1
    if slot is not None:
        booking.slot, booking.representative_id = slot, slot.representative_id
        booking.displacement = Displacement.MOVED
        booking.save(update_fields=["slot", "representative", "displacement", "displaced_at",
                                    "displacement_handled_at", "sequence", "updated_at"])
        return True
    booking.slot = None
    booking.status = BookingStatus.CANCELLED
    booking.cancel_reason = "representative_unavailable"
    booking.displacement = Displacement.CANCELLED
    booking.save(update_fields=["slot", "status", "cancel_reason", "displacement", "displaced_at",
                                "displacement_handled_at", "sequence", "updated_at"])
    return False


# --- booking ----------------------------------------------------------------------------------

# The hot path of booking, hand-written so it is not recompiled by the ORM on every attempt.
# Candidates: free slots at the instant whose representative is active (and speaks the language,
# takes phone calls), least-loaded first (active bookings that UTC day), ties broken at random.
# Chosen with FOR UPDATE SKIP LOCKED on PostgreSQL so concurrent bookers spread over the free
# representatives instead of queueing on one row; the conditional UPDATE is the guard.
_CLAIM = """
UPDATE scheduling_slot SET is_booked = true
WHERE id = (
    SELECT s.id FROM scheduling_slot s
    JOIN scheduling_representative r ON r.id = s.representative_id
    WHERE s.starts_at = %s AND NOT s.is_booked AND r.active
      AND (%s = 0 OR r.can_take_phone_calls)
      AND (%s = '' OR EXISTS (SELECT 1 FROM scheduling_representativelanguage l
                              WHERE l.representative_id = r.id AND l.code = %s))
      AND s.representative_id <> %s
    ORDER BY (SELECT count(*) FROM scheduling_booking b
              WHERE b.representative_id = s.representative_id AND b.status = 'ACTIVE'
                AND b.starts_at >= %s AND b.starts_at < %s), random()
    LIMIT 1 {lock}
) AND NOT is_booked
RETURNING id, representative_id, starts_at, ends_at
"""
_CLAIM_SQL = _CLAIM + ";"
# PostgreSQL: claim and insert the booking in ONE statement (a data-modifying CTE).
_CLAIM_AND_BOOK_SQL = """
WITH claimed AS ({claim})
INSERT INTO scheduling_booking (id, case_ref, representative_id, slot_id, starts_at, ends_at, status,
    attendee_email, attendee_name, language, phone, join_token, dial_in_pin, sequence, cancel_reason,
    displacement, created_at, updated_at)
SELECT %s, %s, representative_id, id, starts_at, ends_at, 'ACTIVE', %s, %s, %s, %s, %s, %s, 0, '', '', %s, %s
FROM claimed
RETURNING *
"""


def _claim_params(*, starts_at: datetime, language: str, phone: bool, exclude_representative_id: int | None):
    day_start = starts_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    adapt = connection.ops.adapt_datetimefield_value  # as the ORM would store them (SQLite: naive UTC text)
    return [adapt(starts_at), int(phone), language, language, exclude_representative_id or 0, adapt(day_start),
            adapt(day_start + timedelta(days=1))]


def _lock_clause() -> str:
    return "FOR UPDATE OF s SKIP LOCKED" if connection.vendor == "postgresql" else ""


def _claim(*, starts_at: datetime, language: str, phone: bool, exclude_representative_id: int | None = None
           ) -> Slot | None:
    """Claim one free slot at `starts_at` in one statement; None if every candidate is taken."""
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL.format(lock=_lock_clause()),
            _claim_params(starts_at=starts_at, language=language, phone=phone,
                          exclude_representative_id=exclude_representative_id),
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return Slot(pk=row[0], representative_id=row[1], starts_at=_aware(row[2]), ends_at=_aware(row[3]),
                is_booked=True)


def _claim_and_book(*, case_ref, starts_at: datetime, attendee_email: str, attendee_name: str, language: str,
                    phone: bool, now: datetime) -> Booking | None:
    if connection.vendor != "postgresql":
        slot = _claim(starts_at=starts_at, language=language, phone=phone)
        if slot is None:
            return None
        return Booking.objects.create(
            case_ref=case_ref, representative_id=slot.representative_id, slot=slot, starts_at=slot.starts_at,
            ends_at=slot.ends_at, attendee_email=attendee_email, attendee_name=attendee_name, language=language,
            phone=phone, created_at=now, updated_at=now,
        )
    booking = Booking(case_ref=case_ref, attendee_email=attendee_email, attendee_name=attendee_name,
                      language=language, phone=phone, created_at=now, updated_at=now)
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_AND_BOOK_SQL.format(claim=_CLAIM.format(lock=_lock_clause())),
            [*_claim_params(starts_at=starts_at, language=language, phone=phone, exclude_representative_id=None),
             booking.id, case_ref, attendee_email, attendee_name, language, phone, booking.join_token,
             booking.dial_in_pin, now, now],
        )
        row = cursor.fetchone()
        columns = [column.name for column in cursor.description]
    if row is None:
        return None
    by_column = dict(zip(columns, row, strict=True))
    fields = Booking._meta.concrete_fields
    return Booking.from_db(connection.alias, [f.attname for f in fields], [by_column[f.column] for f in fields])


def _aware(value) -> datetime:
    """SQLite hands back naive UTC datetimes (or strings) from raw SQL; PostgreSQL aware ones."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _slot_taken(*, starts_at: datetime, language: str, phone: bool, now: datetime) -> SlotTaken:
    return SlotTaken(next_free_times=free_time_alternatives(after=max(starts_at, now), language=language, phone=phone))


def booking_create(
    *, case_ref, starts_at: datetime, attendee_email: str, attendee_name: str, language: str = "",
    phone: bool = False, now: datetime,
) -> Booking:
    """Book the least-loaded free representative at `starts_at`, atomically: on PostgreSQL the
    claim and the insert are one statement (inside a caller's transaction, under a savepoint).
    Database constraints turn any race into a clean SlotTaken/AlreadyBooked."""
    arguments = {"case_ref": case_ref, "starts_at": starts_at, "attendee_email": attendee_email,
                 "attendee_name": attendee_name, "language": language, "phone": phone, "now": now}
    try:
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            booking = _claim_and_book(**arguments)  # one statement: atomic by itself
        else:
            with transaction.atomic():
                booking = _claim_and_book(**arguments)
    except IntegrityError as error:
        if Booking.objects.filter(case_ref=case_ref, status=BookingStatus.ACTIVE).exists():
            raise AlreadyBooked() from error
        raise _slot_taken(starts_at=starts_at, language=language, phone=phone, now=now) from error
    if booking is None:
        raise _slot_taken(starts_at=starts_at, language=language, phone=phone, now=now)
    return booking


def _active_booking(case_ref) -> Booking:
    booking = Booking.objects.select_for_update().filter(case_ref=case_ref, status=BookingStatus.ACTIVE).first()
    if booking is None:
        raise BookingNotFound()
    return booking


@transaction.atomic
def booking_move(*, case_ref, starts_at: datetime, now: datetime) -> Booking:
    """Reschedule: the new slot is claimed before the old one is released, so a failed move
    leaves the original booking exactly as it was."""
    booking = _active_booking(case_ref)
    slot = _claim(starts_at=starts_at, language=booking.language, phone=booking.phone)
    if slot is None:
        raise _slot_taken(starts_at=starts_at, language=booking.language, phone=booking.phone, now=now)
    old_slot_id = booking.slot_id
    booking.slot, booking.representative_id = slot, slot.representative_id
    booking.starts_at, booking.ends_at = slot.starts_at, slot.ends_at
    booking.sequence += 1
    booking.updated_at = now
    booking.save(update_fields=["slot", "representative", "starts_at", "ends_at", "sequence", "updated_at"])
    if old_slot_id:
        Slot.objects.filter(pk=old_slot_id).update(is_booked=False)
    return booking


@transaction.atomic
def booking_cancel(*, case_ref, reason: str, now: datetime) -> Booking:
    booking = _active_booking(case_ref)
    if booking.slot_id:
        Slot.objects.filter(pk=booking.slot_id).update(is_booked=False)
    booking.status = BookingStatus.CANCELLED
    booking.cancel_reason = reason
    booking.sequence += 1
    booking.updated_at = now
    booking.save(update_fields=["status", "cancel_reason", "sequence", "updated_at"])
    return booking


@transaction.atomic
def booking_displacement_handled(*, booking_id, now: datetime) -> None:
    Booking.objects.filter(pk=booking_id).update(displacement_handled_at=now)


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


@_atomic_or_busy()
def working_hours_add(*, representative_id: int, weekday: int, starts: time, ends: time, now: datetime) -> SyncResult:
    if not (0 <= weekday <= 6) or starts >= ends:
        raise HoursInvalid("Pick a day, and a start before the end.")
    WorkingHours.objects.create(representative_id=representative_id, weekday=weekday, starts=starts, ends=ends)
    return representative_slots_sync(representative_id=representative_id, now=now)


@_atomic_or_busy()
def working_hours_remove(*, representative_id: int, hours_id: int, now: datetime) -> SyncResult:
    """Booked calls the change leaves uncovered are moved to a colleague or cancelled (displaced)."""
    WorkingHours.objects.filter(pk=hours_id, representative_id=representative_id).delete()
    return representative_slots_sync(representative_id=representative_id, now=now)


@_atomic_or_busy()
def time_off_add(*, representative_id: int, starts_at: datetime, ends_at: datetime, note: str, now: datetime
                 ) -> SyncResult:
    if starts_at >= ends_at:
        raise HoursInvalid("Time off must end after it starts.")
    TimeOff.objects.create(representative_id=representative_id, starts_at=starts_at, ends_at=ends_at, note=note)
    return representative_slots_sync(representative_id=representative_id, now=now)


@_atomic_or_busy()
def time_off_remove(*, representative_id: int, time_off_id: int, now: datetime) -> SyncResult:
    """Back at work: the times the time off covered become bookable again."""
    deleted, _ = TimeOff.objects.filter(pk=time_off_id, representative_id=representative_id).delete()
    if not deleted:
        raise HoursInvalid("That time off is not on your list.")
    return representative_slots_sync(representative_id=representative_id, now=now)


@transaction.atomic
def booking_finish(*, booking_id, reason: str = "", now: datetime) -> bool:
    """The call took place (or was missed): the booking is DONE and keeps its slot as history.
    Returns False if it was not active."""
    return Booking.objects.filter(pk=booking_id, status=BookingStatus.ACTIVE).update(
        status=BookingStatus.DONE, cancel_reason=reason, updated_at=now) == 1
