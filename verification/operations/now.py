"""The 'Now' panel and the /metrics gauges: what needs attention at this moment. A fixed number
of queries, each served by an index (partial indexes on running cases, pending and failed
messages, free slots), so it stays cheap enough to compute at every scrape."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Min, Q
from django.db.models.fields.json import KeyTextTransform
from django.utils.translation import gettext_lazy as _

from notifications.models import MessageStatus, OutboxMessage
from scheduling.models import Slot
from scheduling.selectors import calendar_conflicts, calendar_connections_stale
from verification.models import (
    FINAL_STATUSES,
    Case,
    CaseRequest,
    CaseStatus,
    RequestKind,
    RequestStatus,
    Review,
    ReviewKind,
    TaskHeartbeat,
)
from verification.policy import DEFAULT_POLICY

RUNNING_STATUSES = [s for s in CaseStatus.values if s not in FINAL_STATUSES]
DUE_WINDOWS_HOURS = (24, 72)
DUE_LIST_LIMIT = 50
DEFAULT_REVIEW_DAYS = DEFAULT_POLICY.review_days


def cases_running_by_status() -> dict[str, int]:
    rows = (Case.objects.exclude(status__in=FINAL_STATUSES).values("status").annotate(n=Count("pk")).order_by())
    return dict.fromkeys(RUNNING_STATUSES, 0) | {row["status"]: row["n"] for row in rows}


def _due_unbooked(*, now: datetime, hours: int):
    """OPEN cases (no call booked) whose deadline falls in [now, now + hours)."""
    return Case.objects.filter(status=CaseStatus.OPEN, deadline_at__gte=now,
                               deadline_at__lt=now + timedelta(hours=hours))


def cases_due_unbooked_count(*, now: datetime, hours: int = 24) -> int:
    return _due_unbooked(now=now, hours=hours).count()


@dataclass
class DueSoon:
    counts: dict[int, int]
    cases: list[Case]


def cases_due_unbooked(*, now: datetime, limit: int = DUE_LIST_LIMIT) -> DueSoon:
    widest = max(DUE_WINDOWS_HOURS)
    due = _due_unbooked(now=now, hours=widest)
    counts = due.aggregate(**{f"h{h}": Count("pk", filter=Q(deadline_at__lt=now + timedelta(hours=h)))
                              for h in DUE_WINDOWS_HOURS})
    cases = list(due.select_related("freelancer").order_by("deadline_at")[:limit])
    return DueSoon(counts={h: counts[f"h{h}"] for h in DUE_WINDOWS_HOURS}, cases=cases)


@dataclass
class PendingWork:
    kind: str
    label: str
    count: int = 0
    over_target: int = 0
    oldest_at: datetime | None = None
    targets: set[int] = field(default_factory=set)


def _review_days(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return DEFAULT_REVIEW_DAYS


def _pending(queryset, *, kind_field: str, now: datetime) -> dict[str, PendingWork]:
    """Counts per kind, the oldest, and how many are older than their case's `review_days`: two
    grouped queries (the targets found by the first make the second's conditions)."""
    queryset = queryset.annotate(target=KeyTextTransform("review_days", "case__policy_snapshot"))
    groups = list(queryset.values(kind_field, "target").annotate(n=Count("pk"), oldest=Min("created_at")).order_by())
    work: dict[str, PendingWork] = {}
    for row in groups:
        item = work.setdefault(row[kind_field], PendingWork(kind=row[kind_field], label=""))
        item.count += row["n"]
        item.oldest_at = min(filter(None, [item.oldest_at, row["oldest"]]))
        item.targets.add(_review_days(row["target"]))
    if not groups:
        return work
    over = Q()
    for value in {row["target"] for row in groups}:
        days = _review_days(value)
        match = Q(target__isnull=True) if value is None else Q(target=value)
        over |= match & Q(created_at__lt=now - timedelta(days=days))
    for row in queryset.values(kind_field).annotate(n=Count("pk", filter=over)).order_by():
        work[row[kind_field]].over_target = row["n"]
    return work


PENDING_KINDS = [
    # (source, kind, label)
    ("request", RequestKind.ACCOMMODATION, _("Accommodation requests")),
    ("request", RequestKind.EXTENSION, _("Extension requests")),
    ("request", RequestKind.HOLD, _("Admin holds")),
    ("review", ReviewKind.APPEAL, _("Appeals")),
    ("review", ReviewKind.ESCALATION, _("Escalations")),
    ("review", ReviewKind.NO_SHOW_LIMIT, _("Too many missed calls")),
]


def pending_work(*, now: datetime) -> list[PendingWork]:
    """Pending accommodations, extension requests, holds, appeals and escalations with their age
    against the policy's `review_days` (from each case's snapshot). Appeals are counted once, as
    reviews (each appeal is also a pending request)."""
    requests = _pending(CaseRequest.objects.filter(status=RequestStatus.PENDING).exclude(kind=RequestKind.APPEAL),
                        kind_field="kind", now=now)
    reviews = _pending(Review.objects.filter(decided_at__isnull=True), kind_field="kind", now=now)
    found = {"request": requests, "review": reviews}
    result = []
    for source, kind, label in PENDING_KINDS:
        item = found[source].get(kind) or PendingWork(kind=kind, label=label)
        item.label = label
        result.append(item)
    return result


@dataclass
class OutboxHealth:
    pending: int
    due: int
    overdue: int
    oldest_due_at: datetime | None
    failed: int
    last_failed_at: datetime | None
    stuck_sending: int
    by_kind: list[dict]

    def lag_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest_due_at).total_seconds()) if self.oldest_due_at else 0.0


