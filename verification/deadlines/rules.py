"""When the grace period ends, and how a warning before it is named in the outbox.

`warning_key` is the one place that names a warning: `warnings.deadline_warnings_plan` writes the
messages with it and `guards` (guard 1) looks them up with it.
"""

from datetime import datetime

from notifications.keys import MessageKey
from notifications.rendering import AfterSending
from verification.models import Case
from verification.policy import Policy

WARNING_KIND = "deadline_warning"


def grace_period(policy: Policy) -> AfterSending:
    """The grace period counts from when the notice is actually sent, never from the flag. The
    notice states the deadline this gives at the moment it is sent (`notifications.rendering`)."""
    return AfterSending(days=policy.grace_days)


def deadline_after_notice(*, sent_at: datetime, policy: Policy) -> datetime:
    """The deadline of a case whose notice was sent at `sent_at`: the date the notice stated."""
    return grace_period(policy).at(sent_at)


def case_topic(case: Case) -> str:
    """What the outbox messages about a case are about."""
    return f"case:{case.id}"


def notice_key(case: Case) -> MessageKey:
    """The notice: one per case, written when the case is flagged; its sending starts the grace."""
    return MessageKey(kind="notice", topic=case_topic(case), revision="notice")


def warning_key(case: Case, *, hours: int) -> MessageKey:
    """The warning sent `hours` before the case's current deadline (a new deadline, new warnings)."""
    return MessageKey(kind=f"{WARNING_KIND}:{hours}", topic=case_topic(case),
                      revision=f"deadline-{int(case.deadline_at.timestamp())}")
