"""The case's transitions: every allowed move works and is audited; illegal moves change nothing."""

from datetime import timedelta
from itertools import product

import pytest
from django.db import IntegrityError, connection, transaction

from tests.factories import CaseFactory, FreelancerFactory
from verification import transitions
from verification.errors import IllegalTransition
from verification.models import AuditEvent, Case, CaseStatus
from verification.services.audit import audit_record
from verification.services.cases import case_lock, case_transition

pytestmark = pytest.mark.django_db

ALLOWED = [(a, b) for a, targets in transitions.ALLOWED.items() for b in sorted(targets)]
ILLEGAL = [(a, b) for a, b in product(CaseStatus.values, repeat=2) if b not in transitions.ALLOWED[a]]


def transition(case_id, *, now, **kwargs) -> Case:
    """The transition service on the case locked as every service locks it first."""
    with transaction.atomic():
        case, at = case_lock(case_id, now=now)
        return case_transition(case=case, now=at, **kwargs)


def test_the_table_names_every_status_and_final_ones_lead_nowhere_but_appeal():
    assert set(transitions.ALLOWED) == set(CaseStatus.values)
    assert transitions.ALLOWED[CaseStatus.VERIFIED] == frozenset()
    assert transitions.ALLOWED[CaseStatus.WITHDRAWN] == frozenset()
    assert transitions.ALLOWED[CaseStatus.NOT_VERIFIED] == {CaseStatus.IN_REVIEW}
    assert CaseStatus.FROZEN not in transitions.ALLOWED[CaseStatus.SCHEDULED]  # a booked call is never frozen


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED)
def test_every_allowed_transition_changes_status_and_is_audited(from_status, to_status, now):
    case = CaseFactory(status=from_status)
    result = transition(
        case.pk, to_status=to_status, actor="user:ada", action="test_move", reason="because", now=now
    )
    case.refresh_from_db()
    assert result.status == case.status == to_status
    assert case.updated_at == now
    assert (case.closed_at == now) == (to_status in (CaseStatus.VERIFIED, CaseStatus.NOT_VERIFIED,
                                                     CaseStatus.WITHDRAWN))
    event = AuditEvent.objects.get(case=case)
    assert (event.actor, event.action, event.from_status, event.to_status, event.reason, event.at) == (
        "user:ada", "test_move", from_status, to_status, "because", now
    )
    assert event.before == {"status": from_status} and event.after == {"status": to_status}


@pytest.mark.parametrize(("from_status", "to_status"), ILLEGAL)
def test_illegal_transitions_are_refused_and_change_nothing(from_status, to_status, now):
    case = CaseFactory(status=from_status)
    later = now + timedelta(hours=1)
    with pytest.raises(IllegalTransition) as error:
        transition(case.pk, to_status=to_status, actor="system", action="x", reason="",
                                 now=later)
    assert error.value.status_code == 409
    case.refresh_from_db()
    assert case.status == from_status and case.updated_at != later
    assert not AuditEvent.objects.filter(case=case).exists()


def test_audit_events_cannot_be_changed_or_deleted_through_the_model(now):
    case = CaseFactory()
    event = audit_record(case=case, actor="system", action="noted", now=now)
    event.reason = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()


@pytest.mark.postgres
def test_audit_events_cannot_be_changed_or_deleted_in_the_database(now):
    case = CaseFactory()
    audit_record(case=case, actor="system", action="noted", now=now)
    for statement in ("UPDATE verification_auditevent SET reason = 'x'", "DELETE FROM verification_auditevent"):
        with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEvent.objects.get().reason == ""


def test_one_open_case_per_freelancer_is_a_database_constraint():
    freelancer = FreelancerFactory()
    CaseFactory(freelancer=freelancer, status=CaseStatus.WITHDRAWN)
    CaseFactory(freelancer=freelancer, status=CaseStatus.VERIFIED)
    CaseFactory(freelancer=freelancer, status=CaseStatus.OPEN)
    for status in (CaseStatus.OPEN, CaseStatus.FROZEN, CaseStatus.SCHEDULED, CaseStatus.IN_REVIEW):
        with pytest.raises(IntegrityError), transaction.atomic():
            CaseFactory(freelancer=freelancer, status=status)
    assert Case.objects.filter(freelancer=freelancer).count() == 3


@pytest.mark.postgres
def test_one_open_case_constraint_holds_on_postgresql_against_raw_sql():
    case = CaseFactory()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO verification_case (id, freelancer_id, reason_code, public_reason, profile_claims,"
            " standing_snapshot, status, policy, link_nonce, created_by, created_at, updated_at)"
            " SELECT gen_random_uuid(), freelancer_id, reason_code, public_reason, profile_claims,"
            " standing_snapshot, 'FROZEN', policy, 'n', created_by, created_at, updated_at"
            " FROM verification_case WHERE id = %s",
            [case.pk],
        )
    assert Case.objects.count() == 1


def test_reopening_a_refusal_on_appeal_respects_the_one_open_case_rule(now):
    freelancer = FreelancerFactory()
    refused = CaseFactory(freelancer=freelancer, status=CaseStatus.NOT_VERIFIED)
    CaseFactory(freelancer=freelancer, status=CaseStatus.OPEN)
    with pytest.raises(IntegrityError):
        transition(refused.pk, to_status=CaseStatus.IN_REVIEW, actor="freelancer",
                                 action="appealed", reason="", now=now)
