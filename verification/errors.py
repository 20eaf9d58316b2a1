from django.utils.translation import gettext_lazy as _

from scheduling.errors import Conflict, DomainError, Forbidden, NotFound


class CaseAlreadyOpen(Conflict):
    code = "case_already_open"
    detail = _("This freelancer already has an open verification case.")


class IllegalTransition(Conflict):
    code = "illegal_transition"


class CaseNotFound(NotFound):
    code = "case_not_found"
    detail = _("No verification case has this id.")


class CaseBusy(Conflict):
    """Another transaction holds the case right now (only asked for with `skip_locked`)."""

    code = "case_busy"
    detail = _("This case is being changed right now. Try again in a moment.")


class LanguageNotOffered(DomainError):
    code = "language_not_offered"
    detail = _("Pick one of the languages listed.")


class CaseNotBookable(Conflict):
    code = "case_not_bookable"


class BookingTimeInvalid(DomainError):
    """400 with a specific code: in_the_past, too_soon, after_deadline, not_a_slot_time."""

    def __init__(self, code: str, detail: str):
        self.code = code
        super().__init__(detail)


class RescheduleNotAllowed(Conflict):
    """409 with a specific code: reschedule_limit_reached, too_close_to_call."""

    def __init__(self, code: str, detail: str):
        self.code = code
        super().__init__(detail)


class ExtensionNotAllowed(Conflict):
    code = "extension_not_allowed"


class RequestNotAllowed(Conflict):
    code = "request_not_allowed"


class CallNotAllowed(Conflict):
    code = "call_not_allowed"


class ReviewNotAllowed(Forbidden):
    code = "review_not_allowed"
