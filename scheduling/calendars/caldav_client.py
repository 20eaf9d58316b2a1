"""Talking to a representative's CalDAV server, through the `caldav` library (no hand-written
WebDAV). Every failure becomes a `CalendarProblem` with a code and a message a representative
can act on; the password is never part of a message or a log line."""

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import caldav
import niquests.exceptions as http_errors
from caldav.elements import dav
from caldav.lib import error as dav_errors
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from scheduling.calendars.ical_feed import public_address as _public
from scheduling.errors import CalendarProblem, message

_CALENDAR_TYPE = "{urn:ietf:params:xml:ns:caldav}calendar"
_MULTIGET_BATCH = 200


def _problem(error: Exception, *, url: str) -> CalendarProblem:
    host = urlsplit(url).hostname or url
    if isinstance(error, CalendarProblem):
        return error
    if isinstance(error, http_errors.SSLError):
        return CalendarProblem("calendar_tls_failed", message(_(
            "The secure (TLS) connection to %(host)s failed: its certificate is not valid or it does not speak "
            "HTTPS at this address."), host=host))
    if isinstance(error, http_errors.Timeout):
        return CalendarProblem("calendar_timeout", message(_(
            "%(host)s did not answer within %(seconds)s seconds. Try again later."), host=host,
            seconds=settings.CALENDAR_TIMEOUT_SECONDS))
    if isinstance(error, http_errors.MissingSchema | http_errors.InvalidURL | http_errors.InvalidSchema):
        return CalendarProblem("calendar_wrong_url", _("That is not a web address. It starts with https://."))
    if isinstance(error, http_errors.ConnectionError):
        return CalendarProblem("calendar_wrong_url", message(
            _("No calendar server answers at %(host)s. Check the address."), host=host))
    if isinstance(error, dav_errors.AuthorizationError):
        return CalendarProblem("calendar_wrong_password", _(
            "The server refused the user name or password. Use an app password if your provider has them "
            "(iCloud, Fastmail)."))
    if isinstance(error, dav_errors.NotFoundError):
        return CalendarProblem("calendar_wrong_url", message(
            _("%(host)s has no calendar at that address. Check the address."), host=host))
    return CalendarProblem("calendar_garbage", message(
        _("%(host)s answered with something that is not a calendar (%(what)s)."), host=host,
        what=type(error).__name__))


def address_check(url: str) -> None:
    """https (plain http only to this machine); outside DEBUG, a host on a loopback, private or
    link-local address only when CALENDAR_CALDAV_ALLOW_PRIVATE is set."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise CalendarProblem("calendar_wrong_url", _("Give the calendar server's https:// address."))
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443,
                                                               type=socket.SOCK_STREAM)}
    except OSError as error:
        raise CalendarProblem("calendar_wrong_url", message(
            _("%(host)s does not exist. Check the address."), host=parts.hostname)) from error
    if parts.scheme == "http" and not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        raise CalendarProblem("calendar_wrong_url", _("Give the calendar server's https:// address."))
    if not (settings.DEBUG or settings.CALENDAR_CALDAV_ALLOW_PRIVATE) and not all(_public(a) for a in addresses):
        raise CalendarProblem("calendar_address_refused", message(_(
            "%(host)s is not a public address; an administrator can allow calendar servers on private "
            "networks."), host=parts.hostname))


def _client(*, url: str, username: str, password: str) -> caldav.DAVClient:
    return caldav.DAVClient(url=url, username=username, password=password, timeout=settings.CALENDAR_TIMEOUT_SECONDS)


def calendar_find(*, url: str, username: str, password: str) -> str:
    """The URL of the calendar to use: `url` itself when it is a calendar collection, else the
    account's first calendar that holds events. Raises CalendarProblem with what went wrong."""
    address_check(url)
    try:
        client = _client(url=url, username=username, password=password)
        kinds = client.calendar(url=url).get_properties([dav.ResourceType()]).get("{DAV:}resourcetype") or []
        if _CALENDAR_TYPE in kinds:
            return url
        try:
            calendars = client.principal().calendars()
        except dav_errors.NotFoundError:
            calendars = []
        for calendar in calendars:
            if "VEVENT" in calendar.get_supported_components():
                return str(calendar.url)
    except Exception as error:  # noqa: BLE001 - every failure is explained to the person
        raise _problem(error, url=url) from error
    raise CalendarProblem("calendar_not_a_calendar", _(
        "That address is not a calendar, and the account has no calendar for events. Give the address of a "
        "calendar (or create one)."))


@dataclass
class Changes:
    sync_token: str
    full: bool  # every object is listed: objects not in `changed` are gone
    changed: dict[str, str | None] = field(default_factory=dict)  # href -> data, None when deleted


def calendar_changes(*, calendar_url: str, username: str, password: str, sync_token: str) -> Changes:
    """What changed since `sync_token` (RFC 6578 sync-collection; the library falls back to ETags
    where a server lacks it), or everything when there is no token or the server forgot it."""
    try:
        calendar = _client(url=calendar_url, username=username, password=password).calendar(url=calendar_url)
        full = not sync_token
        try:
            result = calendar.objects_by_sync_token(sync_token=sync_token or None, load_objects=False)
        except dav_errors.DAVError:
            if full:
                raise
            full, result = True, calendar.objects_by_sync_token(sync_token=None, load_objects=False)
        hrefs = [item.url for item in result]
        changed: dict[str, str | None] = {urlsplit(str(href)).path: None for href in hrefs}
        for start in range(0, len(hrefs), _MULTIGET_BATCH):  # the changed objects' data, a batch per request
            for item in calendar.multiget(hrefs[start:start + _MULTIGET_BATCH]):
                changed[urlsplit(str(item.url)).path] = item.data or None
        token = str(result.sync_token or "")
        # a server without sync-collection: the library lists every object again whenever any ETag
        # changed (its "fake-" token hashes them), so what it lists is everything there is
        return Changes(sync_token=token, full=full or token.startswith("fake-"), changed=changed)
    except Exception as error:  # noqa: BLE001
        raise _problem(error, url=calendar_url) from error


def _event_url(calendar_url: str, name: str) -> str:
    return urljoin(calendar_url if calendar_url.endswith("/") else calendar_url + "/", f"{name}.ics")


def event_put(*, calendar_url: str, username: str, password: str, name: str, data: bytes) -> None:
    """Create or replace the event at <calendar>/<name>.ics (PUT: the same write twice is one event)."""
    try:
        response = _client(url=calendar_url, username=username, password=password).put(
            _event_url(calendar_url, name), data.decode(), {"Content-Type": "text/calendar; charset=utf-8"})
    except Exception as error:  # noqa: BLE001
        raise _problem(error, url=calendar_url) from error
    if response.status not in (200, 201, 204):
        raise CalendarProblem("calendar_write_refused", message(
            _("The calendar server refused the call (%(status)s)."), status=response.status))


def event_delete(*, calendar_url: str, username: str, password: str, name: str) -> None:
    """Delete <calendar>/<name>.ics; already gone is fine."""
    try:
        response = _client(url=calendar_url, username=username, password=password).delete(
            _event_url(calendar_url, name))
    except Exception as error:  # noqa: BLE001
        raise _problem(error, url=calendar_url) from error
    if response.status not in (200, 204, 404):
        raise CalendarProblem("calendar_write_refused", message(
            _("The calendar server refused the delete (%(status)s)."), status=response.status))
