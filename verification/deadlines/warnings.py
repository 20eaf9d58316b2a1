"""The warnings before the deadline: written here, looked up by guard 1, both by `warning_key`."""

from datetime import datetime, timedelta
from typing import Any

from notifications.services import Outgoing, outbox_enqueue_many, outbox_skip_pending
from verification.deadlines.rules import WARNING_KIND, warning_key
from verification.messages import case_context, case_email
from verification.models import Case


def deadline_warnings(case: Case, *, now: datetime, context: dict[str, Any] | None = None) -> list[Outgoing]:
    """Warnings at the policy's offsets before the (current) deadline. An offset already past (a
    short extension) is sent now: nobody is frozen without every warning (guard 1 then checks the
    last one came early enough). `context`: `case_context(case)` if the caller has it already."""
    context = context or case_context(case)
    return [case_email(case, key=warning_key(case, hours=hours), due_at=max(case.deadline_at - timedelta(hours=hours),
                                                                            now), now=now, context=context)
            for hours in case.policy.warning_offsets_hours]


def deadline_warnings_plan(case: Case, *, now: datetime) -> None:
    """The warnings for the current deadline (one statement); those for an earlier deadline are
    dropped."""
    outbox_skip_pending(case_ref=case.id, kinds=[WARNING_KIND], reason="the deadline changed", now=now)
    outbox_enqueue_many(messages=deadline_warnings(case, now=now), now=now)
