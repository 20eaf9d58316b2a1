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
    """409 with a specific code: reschedule_limit_reached, too_close_to_call, change_too_soon."""

    def __init__(self, code: str, detail: str, *, extra: dict | None = None):
        self.code = code
        super().__init__(detail, extra=extra)


class ExtensionNotAllowed(Conflict):
    code = "extension_not_allowed"


class RequestNotAllowed(Conflict):
    code = "request_not_allowed"


class CallNotAllowed(Conflict):
    code = "call_not_allowed"


class ReviewNotAllowed(Forbidden):
    code = "review_not_allowed"


class EarlierTimesNeedBooking(Conflict):
    code = "earlier_times_need_booking"
    detail = _("Book a call first; then we can tell you if an earlier time opens.")


class EarlierOfferNotFound(NotFound):
    code = "earlier_offer_not_found"
    detail = _("This offer is not for your case. Use the link from your own email.")


class EarlierTimeTaken(Conflict):
    """The offered time is gone (someone else took it, it is too close now, or the freelancer's
    call is no longer later); their booking is unchanged."""

    code = "earlier_time_taken"
    detail = _("That time was taken. Your call is unchanged.")


class DeciderNotIndependent(ReviewNotAllowed):
    """Separation of duties: the person ran a call of the case, or (on an appeal) decided it before.
    403 whatever their role; `rule` names which rule refused it (kept in the audit row)."""

    code = "decider_not_independent"

    def __init__(self, detail: str, *, rule: str):
        self.rule = rule
        super().__init__(detail, extra={"rule": rule})


class FreelancerNotFound(NotFound):
    code = "freelancer_not_found"
    detail = _("No data is held about a freelancer with this external id.")


class FreelancerCaseOpen(Conflict):
    code = "freelancer_case_open"
    detail = _("This freelancer has an open verification case; erase it after the case has ended (or withdraw it).")


class IdempotencyKeyInvalid(DomainError):
    code = "idempotency_key_invalid"
    detail = _("Idempotency-Key must be 1 to 255 visible ASCII characters.")


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    detail = _("This Idempotency-Key was already used for a different request.")
