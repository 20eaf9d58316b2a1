"""The case's life as data: which status may follow which, and nothing else.

Only `verification.services.case_transition` changes a case's status, and it consults this table.
"""

from verification.models import FINAL_STATUSES, CaseStatus

S = CaseStatus

ALLOWED: dict[str, frozenset[str]] = {
    # waiting for a booking; a frozen freelancer can still book, and an admin can unfreeze
    S.OPEN: frozenset({S.SCHEDULED, S.FROZEN, S.IN_REVIEW, S.WITHDRAWN}),
    S.FROZEN: frozenset({S.SCHEDULED, S.OPEN, S.IN_REVIEW, S.WITHDRAWN}),
    # a booked call is never frozen; cancel/retry/no-show go back to OPEN, the call decides
    S.SCHEDULED: frozenset({S.OPEN, S.VERIFIED, S.IN_REVIEW, S.WITHDRAWN}),
    # a reviewer decides; they may also send the freelancer back to book another call
    S.IN_REVIEW: frozenset({S.VERIFIED, S.NOT_VERIFIED, S.OPEN, S.WITHDRAWN}),
    # an appeal reopens a refusal for another reviewer
    S.NOT_VERIFIED: frozenset({S.IN_REVIEW}),
    S.VERIFIED: frozenset(),
    S.WITHDRAWN: frozenset(),
}

assert set(ALLOWED) == set(CaseStatus.values), "every status needs a row"
assert all(not ALLOWED[s] or s == S.NOT_VERIFIED for s in FINAL_STATUSES)


def is_allowed(from_status: str, to_status: str) -> bool:
    return to_status in ALLOWED[from_status]