def outbox_health(*, now: datetime) -> OutboxHealth:
    """Pending (and how many are due, and overdue by more than one sweep interval), the oldest due
    time (the lag), failed messages, and claims whose worker died. Each query reads one partial
    index, never the sent messages."""
    overdue_before = now - timedelta(seconds=settings.OUTBOX_SWEEP_SECONDS)
    pending = OutboxMessage.objects.filter(status=MessageStatus.PENDING).aggregate(
        n=Count("pk"), due=Count("pk", filter=Q(due_at__lte=now)),
        overdue=Count("pk", filter=Q(due_at__lt=overdue_before)),
        oldest=Min("due_at", filter=Q(due_at__lte=now)))
    failed = OutboxMessage.objects.filter(status=MessageStatus.FAILED).aggregate(n=Count("pk"), last=Max("updated_at"))
    stuck = OutboxMessage.objects.filter(status=MessageStatus.SENDING, lease_until__lt=now).count()
    by_kind = list(
        OutboxMessage.objects.filter(Q(status=MessageStatus.FAILED)
                                     | Q(status=MessageStatus.PENDING, due_at__lt=overdue_before))
        .values("kind").annotate(failed=Count("pk", filter=Q(status=MessageStatus.FAILED)),
                                 overdue=Count("pk", filter=Q(status=MessageStatus.PENDING)),
                                 oldest=Min("due_at", filter=Q(status=MessageStatus.PENDING)))
        .order_by("kind"))
    return OutboxHealth(pending=pending["n"], due=pending["due"], overdue=pending["overdue"],
                        oldest_due_at=pending["oldest"], failed=failed["n"], last_failed_at=failed["last"],
                        stuck_sending=stuck, by_kind=by_kind)


def free_slots_count(*, start: datetime, end: datetime) -> int:
    return Slot.objects.filter(is_booked=False, representative__active=True, starts_at__gte=start,
                               starts_at__lt=end).count()


def heartbeat_at(name: str) -> datetime | None:
    return TaskHeartbeat.objects.filter(name=name).values_list("finished_at", flat=True).first()


@dataclass
class NowPanel:
    now: datetime
    by_status: dict[str, int]
    due: DueSoon
    pending: list[PendingWork]
    outbox: OutboxHealth
    free_slots_72h: int
    sweep_finished_at: datetime | None
    calendars_stale: list = field(default_factory=list)  # representatives' calendars whose last sync failed
    calendar_conflicts: int = 0  # booked calls a representative's calendar now blocks


def now_panel(*, now: datetime) -> NowPanel:
    return NowPanel(now=now, by_status=cases_running_by_status(), due=cases_due_unbooked(now=now),
                    pending=pending_work(now=now), outbox=outbox_health(now=now),
                    free_slots_72h=free_slots_count(start=now, end=now + timedelta(hours=72)),
                    sweep_finished_at=heartbeat_at(TaskHeartbeat.DEADLINE_SWEEP),
                    calendars_stale=calendar_connections_stale(), calendar_conflicts=len(calendar_conflicts(now=now)))
