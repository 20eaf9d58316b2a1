"""The one base class of domain errors, in the lowest app so that every app imports it downwards
(never up from the site package).

Services raise these; the API's exception handler maps them to a status code and a stable `code`,
and pages show `detail` to the person, translated (`message` for placeholders). `extra` carries
data the caller may want (the open case, the next free times).
"""

from datetime import datetime
from typing import Any

from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _


def _interpolated(text: str, params: dict[str, Any]) -> str:
    return str(text) % params


def message(text: str, **params: Any) -> str:
    """A translatable message with named placeholders, put into the language active when it is
    shown (the freelancer's page, the API's Accept-Language), not when it was raised:
    `message(_("Calls must be booked at least %(minutes)s minutes ahead."), minutes=30)`."""
    return lazy(_interpolated, str)(text, params)


class DomainError(Exception):
    status_code = 400
    code = "invalid"
    detail = _("The request could not be processed.")

    def __init__(self, detail: str | None = None, *, extra: dict[str, Any] | None = None):
        self.detail = detail or self.detail
        self.extra = extra or {}
        super().__init__(self.detail)


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    detail = _("Not found.")


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    detail = _("The request conflicts with the current state.")


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
    detail = _("You may not do this.")


# --- scheduling's own ------------------------------------------------------------------------

class SlotTaken(Conflict):
    """`next_free_times`: free times soon after the taken one, as aware datetimes (the API renders
    them as UTC ISO 8601, pages in the person's zone)."""

    code = "slot_taken"
    detail = _("That time was just taken. Please pick another; free times soon after it are listed.")

    def __init__(self, *, next_free_times: list[datetime]):
        super().__init__(extra={"next_free_times": next_free_times})
        self.next_free_times = next_free_times


class AlreadyBooked(Conflict):
    code = "already_booked"
    detail = _("This case already has a booked call. Reschedule or cancel it instead.")


class BookingNotFound(NotFound):
    code = "booking_not_found"
    detail = _("There is no booked call to change.")


class HoursBusy(Conflict):
    code = "hours_busy"
    detail = _("Freelancers were booking your times just now; nothing was changed. Please try again.")


class HoursInvalid(Conflict):
    code = "hours_invalid"


class CalendarProblem(DomainError):
    """Connecting or reading a representative's calendar failed; `code` says how (wrong URL, wrong
    password, TLS, not a calendar, unreachable, timeout, garbage...)."""

    status_code = 400

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code


class NoColleagueFree(Conflict):
    code = "no_colleague_free"
    detail = _("No other representative is free at that time; the call stays with you.")
