"""The warnings before the deadline: written here, looked up by guard 1, both by `warning_key`."""

from datetime import datetime, timedelta

from notifications.services import outbox_skip_pending
from verification.deadlines.rules import WARNING_KIND, warning_key
from verification.messages import case_context, case_email_enqueue
from verification.models import Case


def deadline_warnings_plan(case: Case, *, now: datetime) -> None:
    """Warnings at the policy's offsets before the (current) deadline; those for an earlier deadline
    are dropped. An offset already past (a short extension) is sent now: nobody is frozen without
    every warning (guard 1 then checks the last one came early enough)."""
    outbox_skip_pending(case_ref=case.id, kinds=[WARNING_KIND], reason="the deadline changed", now=now)
    for hours in case.policy.warning_offsets_hours:
        due = max(case.deadline_at - timedelta(hours=hours), now)
        case_email_enqueue(case, key=warning_key(case, hours=hours), due_at=due, now=now, context=case_context(case))
