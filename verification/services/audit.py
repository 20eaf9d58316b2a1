from datetime import datetime
from typing import Any

from verification.models import AuditEvent, Case


def audit_record(
    *, case: Case, actor: str, action: str, now: datetime, reason: str = "", from_status: str = "",
    to_status: str = "", before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
) -> AuditEvent:
    """One append-only row: who changed what on the case, when and why (in the change's transaction)."""
    return AuditEvent.objects.create(case=case, at=now, actor=actor, action=action, reason=reason,
                                     from_status=from_status, to_status=to_status, before=before or {},
                                     after=after or {})
