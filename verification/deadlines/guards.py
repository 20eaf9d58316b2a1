"""Whether a freelancer may submit proposals, and the guards that decide a freeze.

The decision is stored: the deadline sweep evaluates the five guards below from stored facts
(`freeze_due`) and records a freeze on the case (`frozen_at`, status `FROZEN`); verification and
an admin's unfreeze clear it; a refusal after review (`NOT_VERIFIED`) keeps proposals paused. The
eligibility API, the pages and the webhooks read that stored decision (`can_submit_proposals`): one
row, no guard queries, on the marketplace's hottest call. A late or lost sweep can never freeze
anyone wrongly: it delays a freeze, never advances it. A guard that fails makes the sweep extend
the deadline instead (docs/decisions/0012-stored-freeze-decision.md).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from notifications.selectors import messages_sent_at
from scheduling.errors import message
from scheduling.selectors import bookings_active_case_refs, bookings_unmade_good_case_refs, offered_times_count
from verification.deadlines.rules import warning_key
from verification.models import Case, CaseRequest, CaseStatus, RequestStatus


@dataclass(frozen=True)
class GuardFailure:
    guard: str
    why: str


def _warned(cases: list[Case]) -> dict[UUID, GuardFailure]:
    """1. The notice and every warning for this deadline were sent, the last one early enough."""
    keys = {case.id: {hours: warning_key(case, hours=hours) for hours in case.policy.warning_offsets_hours}
            for case in cases if case.notice_sent_at is not None}
    sent = messages_sent_at([key for of_case in keys.values() for key in of_case.values()])
    failures = {}
    for case in cases:
        if case.notice_sent_at is None:
            failures[case.id] = GuardFailure("warned", _("the notice has not been sent"))
            continue
        sent_at = {hours: sent[key] for hours, key in keys[case.id].items() if key in sent}
        missing = [hours for hours in keys[case.id] if hours not in sent_at]
        lead = case.policy.min_warning_lead
        if missing:
            failures[case.id] = GuardFailure("warned", message(_("the %(hours)s warning was not sent"),
                                                               hours=", ".join(f"{h} h" for h in missing)))
        elif sent_at and max(sent_at.values()) > case.deadline_at - lead:
            failures[case.id] = GuardFailure("warned", message(
                _("the last warning was sent less than %(lead)s before the deadline"), lead=str(lead)))
    return failures


def _not_booked(cases: list[Case]) -> dict[UUID, GuardFailure]:
    """2. No active booking: a booked call decides the case, even one after the deadline."""
    booked = bookings_active_case_refs(case_refs=[case.id for case in cases])
    return {case_id: GuardFailure("not_booked", _("a call is booked")) for case_id in booked}


def _nothing_pending(cases: list[Case]) -> dict[UUID, GuardFailure]:
    """3. No pending accommodation, extension request, appeal or admin hold."""
    failures = {}
    for pending in CaseRequest.objects.filter(case__in=[case.id for case in cases],
                                              status=RequestStatus.PENDING).order_by("pk"):
        failures.setdefault(pending.case_id, GuardFailure("nothing_pending", message(
            _("a %(kind)s is pending"), kind=pending.get_kind_display().lower())))
    return failures


def _no_fault_of_ours(cases: list[Case]) -> dict[UUID, GuardFailure]:
    """4. No representative no-show or our-side cancellation that was not made good."""
    return {case_id: GuardFailure("no_fault_of_ours", _("we cancelled or missed a call and have not made it good yet"))
            for case_id in bookings_unmade_good_case_refs(case_refs=[case.id for case in cases])}


def _offered_enough(cases: list[Case]) -> dict[UUID, GuardFailure]:
    """5. Offered at least the policy's minimum number of bookable times before the deadline (one
    query per distinct window, counting no further than the minimum)."""
    counted: dict[tuple[datetime, datetime, int], int] = {}
    failures = {}
    for case in cases:
        needed = case.policy.min_bookable_times
        start = case.notice_sent_at + timedelta(minutes=settings.BOOKING_MIN_NOTICE_MINUTES)
        window = (start, case.deadline_at, needed)
        if window not in counted:
            counted[window] = offered_times_count(start=start, end=case.deadline_at, at_most=needed)
        if (offered := counted[window]) < needed:
            failures[case.id] = GuardFailure("offered_enough", message(
                _("only %(offered)s bookable times were offered (policy: %(needed)s)"), offered=offered, needed=needed))
    return failures


GUARDS = (_warned, _not_booked, _nothing_pending, _no_fault_of_ours, _offered_enough)


def freeze_guard_failures_many(cases: list[Case]) -> dict[UUID, list[GuardFailure]]:
    """Each case's failing guards, in the guards' order: one query per guard for all the cases (the
    notice must have been sent for guards 2 to 5 to be asked, as guard 1 fails otherwise)."""
    failures: dict[UUID, list[GuardFailure]] = {case.id: [] for case in cases}
    noticed = [case for case in cases if case.notice_sent_at is not None]
    for guard in GUARDS:
        for case_id, failure in guard(cases if guard is _warned else noticed).items():
            failures[case_id].append(failure)
    return failures


def freeze_guard_failures(case: Case) -> list[GuardFailure]:
    return freeze_guard_failures_many([case])[case.id]


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
