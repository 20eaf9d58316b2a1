"""Revoking the freelancer's link: every new-link email that goes out carries a link that works,
however close together the revocations; messages still waiting carry the new link; and two changes
of a case never share a message or webhook key (issue 11, item 4)."""

import re
from datetime import timedelta

import pytest
from django.core import mail

from notifications.models import MessageStatus, OutboxMessage, WebhookEndpoint
from notifications.services import outbox_claim_due, outbox_send_batch
from tests.factories import CaseFactory
from tests.helpers import send_due
from verification.deadlines.services import case_extend
from verification.deadlines.warnings import deadline_warnings_plan
from verification.links import LinkInvalid, case_from_token, freelancer_token
from verification.models import Case
from verification.services.cases import case_link_revoke

pytestmark = pytest.mark.django_db

NEW_LINK_SUBJECT = "Your new link for the identity check"


def revoke(case, at) -> str:
    """An admin revokes the link at `at`; returns the token that revocation issued."""
    case_link_revoke(case_id=case.id, actor="user:ada", reason="forwarded by mistake", now=at)
    return freelancer_token(Case.objects.get(pk=case.id))


def token_in(email) -> str:
    [token] = set(re.findall(r"/c/([^/\s\"<>]+)/", email.body))
    return token


def opens(token: str, case, at) -> bool:
    try:
        return case_from_token(token, now=at).pk == case.pk
    except LinkInvalid:
        return False


def new_link_emails() -> list:
    return [email for email in mail.outbox if email.subject == NEW_LINK_SUBJECT]


@pytest.mark.parametrize("gap", [timedelta(0), timedelta(milliseconds=600)], ids=["same now", "0.6 s apart"])
def test_two_revocations_within_a_second_mail_only_the_link_that_works(now, gap):
    # given a case whose freelancer holds the original link
    case = CaseFactory()
    original = freelancer_token(case)
    # when an admin revokes it twice within the same second, before the outbox runs
    first = revoke(case, now)
    second = revoke(case, now + gap)
    send_due(now + timedelta(seconds=1))
    # then the freelancer gets one new-link email, carrying the link that works; no other link does
    [email] = new_link_emails()
    assert token_in(email) == second
    assert opens(second, case, now + timedelta(seconds=2))
    assert not opens(first, case, now + timedelta(seconds=2)) and not opens(original, case, now + timedelta(seconds=2))
    skipped = OutboxMessage.objects.get(kind="new_link", status=MessageStatus.SKIPPED)
    assert skipped.skip_reason == "a newer link was issued"


def test_a_new_link_email_already_sent_is_followed_by_one_with_the_working_link(now):
    case = CaseFactory()
    first = revoke(case, now)
    send_due(now)  # the first new-link email leaves at once
    second = revoke(case, now + timedelta(milliseconds=600))
    send_due(now + timedelta(seconds=1))
    assert [token_in(email) for email in new_link_emails()] == [first, second]
    assert opens(second, case, now + timedelta(seconds=2)) and not opens(first, case, now + timedelta(seconds=2))


def test_a_new_link_email_claimed_by_a_worker_before_a_second_revocation_is_not_sent(now):
    # given the first new-link email is claimed by a worker, not yet sent
    case = CaseFactory()
    revoke(case, now)
    claimed = outbox_claim_due(now=now, limit=100)
    # when the link is revoked again before the worker sends it
    second = revoke(case, now + timedelta(milliseconds=600))
    outbox_send_batch(message_ids=claimed)
    send_due(now + timedelta(seconds=1))
    # then only the email with the working link goes out; the claimed one is skipped, saying why
    [email] = new_link_emails()
    assert token_in(email) == second and opens(second, case, now + timedelta(seconds=2))
    assert OutboxMessage.objects.get(pk__in=claimed, kind="new_link").skip_reason == (
        "a newer message of this kind replaces it")


def test_messages_still_waiting_carry_the_new_link(now):
    # given the 72 h and 24 h warnings are planned, carrying the original link
    case = CaseFactory()
    deadline_warnings_plan(case, now=now)
    # when the link is revoked
    new = revoke(case, now + timedelta(hours=1))
    # then the warnings, when they go out, carry the new link
    send_due(case.deadline_at - timedelta(hours=24))
    warnings = [email for email in mail.outbox if email.subject != NEW_LINK_SUBJECT]
    assert len(warnings) == 2 and {token_in(email) for email in warnings} == {new}
    assert opens(new, case, case.deadline_at - timedelta(hours=24))


def test_two_changes_with_the_same_now_each_tell_the_marketplace(now):
    # given a marketplace endpoint; two admin extensions decided at the same instant (a request
    # that waited for the case's lock is decided at the time of the change it waited behind)
    WebhookEndpoint.objects.create(name="marketplace", url="http://127.0.0.1:9/hooks")
    case = CaseFactory()
    case_extend(case_id=case.id, actor="user:ada", reason="first", now=now)
    case_extend(case_id=case.id, actor="user:bo", reason="second", now=now)
    # then both are webhooks of their own, with distinct event ids
    hooks = OutboxMessage.objects.filter(kind="webhook:case.deadline_extended").order_by("pk")
    assert [hook.context["body"]["data"]["reason"] for hook in hooks] == ["first", "second"]
    assert len({hook.context["event_id"] for hook in hooks}) == 2
