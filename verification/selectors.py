from datetime import UTC, datetime
from typing import Any

from django.db.models import Case as When_
from django.db.models import IntegerField, Value, When

from verification.errors import CaseNotFound
from verification.models import FINAL_STATUSES, Case, CaseStatus


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, as the API renders every instant."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def case_summary(case: Case) -> dict[str, Any]:
    """The case as an error body carries it (JSON-ready)."""
    return {
        "id": str(case.id),
        "status": case.status,
        "notice_sent_at": iso(case.notice_sent_at),
        "deadline_at": iso(case.deadline_at),
    }


def can_submit_proposals(case: Case | None, *, now: datetime) -> bool:
    """Whether the marketplace may let this freelancer submit proposals.

    Computed from the case's stored facts and the time, the same for every caller.
    """
    if case is None:
        return True
    return case.status not in (CaseStatus.FROZEN, CaseStatus.NOT_VERIFIED)


def freelancer_current_case(*, external_id: str) -> Case | None:
    """The open case if there is one, else the most recent one."""
    open_first = When_(When(status__in=FINAL_STATUSES, then=Value(1)), default=Value(0), output_field=IntegerField())
    return (
        Case.objects.filter(freelancer__external_id=external_id)
        .order_by(open_first, "-created_at")
        .first()
    )


def freelancer_eligibility(*, external_id: str, now: datetime) -> dict[str, Any]:
    case = freelancer_current_case(external_id=external_id)
    return {
        "external_id": external_id,
        "can_submit_proposals": can_submit_proposals(case, now=now),
        "case": None
        if case is None
        else {"id": str(case.id), "status": case.status, "deadline_at": case.deadline_at},
    }


def case_get(*, case_id) -> Case:
    try:
        return Case.objects.select_related("freelancer").get(pk=case_id)
    except Case.DoesNotExist:
        raise CaseNotFound() from None
