"""Whether a freelancer may submit proposals: a pure function of the case's stored facts and `now`.

The eligibility API, the pages and the deadline sweep all call `can_submit_proposals`, so a late
or lost sweep can never freeze anyone wrongly: past the deadline, proposals are paused only when
every guard below holds. A guard that fails makes the sweep extend the deadline instead.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from notifications.selectors import messages_sent_at
from scheduling.errors import message
from scheduling.selectors import booking_active_for, bookings_unmade_good_exist, offered_times_count
from verification.deadlines.rules import warning_key
from verification.models import Case, CaseRequest, CaseStatus, RequestStatus


@dataclass(frozen=True)
class GuardFailure:
    guard: str
    why: str


def _warned(case: Case) -> GuardFailure | None:
    """1. The notice and every warning for this deadline were sent, the last one early enough."""
    if case.notice_sent_at is None:
        return GuardFailure("warned", _("the notice has not been sent"))
    offsets = case.policy.warning_offsets_hours
    keys = {hours: warning_key(case, hours=hours) for hours in offsets}
    sent = messages_sent_at(keys.values())
    missing = [hours for hours, key in keys.items() if key not in sent]
    if missing:
        return GuardFailure("warned", message(_("the %(hours)s warning was not sent"),
                                              hours=", ".join(f"{h} h" for h in missing)))
    lead = case.policy.min_warning_lead
    if sent and max(sent.values()) > case.deadline_at - lead:
        return GuardFailure("warned", message(_("the last warning was sent less than %(lead)s before the deadline"),
                                              lead=str(lead)))
    return None


def _not_booked(case: Case) -> GuardFailure | None:
    """2. No active booking: a booked call decides the case, even one after the deadline."""
    return GuardFailure("not_booked", _("a call is booked")) if booking_active_for(case_ref=case.id) else None


def _nothing_pending(case: Case) -> GuardFailure | None:
    """3. No pending accommodation, extension request, appeal or admin hold."""
    pending = CaseRequest.objects.filter(case=case, status=RequestStatus.PENDING).first()
    if pending is None:
        return None
    return GuardFailure("nothing_pending", message(_("a %(kind)s is pending"), kind=pending.get_kind_display().lower()))


def _no_fault_of_ours(case: Case) -> GuardFailure | None:
    """4. No representative no-show or our-side cancellation that was not made good."""
    if bookings_unmade_good_exist(case_ref=case.id):
        return GuardFailure("no_fault_of_ours", _("we cancelled or missed a call and have not made it good yet"))
    return None


def _offered_enough(case: Case) -> GuardFailure | None:
    """5. Offered at least the policy's minimum number of bookable times before the deadline."""
    needed = case.policy.min_bookable_times
    start = case.notice_sent_at + timedelta(minutes=settings.BOOKING_MIN_NOTICE_MINUTES)
    offered = offered_times_count(start=start, end=case.deadline_at)
    if offered < needed:
        return GuardFailure("offered_enough", message(
            _("only %(offered)s bookable times were offered (policy: %(needed)s)"), offered=offered, needed=needed))
    return None


GUARDS = (_warned, _not_booked, _nothing_pending, _no_fault_of_ours, _offered_enough)


def freeze_guard_failures(case: Case) -> list[GuardFailure]:
    return [failure for guard in GUARDS if (failure := guard(case))]


def is_frozen(case: Case | None, *, now: datetime) -> bool:
    if case is None or case.status in (CaseStatus.VERIFIED, CaseStatus.WITHDRAWN):
        return False
    if case.status in (CaseStatus.FROZEN, CaseStatus.NOT_VERIFIED) or case.frozen_at is not None:
        return True  # once frozen, booking a call does not lift it: verification (or an admin) does
    if case.status != CaseStatus.OPEN or case.deadline_at is None or now < case.deadline_at:
        return False
    return not freeze_guard_failures(case)


def can_submit_proposals(case: Case | None, *, now: datetime) -> bool:
    return not is_frozen(case, now=now)
