from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Case as When_
from django.db.models import IntegerField, Value, When

from notifications.timefmt import wall_clock
from scheduling.selectors import availability_list
from verification import freeze
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
        "can_submit_proposals": freeze.can_submit_proposals(case, now=now),
        "case": None
        if case is None
        else {"id": str(case.id), "status": case.status, "deadline_at": case.deadline_at},
    }


def case_get(*, case_id) -> Case:
    try:
        return Case.objects.select_related("freelancer").get(pk=case_id)
    except Case.DoesNotExist:
        raise CaseNotFound() from None


BOOKABLE_STATUSES = (CaseStatus.OPEN, CaseStatus.FROZEN)
FROZEN_BOOKING_DAYS = 14
PRIORITY_NOTICE = timedelta(minutes=5)  # after our no-show: the very next free times


def case_booking_window(*, case: Case, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) in which this case may book: from the minimum notice up to the deadline.

    A frozen case (or one whose deadline is too close to book before it) gets the next 14 days; a
    case with priority (we missed its call) may book from five minutes ahead instead of the usual
    minimum notice.
    """
    notice = PRIORITY_NOTICE if case.priority_until and now < case.priority_until else timedelta(
        minutes=settings.BOOKING_MIN_NOTICE_MINUTES)
    start = now + notice
    if case.status != CaseStatus.FROZEN and case.deadline_at and case.deadline_at > start:
        return start, case.deadline_at
    return start, now + timedelta(days=FROZEN_BOOKING_DAYS)


def case_availability(
    *, case: Case, now: datetime, start_date: date | None = None, end_date: date | None = None,
    language: str = "", phone: bool = False, zone_name: str | None = None,
) -> dict[str, Any]:
    """Free times for the case, grouped by day in the freelancer's zone (or the one asked for).

    `local_time` is the wall clock ("01:30"), with the zone's mark only where that wall-clock time
    happens twice, on a fall-back night ("01:30 EDT" / "01:30 EST"): see notifications.timefmt."""
    zone = ZoneInfo(zone_name or case.freelancer.timezone)
    start, end = case_booking_window(case=case, now=now)
    if start_date:
        start = max(start, datetime.combine(start_date, time.min, tzinfo=zone))
    if end_date:
        end = min(end, datetime.combine(end_date + timedelta(days=1), time.min, tzinfo=zone))
    days: dict[date, list[dict[str, str]]] = {}
    for instant in availability_list(start=start, end=end, language=language, phone=phone):
        local = instant.astimezone(zone)
        days.setdefault(local.date(), []).append({"starts_at": iso(instant), "local_time": wall_clock(local, zone.key)})
    return {
        "timezone": zone.key,
        "from": iso(start),
        "to": iso(end),
        "days": [{"date": day.isoformat(), "times": times} for day, times in days.items()],
    }


def case_reschedules_left(case: Case) -> int:
    return max(0, case.policy.get("max_reschedules", 3) - case.reschedule_count)


def case_extension_refusal(case: Case, *, now: datetime) -> str | None:
    """Why the freelancer's one self-service extension cannot be granted now; None if it can."""
    from verification.models import CaseRequest, RequestKind

    if case.status not in (CaseStatus.OPEN, CaseStatus.SCHEDULED) or not case.policy.get("self_extension_days", 3):
        return "This case cannot be extended."
    if case.deadline_at is None or case.deadline_at <= now:
        return "The deadline has passed; extensions must be asked for before it."
    if CaseRequest.objects.filter(case=case, kind=RequestKind.EXTENSION).exists():
        return "You have already used your one extension."
    return None
