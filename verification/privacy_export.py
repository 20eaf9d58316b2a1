"""Everything held about a freelancer, as the export answers it (right of access): contact
details, and for each case its facts, requests, bookings, calls, reviews, audit trail and the
messages sent about it. Read-only (the service `freelancer_export` audits the export)."""

from datetime import datetime
from typing import Any

from notifications.models import OutboxMessage
from scheduling.models import Booking
from verification.models import AuditEvent, CallRecord, Case, CaseRequest, Freelancer, Review
from verification.selectors import iso


def _rows(queryset, fields: list[str]) -> list[dict[str, Any]]:
    return [{field: iso(value) if isinstance(value, datetime) else value for field, value in row.items()}
            for row in queryset.values(*fields)]


def freelancer_export_data(*, freelancer: Freelancer, now: datetime) -> dict[str, Any]:
    cases = []
    for case in Case.objects.filter(freelancer=freelancer).order_by("created_at"):
        cases.append({
            "id": str(case.id), "status": case.status, "reason_code": case.reason_code,
            "public_reason": case.public_reason, "profile_claims": case.profile_claims,
            "standing_snapshot": case.standing_snapshot, "created_at": iso(case.created_at),
            "notice_sent_at": iso(case.notice_sent_at), "deadline_at": iso(case.deadline_at),
            "frozen_at": iso(case.frozen_at), "closed_at": iso(case.closed_at),
            "anonymised_at": iso(case.anonymised_at),
            "requests": _rows(CaseRequest.objects.filter(case=case).order_by("created_at"),
                              ["kind", "status", "need", "note", "created_at", "resolved_at", "resolution"]),
            "bookings": _rows(Booking.objects.filter(case_ref=case.id).order_by("created_at"),
                              ["starts_at", "ends_at", "status", "attendee_email", "attendee_name", "language",
                               "phone", "cancel_reason", "created_at"]),
            "calls": _rows(CallRecord.objects.filter(case=case).order_by("started_at"),
                           ["started_at", "answers", "outcome", "outcome_at", "escalation_note"]),
            "reviews": _rows(Review.objects.filter(case=case).order_by("created_at"),
                             ["kind", "decision", "reason_code", "statement", "created_at", "decided_at"]),
            "audit": _rows(AuditEvent.objects.filter(case=case).order_by("at", "id"),
                           ["at", "actor", "action", "from_status", "to_status", "reason"]),
            "messages": _rows(OutboxMessage.objects.filter(case_ref=case.id).exclude(kind__startswith="webhook:")
                              .order_by("created_at", "id"), ["kind", "recipient", "status", "created_at", "sent_at"]),
        })
    return {
        "exported_at": iso(now),
        "freelancer": {"external_id": freelancer.external_id, "email": freelancer.email, "name": freelancer.name,
                       "timezone": freelancer.timezone, "language": freelancer.language,
                       "created_at": iso(freelancer.created_at), "updated_at": iso(freelancer.updated_at)},
        "cases": cases,
    }
