"""Bulk builders for the Operations tests: closed cases with calls, open cases due at given times,
representatives with hours. Inserted in bulk so a test can have hundreds cheaply."""

import uuid
from datetime import datetime, time, timedelta

from django.contrib.auth.models import User

from scheduling.models import Representative, RepresentativeLanguage, WorkingHours
from tests.factories import CaseFactory
from verification.checklist import checklist_current
from verification.models import CallRecord, Case, CaseStatus, Freelancer, Outcome
from verification.policy import DEFAULT_POLICY

POLICY = DEFAULT_POLICY.snapshot()


def _freelancers(count: int, *, at: datetime, language: str = "en", zone: str = "Europe/Lisbon") -> list[Freelancer]:
    tag = uuid.uuid4().hex[:8]
    return Freelancer.objects.bulk_create(
        Freelancer(external_id=f"ops-{tag}-{i}", email=f"ops-{tag}-{i}@example.com", name=f"Test Person {i}",
                   timezone=zone, language=language, created_at=at, updated_at=at) for i in range(count))


def cases(count: int, *, at: datetime, status: str = CaseStatus.OPEN, deadline_at: datetime | None = None,
          language: str = "en", **fields) -> list[Case]:
    """`count` cases flagged at `at` (notice sent then), of new freelancers."""
    people = _freelancers(count, at=at, language=language)
    return Case.objects.bulk_create(
        Case(freelancer=f, reason_code="profile_details", public_reason="test", policy_snapshot=POLICY, status=status,
             notice_sent_at=at, deadline_at=deadline_at or at + timedelta(days=7), created_by="test", created_at=at,
             updated_at=at, **fields) for f in people)


def calls(user: User, *, outcomes: dict[str, int], at: datetime, seconds: int = 180) -> list[CallRecord]:
    """Calls held by `user`, one closed case each, with these outcome counts, ended at `at`."""
    checklist = checklist_current(now=at)
    records = []
    for outcome, count in outcomes.items():
        status = CaseStatus.VERIFIED if outcome == Outcome.VERIFIED else CaseStatus.IN_REVIEW
        for case in cases(count, at=at - timedelta(days=2), status=status):
            records.append(CallRecord(booking_id=uuid.uuid4(), case=case, representative_user=user,
                                      checklist=checklist, started_at=at - timedelta(seconds=seconds),
                                      outcome=outcome, outcome_at=at))
    return CallRecord.objects.bulk_create(records)


def representatives(count: int, *, languages=("en",), phone: bool = True, hours: tuple[time, time] | None = None,
                    zone: str = "UTC") -> list[Representative]:
    tag = uuid.uuid4().hex[:8]
    users = User.objects.bulk_create(User(username=f"rep-{tag}-{i}", is_staff=True) for i in range(count))
    reps = Representative.objects.bulk_create(
        Representative(user=u, display_name=f"Rep {tag} {i:03d}", timezone=zone, can_take_phone_calls=phone)
        for i, u in enumerate(users))
    RepresentativeLanguage.objects.bulk_create(
        RepresentativeLanguage(representative=r, code=code) for r in reps for code in languages)
    if hours:
        WorkingHours.objects.bulk_create(WorkingHours(representative=r, weekday=day, starts=hours[0], ends=hours[1])
                                         for r in reps for day in range(7))
    return reps


__all__ = ["cases", "calls", "representatives", "CaseFactory"]
