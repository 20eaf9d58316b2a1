"""Requests that pause the freeze while pending: a freelancer's accommodation, an admin's hold."""

from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from scheduling.screening import text_screen
from verification.errors import RequestNotAllowed
from verification.models import Case, CaseRequest, RequestKind, RequestStatus
from verification.services.audit import audit_record
from verification.services.cases import case_lock, case_save


@transaction.atomic
def case_request_create(*, case_id, kind: str, actor: str, now: datetime, need: str = "", note: str = ""
                        ) -> CaseRequest:
    """An accommodation request or admin hold: pauses the freeze until resolved."""
    case, now = case_lock(case_id, now=now)
    return request_open(case=case, kind=kind, actor=actor, now=now, need=need, note=note)


def request_open(*, case: Case, kind: str, actor: str, now: datetime, need: str = "", note: str = "") -> CaseRequest:
    """The request itself, on a case the caller has locked (`case_lock`)."""
    if case.is_final:
        raise RequestNotAllowed(_("This case has ended."))
    if CaseRequest.objects.filter(case=case, kind=kind, status=RequestStatus.PENDING).exists():
        raise RequestNotAllowed(_("A request of this kind is already pending; staff will answer it."))
    request = CaseRequest.objects.create(case=case, kind=kind, need=need, note=note, created_by=actor,
                                         created_at=now)
    case_save(case, fields=[], now=now)
    audit_record(case=case, actor=actor, action=f"{kind.lower()}_requested", now=now, reason=note,
                 after={"request_id": request.pk, "need": need})
    return request


@transaction.atomic
def case_request_resolve(*, request_id: int, status: str, actor: str, reason: str, now: datetime) -> CaseRequest:
    text_screen(reason, field="reason")
    case, now = case_lock(CaseRequest.objects.values_list("case_id", flat=True).get(pk=request_id), now=now)
    request = CaseRequest.objects.select_for_update().get(pk=request_id)
    if request.status != RequestStatus.PENDING:
        raise RequestNotAllowed(_("This request was already resolved."))
    request.status, request.resolved_by, request.resolved_at, request.resolution = status, actor, now, reason
    request.save(update_fields=["status", "resolved_by", "resolved_at", "resolution"])
    case_save(case, fields=[], now=now)
    audit_record(case=case, actor=actor, action=f"{request.kind.lower()}_{status.lower()}", now=now, reason=reason,
                 after={"request_id": request.pk})
    return request


def case_hold(*, case_id, actor: str, reason: str, now: datetime) -> CaseRequest:
    """Admin: pause the freeze until the hold is released."""
    text_screen(reason, field="reason")
    return case_request_create(case_id=case_id, kind=RequestKind.HOLD, actor=actor, now=now, note=reason)


@transaction.atomic
def case_hold_release(*, case_id, actor: str, reason: str, now: datetime) -> None:
    text_screen(reason, field="reason")
    hold = CaseRequest.objects.filter(case_id=case_id, kind=RequestKind.HOLD, status=RequestStatus.PENDING).first()
    if hold is None:
        raise RequestNotAllowed(_("This case has no hold."))
    case_request_resolve(request_id=hold.pk, status=RequestStatus.RESOLVED, actor=actor, reason=reason, now=now)
