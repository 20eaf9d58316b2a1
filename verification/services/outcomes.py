"""What each outcome of a call requires and does to the case, as data (like `transitions.py`).

`verification.services.calls.call_outcome` checks a rule's requirements, records the outcome,
then runs its effect on the locked case. NOT_VERIFIED is never an outcome of a call: only a
reviewer decides it (`verification.services.reviews`).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext_lazy as _

from verification.deadlines.services import case_deadline_extend
from verification.models import CallRecord, Case, CaseStatus, Outcome, RequestKind, ReviewKind
from verification.services.cases import case_save, case_transition, case_verify
from verification.services.requests import request_open
from verification.services.reviews import review_open


@dataclass(frozen=True)
class Effect:
    """What an effect works on: the locked case, the call, who recorded it and what they wrote."""

    case: Case
    call: CallRecord
    actor: str
    note: str
    need: str
    now: datetime


def _verified(e: Effect) -> None:
    case_verify(case=e.case, actor=e.actor, reason="Checklist completed on the call.", now=e.now)


def _escalated(e: Effect) -> None:
    case_transition(case=e.case, to_status=CaseStatus.IN_REVIEW, actor=e.actor, action="escalated", reason=e.note,
                    now=e.now)
    review_open(case=e.case, kind=ReviewKind.ESCALATION, call=e.call, now=e.now)


def _reopened(e: Effect, action: str) -> None:
    case_transition(case=e.case, to_status=CaseStatus.OPEN, actor=e.actor, action=action, reason=e.note, now=e.now)


def _technical_retry(e: Effect) -> None:
    _reopened(e, "retry_technical")
    case_deadline_extend(case=e.case, hours=e.case.policy.technical_retry_extension_hours, actor=e.actor, now=e.now,
                         reason=_("A technical problem on the call: please book again. This is not a failure."))


def _freelancer_no_show(e: Effect) -> None:
    _reopened(e, "freelancer_no_show")
    e.case.freelancer_no_shows += 1
    case_save(e.case, fields=["freelancer_no_shows"], now=e.now)
    if e.case.freelancer_no_shows > e.case.policy.freelancer_no_show_limit:
        case_transition(case=e.case, to_status=CaseStatus.IN_REVIEW, actor="system", action="no_show_limit",
                        reason="Missed more calls than the policy allows.", now=e.now)
        review_open(case=e.case, kind=ReviewKind.NO_SHOW_LIMIT, call=e.call, now=e.now)


def _another_route(e: Effect) -> None:
    _reopened(e, "alt_path")
    request_open(case=e.case, kind=RequestKind.ACCOMMODATION, need=e.need, actor=e.actor, now=e.now,
                 note="Another route after the call; the freeze is paused until staff resolve it.")


@dataclass(frozen=True)
class OutcomeRule:
    effect: Callable[[Effect], None]
    needs_every_answer: bool = False  # VERIFIED: the whole checklist first
    after_no_show_wait: bool = False  # only once the policy's wait after the start has passed
    needs_route: bool = False  # which other route the freelancer needs (an accommodation)
    keeps_note: bool = False  # the note is kept on the call for the reviewer (every note is screened first)


OUTCOMES: dict[str, OutcomeRule] = {
    Outcome.VERIFIED: OutcomeRule(_verified, needs_every_answer=True),
    Outcome.RETRY_TECHNICAL: OutcomeRule(_technical_retry),
    Outcome.FREELANCER_NO_SHOW: OutcomeRule(_freelancer_no_show, after_no_show_wait=True),
    Outcome.ALT_PATH: OutcomeRule(_another_route, needs_route=True),
    Outcome.ESCALATED: OutcomeRule(_escalated, keeps_note=True),
}

assert set(OUTCOMES) == set(Outcome.values) - {Outcome.REP_NO_SHOW, Outcome.NOT_VERIFIED}
