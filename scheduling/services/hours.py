"""A representative's own changes of working hours and time off; each regenerates their slots."""

from datetime import datetime, time

from django.utils.translation import gettext_lazy as _

from scheduling.errors import HoursInvalid
from scheduling.models import TimeOff, WorkingHours
from scheduling.screening import text_screen
from scheduling.services.slots import SyncResult, atomic_or_busy, representative_slots_sync


@atomic_or_busy()
def working_hours_add(*, representative_id: int, weekday: int, starts: time, ends: time, now: datetime) -> SyncResult:
    if not (0 <= weekday <= 6) or starts >= ends:
        raise HoursInvalid(_("Pick a day, and a start before the end."))
    WorkingHours.objects.create(representative_id=representative_id, weekday=weekday, starts=starts, ends=ends)
    return representative_slots_sync(representative_id=representative_id, now=now)


@atomic_or_busy()
def working_hours_remove(*, representative_id: int, hours_id: int, now: datetime) -> SyncResult:
    """Booked calls the change leaves uncovered are moved to a colleague or cancelled (displaced)."""
    WorkingHours.objects.filter(pk=hours_id, representative_id=representative_id).delete()
    return representative_slots_sync(representative_id=representative_id, now=now)


@atomic_or_busy()
def time_off_add(*, representative_id: int, starts_at: datetime, ends_at: datetime, note: str, now: datetime
                 ) -> SyncResult:
    text_screen(note, field="note")
    if starts_at >= ends_at:
        raise HoursInvalid(_("Time off must end after it starts."))
    TimeOff.objects.create(representative_id=representative_id, starts_at=starts_at, ends_at=ends_at, note=note)
    return representative_slots_sync(representative_id=representative_id, now=now)


@atomic_or_busy()
def time_off_remove(*, representative_id: int, time_off_id: int, now: datetime) -> SyncResult:
    """Back at work: the times the time off covered become bookable again."""
    deleted, _kinds = TimeOff.objects.filter(pk=time_off_id, representative_id=representative_id).delete()
    if not deleted:
        raise HoursInvalid(_("That time off is not on your list."))
    return representative_slots_sync(representative_id=representative_id, now=now)


