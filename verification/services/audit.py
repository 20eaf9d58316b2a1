from datetime import datetime
from typing import Any

from verification.models import AuditEvent, Case


def audit_event(
    *, case: Case, actor: str, action: str, now: datetime, reason: str = "", from_status: str = "",
    to_status: str = "", before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
) -> AuditEvent:
    """One append-only row (not saved yet): who changed what on the case, when and why."""
    return AuditEvent(case=case, at=now, actor=actor, action=action, reason=reason, from_status=from_status,
                      to_status=to_status, before=before or {}, after=after or {})


def audit_record(**fields: Any) -> AuditEvent:
    """Write one audit row (`audit_event`'s arguments), in the change's transaction."""
    event = audit_event(**fields)
    event.save(force_insert=True)
    return event


def audit_record_many(events: list[AuditEvent]) -> None:
    """Write these audit rows (`audit_event`), in one statement, in the changes' transaction."""
    AuditEvent.objects.bulk_create(events)
