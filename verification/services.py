"""Every write to a case goes through here. Each service runs in one transaction, takes `now`,
and raises a `DomainError` that callers map to an HTTP status with a stable code."""

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction

from verification import transitions
from verification.errors import CaseAlreadyOpen, CaseNotFound, IllegalTransition
from verification.models import (
    FINAL_STATUSES,
    AuditEvent,
    Case,
    CaseStatus,
    Freelancer,
    GracePolicy,
)
from verification.selectors import case_summary


def audit_record(
    *,
    case: Case,
    actor: str,
    action: str,
    now: datetime,
    reason: str = "",
    from_status: str = "",
    to_status: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        case=case,
        at=now,
        actor=actor,
        action=action,
        reason=reason,
        from_status=from_status,
        to_status=to_status,
        before=before or {},
        after=after or {},
    )


def policy_for(*, reason_code: str) -> GracePolicy:
    """The reason's own policy, else the default row, else the built-in defaults."""
    rows = GracePolicy.objects.filter(reason_code__in=[reason_code, GracePolicy.DEFAULT])
    policies = {policy.reason_code: policy for policy in rows}
    return (
        policies.get(reason_code)
        or policies.get(GracePolicy.DEFAULT)
        or GracePolicy(reason_code=GracePolicy.DEFAULT, warning_offsets_hours=[72, 24])
    )


def _lock(case_id) -> Case:
    try:
        return Case.objects.select_for_update().select_related("freelancer").get(pk=case_id)
    except Case.DoesNotExist:
        raise CaseNotFound() from None


@transaction.atomic
def case_flag(
    *,
    external_id: str,
    email: str,
    name: str,
    timezone: str,
    language: str,
    reason_code: str,
    public_reason: str,
    profile_claims: list[dict[str, str]],
    standing: dict[str, Any],
    actor: str,
    now: datetime,
) -> Case:
    """Open a case for a freelancer, creating or refreshing the freelancer's contact details.

    The notice counts as sent now and the grace period starts from it (the notifications
    outbox will move that moment to when the email actually leaves).
    """
    contact = {"email": email, "name": name, "timezone": timezone, "language": language}
    freelancer, created = Freelancer.objects.select_for_update().get_or_create(
        external_id=external_id, defaults={**contact, "created_at": now, "updated_at": now}
    )
    open_case = Case.objects.filter(freelancer=freelancer).exclude(status__in=FINAL_STATUSES).first()
    if open_case is not None:
        raise CaseAlreadyOpen(extra={"case": case_summary(open_case)})
    if not created and any(getattr(freelancer, k) != v for k, v in contact.items()):
        for field, value in contact.items():
            setattr(freelancer, field, value)
        freelancer.updated_at = now
        freelancer.save(update_fields=[*contact, "updated_at"])

    policy = policy_for(reason_code=reason_code).snapshot()
    try:
        with transaction.atomic():
            case = Case.objects.create(
                freelancer=freelancer,
                reason_code=reason_code,
                public_reason=public_reason,
                profile_claims=profile_claims,
                standing_snapshot=standing,
                status=CaseStatus.OPEN,
                policy=policy,
                notice_sent_at=now,
                deadline_at=now + timedelta(days=policy["grace_days"]),
                created_by=actor,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:  # a concurrent flag won the one-open-case constraint
        open_case = Case.objects.filter(freelancer=freelancer).exclude(status__in=FINAL_STATUSES).first()
        raise CaseAlreadyOpen(extra={"case": case_summary(open_case)} if open_case else None) from None
    audit_record(
        case=case,
        actor=actor,
        action="flagged",
        now=now,
        reason=public_reason,
        to_status=CaseStatus.OPEN,
        after={"reason_code": reason_code, "deadline_at": case.deadline_at.isoformat(), "policy": policy},
    )
    return case


@transaction.atomic
def case_transition(
    *,
    case_id,
    to_status: str,
    actor: str,
    action: str,
    reason: str,
    now: datetime,
    after: dict[str, Any] | None = None,
) -> Case:
    """The one place a case's status changes: lock, check the table, save, audit."""
    case = _lock(case_id)
    if not transitions.is_allowed(case.status, to_status):
        raise IllegalTransition(
            f"A case that is {case.get_status_display().lower()} cannot become "
            f"{CaseStatus(to_status).label.lower()}.",
            extra={"case": case_summary(case)},
        )
    from_status = case.status
    case.status = to_status
    case.updated_at = now
    fields = ["status", "updated_at"]
    if case.is_final:
        case.closed_at = now
        fields.append("closed_at")
    case.save(update_fields=fields)
    audit_record(
        case=case,
        actor=actor,
        action=action,
        now=now,
        reason=reason,
        from_status=from_status,
        to_status=to_status,
        before={"status": from_status},
        after={"status": to_status, **(after or {})},
    )
    return case


def case_withdraw(*, case_id, actor: str, reason: str, now: datetime) -> Case:
    return case_transition(
        case_id=case_id,
        to_status=CaseStatus.WITHDRAWN,
        actor=actor,
        action="withdrawn",
        reason=reason,
        now=now,
    )
