"""Funnel and times: the cases flagged in the period, followed through notice, booking, call and
outcome; how long notice-to-booking and notice-to-decision took (p50/p90); how many had their
deadline extended, and why. A fixed number of grouped queries."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Case as CaseWhen
from django.db.models import (
    CharField,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.utils.translation import gettext_lazy as _

from verification.models import AuditEvent, CallRecord, Case, CaseRequest, CaseStatus, Outcome, RequestKind
from verification.operations.period import Period
from verification.operations.stats import duration_percentiles

HELD = [Outcome.VERIFIED, Outcome.RETRY_TECHNICAL, Outcome.ALT_PATH, Outcome.ESCALATED]
DECIDED = [CaseStatus.VERIFIED, CaseStatus.NOT_VERIFIED]

STAGES = [
    ("flagged", _("Flagged")),
    ("noticed", _("Notice sent")),
    ("booked", _("Booked a call")),
    ("held", _("Call held")),
    ("decided", _("Outcome (verified or not verified)")),
]

# Why a deadline moved, from the audit log: the guard that failed (the sweep records it), or what
# else was written with the extension in the same change (same case, same instant).
EXTENSION_REASONS = {
    "warned": _("Guard: a warning was not sent in time"),
    "not_booked": _("Guard: a call was booked"),
    "nothing_pending": _("Guard: an accommodation request or appeal was pending"),
    "hold": _("Guard: an admin hold was pending"),
    "no_fault_of_ours": _("Guard: a call we cancelled or missed was not yet made good"),
    "offered_enough": _("Guard: too few bookable times were offered"),
    "rep_no_show": _("Our representative missed the call"),
    "retry_technical": _("Technical problem on the call (not a failure)"),
    "self": _("The freelancer's one self-service extension"),
    "we_cancelled": _("We cancelled the booked call (no representative left)"),
    "admin": _("An admin extended or unfroze the case"),
}


@dataclass
class Funnel:
    period: Period
    counts: dict[str, int]
    outcomes: dict[str, int]
    notice_to_booking: list[timedelta | None]
    notice_to_decision: list[timedelta | None]
    extended_cases: int
    extensions: dict[str, int] = field(default_factory=dict)


def _cohort(period: Period):
    return Case.objects.filter(created_at__gte=period.start, created_at__lt=period.end)


def _extension_reasons(cohort) -> tuple[int, dict[str, int]]:
    """Cases of the cohort with at least one extension, and per reason how many cases had one."""
    same_change = {"case": OuterRef("case"), "at": OuterRef("at")}
    hold_pending = CaseRequest.objects.filter(
        case=OuterRef("case"), kind=RequestKind.HOLD, created_at__lte=OuterRef("at")).filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gt=OuterRef("at")))
    events = AuditEvent.objects.filter(action="deadline_extended", case__in=cohort.values("pk")).annotate(
        guard=KeyTextTransform("guard", "after"),
        why=CaseWhen(
            When(after__has_key="guard", then=Value("guard")),
            When(Exists(AuditEvent.objects.filter(**same_change, action="rep_no_show")), then=Value("rep_no_show")),
            When(Exists(AuditEvent.objects.filter(**same_change, action="retry_technical")),
                 then=Value("retry_technical")),
            When(Exists(CaseRequest.objects.filter(case=OuterRef("case"), kind=RequestKind.EXTENSION,
                                                   created_at=OuterRef("at"))), then=Value("self")),
            When(actor="system", then=Value("we_cancelled")),
            default=Value("admin"), output_field=CharField()),
        hold=Exists(hold_pending),
    )
    # one row per case and kind of extension (not per event): the cases counted, never the rows
    cases: dict[str, set] = defaultdict(set)
    extended = set()
    for case_id, why, guard, hold in events.values_list("case_id", "why", "guard", "hold").distinct().order_by():
        extended.add(case_id)
        keys = [why] if why != "guard" else [
            "hold" if name == "nothing_pending" and hold else name for name in (guard or "").split(",") if name]
        for key in keys:
            cases[key].add(case_id)
    return len(extended), {key: len(found) for key, found in cases.items()}


def funnel(*, period: Period) -> Funnel:
    cohort = _cohort(period)
    counts = cohort.aggregate(
        flagged=Count("pk"), noticed=Count("pk", filter=Q(notice_sent_at__isnull=False)),
        decided=Count("pk", filter=Q(status__in=DECIDED)),
        verified=Count("pk", filter=Q(status=CaseStatus.VERIFIED)),
        not_verified=Count("pk", filter=Q(status=CaseStatus.NOT_VERIFIED)),
        withdrawn=Count("pk", filter=Q(status=CaseStatus.WITHDRAWN)),
        frozen=Count("pk", filter=Q(frozen_at__isnull=False)),
    )
    # joins (the planner picks hash or index), never a subquery run once per case
    in_cohort = {"case__created_at__gte": period.start, "case__created_at__lt": period.end}
    counts["held"] = (CallRecord.objects.filter(outcome__in=HELD, **in_cohort)
                      .aggregate(n=Count("case", distinct=True))["n"])
    waits = (cohort.filter(notice_sent_at__isnull=False, audit_events__action="booked")
             .annotate(wait=ExpressionWrapper(Min("audit_events__at") - F("notice_sent_at"),
                                              output_field=DurationField())))
    to_booking = duration_percentiles(waits, F("wait"))[None]
    counts["booked"] = to_booking.count  # cases with a "booked" event: the same join
    to_decision = duration_percentiles(
        cohort.filter(status__in=DECIDED, notice_sent_at__isnull=False, closed_at__isnull=False),
        ExpressionWrapper(F("closed_at") - F("notice_sent_at"), output_field=DurationField()))[None]
    extended, reasons = _extension_reasons(cohort)
    return Funnel(period=period, counts={key: counts[key] for key, _ in STAGES},
                  outcomes={k: counts[k] for k in ("verified", "not_verified", "withdrawn", "frozen")},
                  notice_to_booking=to_booking.values, notice_to_decision=to_decision.values,
                  extended_cases=extended, extensions=reasons)
