"""Busy times from calendar data: what a representative's own calendar says they are busy.

An event is busy unless it is TRANSP:TRANSPARENT, STATUS:CANCELLED, or declined by the
representative (an ATTENDEE with one of their addresses and PARTSTAT=DECLINED). Recurring events
(RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) are expanded by `recurring-ical-events`, in the
zone each event was written in (so a weekly 10:00 New York meeting stays 10:00 New York across
DST); floating and all-day events are taken in the representative's zone. Our own calls written
back to the calendar (UID `...@verification-calls`) are never busy: they are the bookings.

Only the timing is kept (`timing_only`): no title, place, notes or people are stored.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar, Event

OUR_UID_SUFFIX = "@verification-calls"
_TIMING = ("UID", "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "EXRULE", "RECURRENCE-ID",
           "SEQUENCE", "STATUS", "TRANSP")


class NotACalendar(ValueError):
    """The data is not iCalendar."""


def calendar_parse(data: str | bytes) -> Calendar:
    try:
        calendar = Calendar.from_ical(data)
    except Exception as error:  # noqa: BLE001 - any parse failure means "not a calendar"
        raise NotACalendar(str(error)[:200]) from error
    if calendar.name != "VCALENDAR":
        raise NotACalendar("not a VCALENDAR")
    return calendar


def _declined(event: Event, own_addresses: frozenset[str]) -> bool:
    attendees = event.get("ATTENDEE")
    if attendees is None:
        return False
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        address = str(attendee).lower().removeprefix("mailto:")
        if address in own_addresses and str(attendee.params.get("PARTSTAT", "")).upper() == "DECLINED":
            return True
    return False


def timing_only(data: str | bytes, *, own_addresses: frozenset[str]) -> str:
    """The calendar object reduced to what busy times need: its time zones and, per event, the
    timing properties; events declined by the representative are left out."""
    source = calendar_parse(data)
    kept = Calendar()
    kept.add("prodid", "-//Verification-call scheduler//busy times//EN")
    kept.add("version", "2.0")
    for component in source.subcomponents:
        if component.name == "VTIMEZONE":
            kept.add_component(component)
        elif component.name == "VEVENT" and not _declined(component, own_addresses):
            event = Event()
            for name in _TIMING:
                if name in component:
                    event[name] = component[name]
            kept.add_component(event)
    return kept.to_ical().decode()


def _instant(value, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)
    if isinstance(value, date):  # all day: the representative's local day
        return datetime.combine(value, time(0), tzinfo=zone).astimezone(UTC)
    raise TypeError(value)


def busy_intervals(data: str | bytes, *, zone_name: str, start: datetime, end: datetime
                   ) -> list[tuple[datetime, datetime]]:
    """Busy [start, end) intervals of the events in `data` that overlap [start, end), in UTC."""
    zone = ZoneInfo(zone_name)
    calendar = calendar_parse(data)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    intervals = []
    for event in recurring_ical_events.of(calendar).between(local_start - timedelta(days=1),
                                                               local_end + timedelta(days=1)):
        if str(event.get("UID", "")).endswith(OUR_UID_SUFFIX):
            continue
        if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        dtstart = event["DTSTART"].dt
        if "DTEND" in event:
            dtend = event["DTEND"].dt
        elif "DURATION" in event:
            dtend = dtstart + event["DURATION"].dt
        else:
            dtend = dtstart + (timedelta(days=1) if not isinstance(dtstart, datetime) else timedelta(0))
        busy_start, busy_end = _instant(dtstart, zone), _instant(dtend, zone)
        if busy_start < busy_end and busy_start < end and start < busy_end:
            intervals.append((busy_start, busy_end))
    return sorted(set(intervals))
