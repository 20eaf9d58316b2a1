"""Bookings: the least-loaded claim of a free slot (one statement on PostgreSQL), moves, cancels,
the end of a call, and the relocation of a booking whose representative became unavailable."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction

from scheduling.errors import AlreadyBooked, BookingNotFound, SlotTaken
from scheduling.generation import slots_changed
from scheduling.models import Booking, BookingStatus, Displacement, Representative, Slot, _dial_in_pin, _join_token
from scheduling.selectors import free_time_alternatives


def booking_relocate(*, booking: Booking, now: datetime) -> bool:
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
# takes phone calls), least-loaded first (active bookings that day in the representative's own zone:
# a Kolkata morning is the previous UTC day), ties broken at random.
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
                AND b.starts_at >= {day_start} AND b.starts_at < {day_end}), random()
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


# The representative's local day around the slot, in SQL: PostgreSQL converts with the zone itself
# (DST included); SQLite has no zones, so each zone's day bounds are passed in as a CASE.
_LOCAL_DAY = "date_trunc('day', timezone(r.timezone, s.starts_at))"
_PG_DAY_BOUNDS = {"day_start": f"timezone(r.timezone, {_LOCAL_DAY})",
                  "day_end": f"timezone(r.timezone, {_LOCAL_DAY} + interval '1 day')"}


def _local_day(starts_at: datetime, zone_name: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(zone_name)
    day = starts_at.astimezone(zone).date()
    return (datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC),
            datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC))


def _day_bounds(starts_at: datetime) -> tuple[dict[str, str], list, list]:
    """The SQL of the day bounds, and the parameters of each (none on PostgreSQL)."""
    if connection.vendor == "postgresql":
        return _PG_DAY_BOUNDS, [], []
    adapt = connection.ops.adapt_datetimefield_value
    zones = sorted(set(Representative.objects.filter(active=True).values_list("timezone", flat=True))) or ["UTC"]
    bounds = {zone: _local_day(starts_at, zone) for zone in zones}
    case = "CASE r.timezone " + " ".join("WHEN %s THEN %s" for _ in zones) + " END"
    return ({"day_start": case, "day_end": case},
            [item for zone in zones for item in (zone, adapt(bounds[zone][0]))],
            [item for zone in zones for item in (zone, adapt(bounds[zone][1]))])


def _claim_sql(template: str, starts_at: datetime) -> tuple[str, list]:
    sql, start_params, end_params = _day_bounds(starts_at)
    return template.format(lock=_lock_clause(), **sql), start_params + end_params


def _claim_params(*, starts_at: datetime, language: str, phone: bool, exclude_representative_id: int | None,
                  day_params: list):
    adapt = connection.ops.adapt_datetimefield_value  # as the ORM would store them (SQLite: naive UTC text)
    return [adapt(starts_at), int(phone), language, language, exclude_representative_id or 0, *day_params]


def _lock_clause() -> str:
    return "FOR UPDATE OF s SKIP LOCKED" if connection.vendor == "postgresql" else ""


def _claim(*, starts_at: datetime, language: str, phone: bool, exclude_representative_id: int | None = None
           ) -> Slot | None:
    """Claim one free slot at `starts_at` in one statement; None if every candidate is taken."""
    sql, day_params = _claim_sql(_CLAIM_SQL, starts_at)
    with connection.cursor() as cursor:
        cursor.execute(
            sql, _claim_params(starts_at=starts_at, language=language, phone=phone,
                               exclude_representative_id=exclude_representative_id, day_params=day_params),
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
    claim_sql, day_params = _claim_sql(_CLAIM, starts_at)
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_AND_BOOK_SQL.format(claim=claim_sql),
            [*_claim_params(starts_at=starts_at, language=language, phone=phone, exclude_representative_id=None,
                            day_params=day_params),
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
    slots_changed(instants=[booking.starts_at])
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
    old_slot_id, old_starts_at = booking.slot_id, booking.starts_at
    booking.slot, booking.representative_id = slot, slot.representative_id
    booking.starts_at, booking.ends_at = slot.starts_at, slot.ends_at
    booking.sequence += 1
    booking.updated_at = now
    booking.save(update_fields=["slot", "representative", "starts_at", "ends_at", "sequence", "updated_at"])
    if old_slot_id:
        Slot.objects.filter(pk=old_slot_id).update(is_booked=False)
    slots_changed(instants=[old_starts_at, booking.starts_at])
    return booking


@transaction.atomic
def booking_cancel(*, case_ref, reason: str, now: datetime) -> Booking:
    booking = _active_booking(case_ref)
    if booking.slot_id:
        Slot.objects.filter(pk=booking.slot_id).update(is_booked=False)
        slots_changed(instants=[booking.starts_at])
    booking.status = BookingStatus.CANCELLED
    booking.cancel_reason = reason
    booking.sequence += 1
    booking.updated_at = now
    booking.save(update_fields=["status", "cancel_reason", "sequence", "updated_at"])
    return booking


@transaction.atomic
def booking_displacement_handled(*, booking_id, now: datetime) -> None:
    Booking.objects.filter(pk=booking_id).update(displacement_handled_at=now)


@transaction.atomic
def booking_finish(*, booking_id, reason: str = "", now: datetime) -> bool:
    """The call took place (or was missed): the booking is DONE and keeps its slot as history.
    Returns False if it was not active."""
    return Booking.objects.filter(pk=booking_id, status=BookingStatus.ACTIVE).update(
        status=BookingStatus.DONE, cancel_reason=reason, updated_at=now) == 1


def bookings_anonymise(*, case_ref, now: datetime) -> int:
    """Retention or an erase request: the attendee's contact details and the join secrets (join
    token, dial-in PIN) of a case's bookings are replaced; times, status and representative stay
    for the statistics. The caller holds the case (it is closed: no booking is active)."""
    bookings = list(Booking.objects.select_for_update().filter(case_ref=case_ref).exclude(attendee_email="",
                                                                                             attendee_name=""))
    for booking in bookings:
        booking.attendee_email, booking.attendee_name = "", ""
        booking.join_token, booking.dial_in_pin = _join_token(), _dial_in_pin()
        booking.updated_at = now
    Booking.objects.bulk_update(bookings, ["attendee_email", "attendee_name", "join_token", "dial_in_pin",
                                           "updated_at"])
    return len(bookings)
