"""The deadline sweep decides a batch in one transaction with one statement per kind of row, so a
batch of 40 due cases costs the statements of a batch of 4 (issue 15, item 3), and each case's
decision is whole: its row, audit, email, warnings and webhook."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import MessageStatus, OutboxMessage, WebhookEndpoint
from scheduling.process_cache import process_caches_clear
from tests.factories import CaseFactory
from tests.helpers import make_reps
from verification.deadlines.services import cases_deadline_decide
from verification.models import AuditEvent, CaseStatus

pytestmark = pytest.mark.django_db


def decide(count: int, *, now):
    """`count` cases noticed at the same time (one guard-5 window), their warnings never sent."""
    notice = now - timedelta(days=8)
    cases = [CaseFactory(notice_sent_at=notice, deadline_at=notice + timedelta(days=7)) for _ in range(count)]
    for case in cases:  # the warnings planned for the deadline, still waiting (the workers were down)
        OutboxMessage.objects.create(kind="deadline_warning:24", topic=f"case:{case.id}", revision="old",
                                     case_ref=case.id, recipient="x@example.com", due_at=now, created_at=now,
                                     updated_at=now)
    process_caches_clear()  # both batches read the webhook endpoints (`scheduling.process_cache`)
    with CaptureQueriesContext(connection) as queries:
        outcome = cases_deadline_decide(case_ids=[case.id for case in cases], now=now)
    return cases, outcome, len(queries.captured_queries)


@pytest.mark.postgres  # one UPDATE ... FROM unnest(...) is PostgreSQL's; SQLite saves case by case
def test_forty_cases_cost_the_statements_of_four_and_each_decision_is_whole(now):
    make_reps(1, now=now)
    WebhookEndpoint.objects.create(name="marketplace", url="http://127.0.0.1:9/hooks")
    _, small_outcome, small = decide(4, now=now)
    cases, outcome, large = decide(40, now=now)
    assert small_outcome == {"extended": 4} and outcome == {"extended": 40}
    assert large == small, (small, large)
    for case in cases:
        case.refresh_from_db()
        assert case.status == CaseStatus.OPEN and case.deadline_at == now + timedelta(hours=48)
        assert case.version == 2 and case.updated_at == now
        [event] = AuditEvent.objects.filter(case=case)
        assert event.action == "deadline_extended" and event.after["guard"] == "warned,offered_enough"
        assert event.before == {"deadline_at": (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")}
        messages = OutboxMessage.objects.filter(case_ref=case.id)
        assert messages.get(revision="old").status == MessageStatus.SKIPPED  # the old deadline's warning
        assert set(messages.filter(status=MessageStatus.PENDING).values_list("kind", "revision")) == {
            ("deadline_extended", "case-rev-2"), ("webhook:case.deadline_extended", "case-rev-2"),
            ("deadline_warning:72", f"deadline-{int(case.deadline_at.timestamp())}"),
            ("deadline_warning:24", f"deadline-{int(case.deadline_at.timestamp())}"),
        }
