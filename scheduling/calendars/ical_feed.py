"""Fetching a representative's private iCal (.ics) address: busy times only.

https only; outside DEBUG an address whose host resolves to a loopback, private, link-local or
otherwise non-public address is refused, and the connection goes to the address that was checked
(no second lookup a DNS trick could change). At most CALENDAR_ICAL_MAX_BYTES are read and the
whole fetch takes at most CALENDAR_TIMEOUT_SECONDS. With DEBUG (a laptop, the tests) plain http to
this machine is allowed too."""

import http.client
import ipaddress
import socket
import ssl
import time
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from scheduling.errors import CalendarProblem, message

_REDIRECTS = 3


def _refused(detail: str) -> CalendarProblem:
    return CalendarProblem("calendar_address_refused", detail)


def public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_global and not (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast
                                 or ip.is_reserved or ip.is_unspecified)


def _resolve(host: str, port: int) -> str:
    """The address to connect to, checked."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise CalendarProblem("calendar_wrong_url", message(
            _("%(host)s does not exist. Check the address."), host=host)) from error
    addresses = [info[4][0] for info in infos]
    if not settings.DEBUG and not all(public_address(address) for address in addresses):
        raise _refused(message(_("%(host)s is not a public address; calendars are fetched only from the internet."),
                               host=host))
    return addresses[0]


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def address_check(url: str) -> None:
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise CalendarProblem("calendar_wrong_url", _("Give the calendar's private address; it starts with https://."))
    if parts.scheme == "http" and not settings.DEBUG:
        raise _refused(_("Only https:// calendar addresses are accepted."))


def feed_fetch(*, url: str) -> bytes:
    """The body at `url` (following up to three redirects, each checked like the first)."""
    deadline = time.monotonic() + settings.CALENDAR_TIMEOUT_SECONDS
    for _redirect in range(_REDIRECTS + 1):
        address_check(url)
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = _resolve(parts.hostname, port)
        kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
        connection = kind(parts.hostname, address, port, timeout=max(0.1, deadline - time.monotonic()))
        try:
            connection.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                               headers={"Accept": "text/calendar", "User-Agent": "verification-scheduler"})
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
                url = urljoin(url, response.getheader("Location"))
                continue
            if response.status != 200:
                raise CalendarProblem("calendar_wrong_url", message(_(
                    "The calendar address answered %(status)s. Copy the private address again from your "
                    "calendar's settings."), status=response.status))
            return _read_limited(response, deadline=deadline)
        except ssl.SSLError as error:
            raise CalendarProblem("calendar_tls_failed", message(
                _("The secure (TLS) connection to %(host)s failed."), host=parts.hostname)) from error
        except TimeoutError as error:
            raise _timeout() from error
        except OSError as error:
            raise CalendarProblem("calendar_wrong_url", message(
                _("%(host)s did not answer. Check the address."), host=parts.hostname)) \
                from error
        finally:
            connection.close()
    raise CalendarProblem("calendar_wrong_url", _("The calendar address redirects too often."))


def _timeout() -> CalendarProblem:
    return CalendarProblem("calendar_timeout", message(
        _("The calendar address did not answer within %(seconds)s seconds."),
        seconds=settings.CALENDAR_TIMEOUT_SECONDS))


def _read_limited(response, *, deadline: float) -> bytes:
    limit = settings.CALENDAR_ICAL_MAX_BYTES
    length = response.getheader("Content-Length")
    if length and length.isdigit() and int(length) > limit:
        raise CalendarProblem("calendar_too_large", message(
            _("The calendar is larger than %(size)s KiB."), size=limit // 1024))
    chunks, size = [], 0
    while True:
        if time.monotonic() > deadline:
            raise _timeout()
        chunk = response.read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise CalendarProblem("calendar_too_large", message(
                _("The calendar is larger than %(size)s KiB."), size=limit // 1024))
        chunks.append(chunk)
