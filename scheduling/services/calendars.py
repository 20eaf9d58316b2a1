"""Representatives' own calendars: connect (tested first), disconnect, sync busy times into slots,
and hand a call that a new busy time overlaps to a colleague.

Network calls happen outside any transaction; what they bring back is stored in one transaction
per representative that goes through the same path as a change of hours
(`representative_slots_sync`, its lock order and its `HoursBusy`, see decision 0006)."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from scheduling.calendars import caldav_client, ical_feed
from scheduling.calendars.busy import NotACalendar, busy_intervals, timing_only
from scheduling.calendars.secrets import secret_open, secret_seal
from scheduling.errors import CalendarProblem, HoursBusy, NoColleagueFree, NotFound
from scheduling.generation import slots_changed
from scheduling.models import (
    Booking,
    BookingStatus,
    BusyTime,
    CalendarAuditEvent,
    CalendarConnection,
    CalendarKind,
    CalendarObject,
    Representative,
    Slot,
)
from scheduling.services.bookings import _claim
from scheduling.services.slots import atomic_or_busy, representative_slots_sync

logger = logging.getLogger(__name__)


def _audit(*, representative_id: int, actor: str, action: str, now: datetime, **detail) -> None:
    CalendarAuditEvent.objects.create(representative_id=representative_id, actor=actor, action=action, at=now,
                                      detail=detail)


@transaction.atomic
def _connection_save(*, representative_id: int, kind: str, address: str, calendar_url: str, username: str,
                     secret: str, actor: str, now: datetime) -> CalendarConnection:
    Representative.objects.select_for_update(no_key=True).get(pk=representative_id)
    _forget(representative_id=representative_id)
    connection = CalendarConnection.objects.create(
        representative_id=representative_id, kind=kind, address=address, calendar_url=calendar_url,
        username=username, secret=secret_seal(secret), created_at=now)
    _audit(representative_id=representative_id, actor=actor, action="calendar_connected", now=now, kind=kind,
           address=address)
    return connection


def calendar_connect_caldav(*, representative_id: int, url: str, username: str, password: str, actor: str,
                            now: datetime) -> CalendarConnection:
    """Test the CalDAV account (which calendar, right password, TLS), store it encrypted, sync it.
    A failed test raises CalendarProblem and stores nothing."""
    url = url.strip()
    calendar_url = caldav_client.calendar_find(url=url, username=username, password=password)
    connection = _connection_save(representative_id=representative_id, kind=CalendarKind.CALDAV, address=url,
                                  calendar_url=calendar_url, username=username, secret=password, actor=actor,
                                  now=now)
    calendar_sync(representative_id=representative_id, now=now)
    connection.refresh_from_db()
    return connection


def calendar_connect_ical(*, representative_id: int, url: str, actor: str, now: datetime) -> CalendarConnection:
    """A private iCal address (read-only busy times): fetched and read once as a test, stored
    encrypted (the address is the secret), synced."""
    url = url.strip()
    try:
        timing_only(ical_feed.feed_fetch(url=url), own_addresses=frozenset())
    except NotACalendar as error:
        raise CalendarProblem("calendar_not_a_calendar", _(
            "That address does not serve a calendar (.ics). Copy the private iCal address from your calendar's "
            "settings.")) from error
    connection = _connection_save(representative_id=representative_id, kind=CalendarKind.ICAL,
                                  address=urlsplit(url).hostname or "", calendar_url="", username="", secret=url,
                                  actor=actor, now=now)
    calendar_sync(representative_id=representative_id, now=now)
    connection.refresh_from_db()
    return connection


def _forget(*, representative_id: int) -> bool:
    BusyTime.objects.filter(representative_id=representative_id).delete()
    deleted, _ = CalendarConnection.objects.filter(representative_id=representative_id).delete()
    return bool(deleted)


@atomic_or_busy()
def calendar_disconnect(*, representative_id: int, actor: str, now: datetime) -> bool:
    """Remove the credentials, the stored timings and busy times; the times they blocked become
    bookable again. Audited. False if nothing was connected."""
    Representative.objects.select_for_update(no_key=True).get(pk=representative_id)
    if not _forget(representative_id=representative_id):
        return False
    _audit(representative_id=representative_id, actor=actor, action="calendar_disconnected", now=now)
    representative_slots_sync(representative_id=representative_id, now=now)
    return True


# --- sync -------------------------------------------------------------------------------------

@dataclass
class _Fetched:
    sync_token: str
    full: bool
    changed: dict[str, str | None]


# The busy times are expanded a day past the slot horizon, and again when less than half a day of that is left.
_ROLL = timedelta(hours=12)


def _window(now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(days=1), now + timedelta(days=settings.SLOT_HORIZON_DAYS + 1)


def _own_addresses(connection: CalendarConnection) -> frozenset[str]:
    addresses = {connection.username.lower(), (connection.representative.user.email or "").lower()}
    return frozenset(address for address in addresses if "@" in address)


def _fetch(connection: CalendarConnection) -> _Fetched:
    """Network only: what changed in the calendar, reduced to its timing."""
    own = _own_addresses(connection)
    if connection.kind == CalendarKind.ICAL:
        data = ical_feed.feed_fetch(url=secret_open(connection.secret))
        return _Fetched(sync_token="", full=True, changed={"feed": timing_only(data, own_addresses=own)})
    changes = caldav_client.calendar_changes(calendar_url=connection.calendar_url, username=connection.username,
                                             password=secret_open(connection.secret),
                                             sync_token=connection.sync_token)
    try:
        changed = {href: timing_only(data, own_addresses=own) if data else None
                   for href, data in changes.changed.items()}
    except NotACalendar as error:
        raise CalendarProblem("calendar_garbage", _("The calendar server sent data that is not iCalendar.")) from error
    return _Fetched(sync_token=changes.sync_token, full=changes.full, changed=changed)


@atomic_or_busy()
def _busy_store(*, connection_id: int, representative_id: int, fetched: _Fetched, now: datetime) -> int:
    """Apply what changed, recompute the busy times for the window and remove the free slots they
    cover (booked ones stay: they are shown as conflicts). The representative row is locked first,
    as an hours change locks it."""
    rep = Representative.objects.select_for_update(no_key=True).get(pk=representative_id)
    connection = CalendarConnection.objects.filter(pk=connection_id).first()
    if connection is None:  # disconnected while we fetched
        return 0
    start, end = _window(now)
    if not fetched.full and not fetched.changed and connection.busy_until and connection.busy_until >= end - _ROLL:
        # nothing changed and the stored busy times still reach far enough: a cheap incremental sync
        _synced(connection, fetched=fetched, now=now, busy_until=connection.busy_until)
        return -1
    if fetched.full:
        CalendarObject.objects.filter(connection=connection).exclude(href__in=list(fetched.changed)).delete()
    for href, data in fetched.changed.items():
        if data is None:
            CalendarObject.objects.filter(connection=connection, href=href).delete()
        else:
            CalendarObject.objects.update_or_create(connection=connection, href=href, defaults={"data": data})
    intervals = set()
    for href, data in CalendarObject.objects.filter(connection=connection).values_list("href", "data"):
        try:
            intervals.update(busy_intervals(data, zone_name=rep.timezone, start=start, end=end))
        except Exception:  # noqa: BLE001 - one event no expander can read (no start...) must not hide the others
            logger.warning("calendar of representative %s: object %s skipped (unreadable timing)", rep.pk, href)
    BusyTime.objects.filter(representative=rep).delete()
    BusyTime.objects.bulk_create([BusyTime(representative=rep, starts_at=a, ends_at=b) for a, b in sorted(intervals)])
    _synced(connection, fetched=fetched, now=now, busy_until=end)
    representative_slots_sync(representative_id=representative_id, now=now)
    return len(intervals)


def _synced(connection: CalendarConnection, *, fetched: _Fetched, now: datetime, busy_until: datetime) -> None:
    connection.sync_token = fetched.sync_token
    connection.stale, connection.last_error = False, ""
    connection.last_sync_at = connection.last_good_sync_at = now
    connection.busy_until = busy_until
    connection.save(update_fields=["sync_token", "stale", "last_error", "last_sync_at", "last_good_sync_at",
                                   "busy_until"])


@transaction.atomic
def _mark_stale(*, connection_id: int, problem: CalendarProblem, now: datetime) -> None:
    CalendarConnection.objects.filter(pk=connection_id).update(stale=True, last_error=problem.detail[:300],
                                                               last_sync_at=now)


def calendar_sync(*, representative_id: int, now: datetime) -> bool:
    """Sync one representative's calendar. A server that is down, slow or sends garbage leaves
    the last busy times in place and marks the connection stale. Returns whether it synced."""
    connection = (CalendarConnection.objects.select_related("representative__user")
                  .filter(representative_id=representative_id).first())
    if connection is None:
        return False
    try:
        fetched = _fetch(connection)
    except CalendarProblem as problem:
        logger.warning("calendar of representative %s not synced: %s", representative_id, problem.code)
        _mark_stale(connection_id=connection.pk, problem=problem, now=now)
        return False
    except NotACalendar:
        _mark_stale(connection_id=connection.pk, now=now, problem=CalendarProblem(
            "calendar_garbage", _("The calendar address sent data that is not iCalendar.")))
        return False
    try:
        _busy_store(connection_id=connection.pk, representative_id=representative_id, fetched=fetched, now=now)
    except HoursBusy:
        raise
    except Exception:  # noqa: BLE001 - data no expander can read must not stop the other calendars' syncs
        logger.exception("calendar of representative %s: its data could not be expanded", representative_id)
        _mark_stale(connection_id=connection.pk, now=now, problem=CalendarProblem(
            "calendar_garbage", _("Some of the calendar's events could not be read; the last busy times stay.")))
        return False
    return True


def calendars_sync_all(*, now: datetime) -> int:
    """Beat and `manage.py sync_calendars`: every connected calendar, one at a time. One whose
    slots are busy being booked is left for the next run."""
    synced = 0
    for rep_id in CalendarConnection.objects.order_by("representative_id").values_list("representative_id",
                                                                                        flat=True):
        try:
            synced += calendar_sync(representative_id=rep_id, now=now)
        except HoursBusy:
            logger.warning("calendar of representative %s: slots busy, left for the next sync", rep_id)
    return synced


# --- conflicts --------------------------------------------------------------------------------

@transaction.atomic
def booking_hand_over(*, booking_id, representative_id: int | None, actor: str, now: datetime) -> Booking:
    """One click from a conflict: give the call to another free representative at the same time
    (least-loaded), keeping the freelancer's time. `representative_id`: the representative acting
    (None: an admin). Raises NoColleagueFree if nobody is free; then nothing changed. The booking is
    marked displaced (MOVED), so verification audits it and tells the freelancer, as for any move."""
    from scheduling.models import Displacement

    bookings = Booking.objects.select_for_update().filter(pk=booking_id, status=BookingStatus.ACTIVE)
    if representative_id is not None:
        bookings = bookings.filter(representative_id=representative_id)
    booking = bookings.first()
    if booking is None:
        raise NotFound(_("No such booked call."))
    slot = _claim(starts_at=booking.starts_at, language=booking.language, phone=booking.phone,
                  exclude_representative_id=booking.representative_id)
    if slot is None:
        raise NoColleagueFree()
    slots_changed(instants=[booking.starts_at])  # the colleague's slot is taken, at the same time
    old_rep, old_slot_id = booking.representative_id, booking.slot_id
    booking.slot, booking.representative_id = slot, slot.representative_id
    booking.displacement, booking.displaced_at, booking.displacement_handled_at = Displacement.MOVED, now, None
    booking.sequence += 1
    booking.updated_at = now
    booking.save(update_fields=["slot", "representative", "displacement", "displaced_at", "displacement_handled_at",
                                "sequence", "updated_at"])
    if old_slot_id:  # inside the busy time: not offered again
        Slot.objects.filter(pk=old_slot_id).delete()
    _audit(representative_id=old_rep, actor=actor, action="call_handed_over", now=now, booking_id=str(booking.pk),
           to_representative_id=booking.representative_id)
    return booking
