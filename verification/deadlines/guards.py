"""Whether a freelancer may submit proposals, and the guards that decide a freeze.

The decision is stored: the deadline sweep evaluates the five guards below from stored facts
(`freeze_due`) and records a freeze on the case (`frozen_at`, status `FROZEN`); verification and
an admin's unfreeze clear it; a refusal after review (`NOT_VERIFIED`) keeps proposals paused. The
eligibility API, the pages and the webhooks read that stored decision (`can_submit_proposals`): one
row, no guard queries, on the marketplace's hottest call. A late or lost sweep can never freeze
anyone wrongly: it delays a freeze, never advances it. A guard that fails makes the sweep extend
the deadline instead (docs/decisions/0011-stored-freeze-decision.md).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from notifications.selectors import messages_sent_at
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
        return GuardFailure("warned", "the notice has not been sent")
    offsets = case.policy.warning_offsets_hours
    keys = {hours: warning_key(case, hours=hours) for hours in offsets}
    sent = messages_sent_at(keys.values())
    missing = [hours for hours, key in keys.items() if key not in sent]
    if missing:
        return GuardFailure("warned", f"the {', '.join(f'{h} h' for h in missing)} warning was not sent")
    lead = case.policy.min_warning_lead
    if sent and max(sent.values()) > case.deadline_at - lead:
        return GuardFailure("warned", f"the last warning was sent less than {lead} before the deadline")
    return None


def _not_booked(case: Case) -> GuardFailure | None:
    """2. No active booking: a booked call decides the case, even one after the deadline."""
    return GuardFailure("not_booked", "a call is booked") if booking_active_for(case_ref=case.id) else None


def _nothing_pending(case: Case) -> GuardFailure | None:
    """3. No pending accommodation, extension request, appeal or admin hold."""
    pending = CaseRequest.objects.filter(case=case, status=RequestStatus.PENDING).first()
    return GuardFailure("nothing_pending", f"a {pending.get_kind_display().lower()} is pending") if pending else None


def _no_fault_of_ours(case: Case) -> GuardFailure | None:
    """4. No representative no-show or our-side cancellation that was not made good."""
    if bookings_unmade_good_exist(case_ref=case.id):
        return GuardFailure("no_fault_of_ours", "we cancelled or missed a call and have not made it good yet")
    return None


def _offered_enough(case: Case) -> GuardFailure | None:
    """5. Offered at least the policy's minimum number of bookable times before the deadline."""
    needed = case.policy.min_bookable_times
    start = case.notice_sent_at + timedelta(minutes=settings.BOOKING_MIN_NOTICE_MINUTES)
    offered = offered_times_count(start=start, end=case.deadline_at)
    if offered < needed:
        return GuardFailure("offered_enough", f"only {offered} bookable times were offered (policy: {needed})")
    return None


GUARDS = (_warned, _not_booked, _nothing_pending, _no_fault_of_ours, _offered_enough)


def freeze_guard_failures(case: Case) -> list[GuardFailure]:
    return [failure for guard in GUARDS if (failure := guard(case))]


def freeze_due(case: Case, *, now: datetime) -> bool:
    """What the sweep decides at `now` for a case not frozen yet: open, past its deadline, and every
    guard holds (the guards' queries run only here, in the sweep and the consistency checks)."""
    if case.status != CaseStatus.OPEN or case.frozen_at is not None:
        return False
    if case.deadline_at is None or now < case.deadline_at:
        return False
    return not freeze_guard_failures(case)


def is_frozen(case: Case | None) -> bool:
    """The stored decision: the case row alone, no other query."""
    if case is None or case.status in (CaseStatus.VERIFIED, CaseStatus.WITHDRAWN):
        return False
    # once frozen, booking a call does not lift it: verification (or an admin) does
    return case.status in (CaseStatus.FROZEN, CaseStatus.NOT_VERIFIED) or case.frozen_at is not None


def frozen_computed(case: Case | None, *, now: datetime) -> bool:
    """The answer computed from every stored fact at `now`: the stored decision, or the one the
    sweep would make now. Equal to `is_frozen` right after a sweep at `now` (tested)."""
    return case is not None and (is_frozen(case) or freeze_due(case, now=now))


def can_submit_proposals(case: Case | None) -> bool:
    return not is_frozen(case)
