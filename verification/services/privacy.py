"""The privacy lifecycle: personal data of closed cases is erased after the retention period (a
daily task), or at once when the marketplace asks to erase a freelancer; the marketplace can also
export everything held about a freelancer. Each is audited: the audit row says that it happened,
never the data (docs/privacy.md)."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from notifications.models import MessageStatus, OutboxMessage
from notifications.services import outbox_anonymise
from scheduling.services.bookings import bookings_anonymise
from verification.errors import FreelancerCaseOpen, FreelancerNotFound
from verification.models import (
    FINAL_STATUSES,
    AuditEvent,
    CallRecord,
    Case,
    CaseRequest,
    Freelancer,
    Review,
    new_link_nonce,
)
from verification.privacy_export import freelancer_export_data
from verification.services.audit import audit_record
from verification.services.cases import case_lock, case_save

ERASED_NAME = "(erased)"


def retention_period() -> timedelta:
    return timedelta(days=settings.PRIVACY_RETENTION_DAYS)


def _case_erase(*, case: Case, actor: str, why: str, now: datetime) -> dict[str, int]:
    """Erase the personal data of a closed case the caller has locked: free text, claims, the
    standing snapshot, link and join secrets, the contact details on its bookings and messages,
    and the free text of its audit rows (the rows themselves stay). Returns what was erased (counts)."""
    case.public_reason, case.profile_claims, case.standing_snapshot = "", [], {}
    case.link_nonce = new_link_nonce()  # every link to the case stops working
    case.anonymised_at = now
    case_save(case, fields=["public_reason", "profile_claims", "standing_snapshot", "link_nonce", "anonymised_at"],
              now=now)
    erased = {
        "requests": CaseRequest.objects.filter(case=case).exclude(note="", resolution="").update(note="",
                                                                                              resolution=""),
        "calls": CallRecord.objects.filter(case=case).exclude(escalation_note="").update(escalation_note=""),
        "reviews": Review.objects.filter(case=case).exclude(statement="").update(statement=""),
        "bookings": bookings_anonymise(case_ref=case.id, now=now),
        "messages": outbox_anonymise(case_refs=[case.id], now=now),
        "audit_rows": _audit_redact(case),
    }
    audit_record(case=case, actor=actor, action="personal_data_erased", now=now, after={"why": why, **erased})
    return erased


def _audit_redact(case: Case) -> int:
    """The one change the audit log allows (migration 0015): a row's free text blanked and the
    standing snapshot dropped; who, what and when stay."""
    rows = AuditEvent.objects.filter(case=case).filter(~Q(reason="") | Q(after__has_key="standing"))
    redacted = 0
    for pk, after in rows.values_list("pk", "after"):
        AuditEvent.objects.filter(pk=pk).update(reason="", after={k: v for k, v in after.items() if k != "standing"})
        redacted += 1
    return redacted


def _freelancer_erase(freelancer: Freelancer, *, now: datetime) -> None:
    freelancer.external_id = f"erased:{freelancer.pk}"
    freelancer.email, freelancer.name = "", ERASED_NAME
    freelancer.erased_at = freelancer.updated_at = now
    freelancer.save(update_fields=["external_id", "email", "name", "erased_at", "updated_at"])


@transaction.atomic
def case_retention_apply(*, case_id, now: datetime) -> bool:
    """One closed case past the retention period: erased (False if it was already, or is not due)."""
    case, now = case_lock(case_id, now=now)
    if case.anonymised_at or not case.is_final or not case.closed_at or case.closed_at > now - retention_period():
        return False  # already erased, reopened (an appeal), or not due
    _case_erase(case=case, actor="system", why="retention", now=now)
    freelancer = Freelancer.objects.select_for_update().get(pk=case.freelancer_id)
    held = Case.objects.filter(freelancer=freelancer, anonymised_at__isnull=True)
    if freelancer.erased_at is None and not held.exists():  # no other case still needs the contact details
        _freelancer_erase(freelancer, now=now)
    return True


def cases_retention_apply(*, now: datetime, batch_size: int = 200) -> dict[str, int]:
    """Daily (Celery beat): every closed case past the retention period, one transaction each, so
    a run that stops half-way loses nothing and the next run carries on. Safe to run twice: an
    erased case is never touched again. Messages that were still on their way at erasure lose
    their content once done."""
    due = (Case.objects.filter(status__in=FINAL_STATUSES, closed_at__lt=now - retention_period(),
                               anonymised_at__isnull=True)
           .order_by("closed_at").values_list("id", flat=True))
    erased = 0
    while True:
        batch = list(due[:batch_size])
        if not batch:
            break
        erased += sum(case_retention_apply(case_id=case_id, now=now) for case_id in batch)
        if len(batch) < batch_size:
            break
    leftovers = (OutboxMessage.objects.filter(case_ref__in=Case.objects.filter(anonymised_at__isnull=False)
                                                .values("id"),
                                                status__in=[MessageStatus.SENT, MessageStatus.SKIPPED,
                                                            MessageStatus.FAILED])
                 .exclude(recipient="", context={}).values_list("case_ref", flat=True).distinct())
    messages = outbox_anonymise(case_refs=list(leftovers), now=now)
    return {"cases_erased": erased, "messages_erased_late": messages}


def _freelancer_locked(external_id: str) -> Freelancer:
    if "\x00" in external_id:  # PostgreSQL text cannot hold NUL: no freelancer has it
        raise FreelancerNotFound()
    freelancer = Freelancer.objects.select_for_update().filter(external_id=external_id, erased_at__isnull=True).first()
    if freelancer is None:
        raise FreelancerNotFound()
    return freelancer


@transaction.atomic
def freelancer_erase(*, external_id: str, actor: str, now: datetime) -> dict[str, Any]:
    """The marketplace asks to erase a freelancer (right to erasure). Refused with 409 while a case
    is open; otherwise every case's personal data and the contact details are erased at once,
    each case audited. A second request finds nothing (404): the external id is erased too."""
    freelancer = _freelancer_locked(external_id)
    if Case.objects.filter(freelancer=freelancer).exclude(status__in=FINAL_STATUSES).exists():
        raise FreelancerCaseOpen()
    erased = 0
    for case_id in Case.objects.filter(freelancer=freelancer).order_by("created_at").values_list("id", flat=True):
        case, case_now = case_lock(case_id, now=now)
        if case.anonymised_at is None:
            _case_erase(case=case, actor=actor, why="erase_request", now=case_now)
            erased += 1
        else:
            audit_record(case=case, actor=actor, action="personal_data_erased", now=case_now,
                         after={"why": "erase_request", "already_erased": True})
    _freelancer_erase(freelancer, now=now)
    return {"erased_at": now, "cases": erased}


@transaction.atomic
def freelancer_export(*, external_id: str, actor: str, now: datetime) -> dict[str, Any]:
    """Everything held about a freelancer (right of access), as JSON-ready data; each case records
    that it was exported, and by whom (not what)."""
    freelancer = _freelancer_locked(external_id)
    data = freelancer_export_data(freelancer=freelancer, now=now)
    for case in Case.objects.filter(freelancer=freelancer):
        audit_record(case=case, actor=actor, action="personal_data_exported", now=now)
    return data
