"""Demo history for the Operations pages (`seed_demo`): six weeks of past cases with their bookings,
calls, outcomes, reviews, extensions and audit events, plus open cases due over the next days, so
every panel shows something on `make run`. One representative (Tom, London) escalates far more
often than the others, so the fairness test has someone to flag.

Written straight into the tables with past times (no service runs, so nothing is mailed), in bulk,
and only once: the first history freelancer marks it as done. Deterministic (a seeded generator).
"""

import random
import uuid
from datetime import datetime, timedelta

from django.contrib.auth.models import User

from notifications.models import MessageStatus, OutboxMessage
from scheduling.models import Booking, BookingStatus, Representative
from verification.checklist import checklist_current
from verification.models import (
    AccommodationNeed,
    AuditEvent,
    CallRecord,
    Case,
    CaseRequest,
    CaseStatus,
    Freelancer,
    GracePolicy,
    NotVerifiedReason,
    Outcome,
    ReasonCode,
    RequestKind,
    RequestStatus,
    Review,
    ReviewKind,
)
from verification.selectors import policy_for

MARK = "demo-hist-"
DAYS = 42
PER_DAY = 15
STANDOUT = "rep-london"
PEOPLE = [  # (language, zone)
    ("en", "Africa/Lagos"), ("en", "Europe/Berlin"), ("es", "America/Mexico_City"), ("en", "Asia/Manila"),
    ("hi", "Asia/Kolkata"), ("en", "America/Chicago"), ("es", "Europe/Madrid"), ("pt", "America/Sao_Paulo"),
]
NAMES = ["Ada", "Bola", "Carmen", "Dara", "Esra", "Femi", "Gita", "Hugo", "Ines", "Jun", "Kofi", "Lena"]


class History:
    def __init__(self, *, now: datetime, reviewer: User):
        self.now, self.reviewer, self.rng = now, reviewer, random.Random(13)  # noqa: S311 (demo data)
        self.policy = policy_for(reason_code=GracePolicy.DEFAULT).snapshot()
        self.checklist = checklist_current(now=now)
        self.reps = list(Representative.objects.select_related("user").order_by("pk"))
        self.freelancers, self.cases, self.bookings, self.calls = [], [], [], []
        self.events, self.requests, self.reviews = [], [], []

    def freelancer(self, n: int) -> Freelancer:
        language, zone = PEOPLE[n % len(PEOPLE)]
        person = Freelancer(external_id=f"{MARK}{n:04d}", email=f"{MARK}{n:04d}@example.com",
                            name=f"{NAMES[n % len(NAMES)]} Example{n}", timezone=zone, language=language,
                            created_at=self.now, updated_at=self.now)
        self.freelancers.append(person)
        return person

    def event(self, case: Case, at: datetime, action: str, actor: str = "system", **after) -> None:
        self.events.append(AuditEvent(case=case, at=at, actor=actor, action=action, after=after))

    def case(self, person: Freelancer, flagged: datetime, **fields) -> Case:
        notice = flagged + timedelta(minutes=1)
        case = Case(id=uuid.uuid4(), freelancer=person, reason_code=self.rng.choice(ReasonCode.values),
                    public_reason="Demo: details on the profile need confirming.", policy_snapshot=self.policy,
                    notice_sent_at=notice, deadline_at=notice + timedelta(days=7), created_by="marketplace:demo",
                    created_at=flagged, updated_at=flagged, **fields)
        self.cases.append(case)
        self.event(case, flagged, "flagged", actor="marketplace:demo", reason_code=case.reason_code)
        self.event(case, notice, "notice_sent")
        return case

    def call(self, case: Case, rep: Representative, at: datetime, outcome: str, *, rep_no_show: bool = False):
        booking = Booking(case_ref=case.id, representative=rep, starts_at=at, ends_at=at + timedelta(minutes=5),
                          attendee_email=case.freelancer.email, attendee_name=case.freelancer.name,
                          language=case.freelancer.language if self.rng.random() < 0.3 else "",
                          phone=self.rng.random() < 0.15, status=BookingStatus.DONE,
                          cancel_reason="rep_no_show" if rep_no_show else "",
                          created_at=at - timedelta(days=self.rng.randint(1, 3)), updated_at=at)
        self.bookings.append(booking)
        self.event(case, booking.created_at, "booked", actor="freelancer", booking_id=str(booking.id))
        if rep_no_show:
            self.event(case, at + timedelta(minutes=10), "rep_no_show")
            self.event(case, at + timedelta(minutes=10), "deadline_extended", reason="Our representative missed it.")
            case.deadline_at += timedelta(hours=72)
            return None
        seconds = self.rng.randint(150, 330) if rep.user.username != STANDOUT else self.rng.randint(100, 200)
        record = CallRecord(booking_id=booking.id, case=case, representative_user=rep.user, checklist=self.checklist,
                            started_at=at, outcome=outcome, outcome_at=at + timedelta(seconds=seconds))
        self.calls.append(record)
        self.event(case, record.outcome_at, "call_outcome", actor=f"user:{rep.user.username}", outcome=outcome)
        return record

    def outcome(self, rep: Representative) -> str:
        escalate = 0.35 if rep.user.username == STANDOUT else 0.04
        roll = self.rng.random()
        if roll < escalate:
            return Outcome.ESCALATED
        return self.rng.choices([Outcome.VERIFIED, Outcome.RETRY_TECHNICAL, Outcome.ALT_PATH,
                                 Outcome.FREELANCER_NO_SHOW], weights=[86, 5, 4, 5])[0]

    def past_case(self, n: int, flagged: datetime) -> None:
        person = self.freelancer(n)
        case = self.case(person, flagged)
        roll = self.rng.random()
        if roll < 0.06:  # never booked: the sweep froze it (after one guard extension)
            self.event(case, case.deadline_at, "deadline_extended", guard="warned")
            case.deadline_at += timedelta(hours=48)
            case.status, case.frozen_at = CaseStatus.FROZEN, case.deadline_at
            self.event(case, case.deadline_at, "frozen")
            return
        if roll < 0.10:  # the freelancer took their one self-service extension first
            at = case.notice_sent_at + timedelta(days=5)
            self.requests.append(CaseRequest(case=case, kind=RequestKind.EXTENSION, status=RequestStatus.GRANTED,
                                             created_by="freelancer", created_at=at, resolved_by="system",
                                             resolved_at=at, resolution="Granted automatically: 3 days."))
            self.event(case, at, "deadline_extended", actor="freelancer")
            case.deadline_at += timedelta(days=3)
        at = case.notice_sent_at + timedelta(days=self.rng.choice([1, 2, 2, 3, 4, 6]), hours=self.rng.randint(0, 8))
        rep = self.rng.choice(self.reps)
        if self.rng.random() < 0.03:  # our representative missed it; rebooked with someone else
            self.call(case, rep, at, "", rep_no_show=True)
            at, rep = at + timedelta(days=1), self.rng.choice([r for r in self.reps if r != rep] or self.reps)
        outcome = self.outcome(rep)
        call = self.call(case, rep, at, outcome)
        if outcome in (Outcome.RETRY_TECHNICAL, Outcome.FREELANCER_NO_SHOW, Outcome.ALT_PATH):
            if outcome == Outcome.RETRY_TECHNICAL:
                self.event(case, call.outcome_at, "retry_technical", actor=f"user:{rep.user.username}")
                self.event(case, call.outcome_at, "deadline_extended", actor=f"user:{rep.user.username}")
                case.deadline_at += timedelta(hours=48)
            if outcome == Outcome.ALT_PATH:
                self.requests.append(CaseRequest(
                    case=case, kind=RequestKind.ACCOMMODATION, need=AccommodationNeed.PHONE_ONLY,
                    status=RequestStatus.GRANTED, created_by=f"user:{rep.user.username}", created_at=call.outcome_at,
                    resolved_by="user:admin", resolved_at=call.outcome_at + timedelta(hours=5),
                    resolution="Phone call arranged."))
            at, rep = at + timedelta(days=1), self.rng.choice(self.reps)
            outcome = Outcome.VERIFIED if self.rng.random() < 0.9 else Outcome.ESCALATED
            call = self.call(case, rep, at, outcome)
        if outcome == Outcome.VERIFIED:
            case.status, case.closed_at = CaseStatus.VERIFIED, call.outcome_at
            case.standing_restored_at = call.outcome_at
            self.event(case, call.outcome_at, "verified", actor=f"user:{rep.user.username}")
            return
        review = Review(case=case, call=call, kind=ReviewKind.ESCALATION, assigned_to=self.reviewer,
                        created_at=call.outcome_at)
        self.reviews.append(review)
        if call.outcome_at > self.now - timedelta(days=6):  # recent: still waiting for the reviewer
            case.status = CaseStatus.IN_REVIEW
            return
        review.decided_at = call.outcome_at + timedelta(days=self.rng.randint(1, 4))
        if self.rng.random() < 0.6:
            review.decision, case.status = Outcome.VERIFIED, CaseStatus.VERIFIED
        else:
            review.decision, case.status = Outcome.NOT_VERIFIED, CaseStatus.NOT_VERIFIED
            review.reason_code, review.statement = NotVerifiedReason.FACTS_MISMATCH, "The profile facts differ."
        case.closed_at = review.decided_at
        self.event(case, review.decided_at, review.decision.lower(), actor=f"user:{self.reviewer.username}")

    def open_case(self, n: int, due_in: timedelta, *, accommodation: bool = False) -> None:
        person = self.freelancer(n)
        case = self.case(person, self.now + due_in - timedelta(days=7, minutes=1))
        if accommodation:
            self.requests.append(CaseRequest(
                case=case, kind=RequestKind.ACCOMMODATION, need=AccommodationNeed.NO_CAMERA, note="I have no webcam.",
                created_by="freelancer", created_at=self.now - timedelta(days=6)))

    def build(self) -> int:
        n = 0
        for day in range(DAYS, 0, -1):
            for _ in range(PER_DAY):
                flagged = self.now - timedelta(days=day, hours=self.rng.randint(0, 20))
                if flagged + timedelta(days=8) > self.now:
                    continue  # recent flags are the open cases below
                self.past_case(n, flagged)
                n += 1
        for i in range(36):  # open, no call booked, due over the next 12 days (a few within 24 h)
            hours = [5, 14, 20, 30, 44, 60][i] if i < 6 else self.rng.randint(24, 12 * 24)
            self.open_case(n, timedelta(hours=hours), accommodation=i in (3, 17))
            n += 1
        Freelancer.objects.bulk_create(self.freelancers)
        Case.objects.bulk_create(self.cases)
        Booking.objects.bulk_create(self.bookings)
        CallRecord.objects.bulk_create(self.calls)
        Review.objects.bulk_create(self.reviews)
        CaseRequest.objects.bulk_create(self.requests)
        AuditEvent.objects.bulk_create(self.events)
        failed = self.cases[-40]
        OutboxMessage.objects.create(
            kind="reminder:60", topic=f"demo:{failed.id}", revision="demo", case_ref=failed.id,
            recipient=failed.freelancer.email,
            due_at=self.now - timedelta(hours=3), status=MessageStatus.FAILED, attempts=6,
            last_error="SMTP 550: mailbox unavailable (demo)", created_at=self.now - timedelta(days=1),
            updated_at=self.now - timedelta(hours=1))
        return len(self.cases)


def demo_history(*, now: datetime, reviewer: User) -> int | None:
    """Past and open cases for the Operations pages; None if they are already there."""
    if Freelancer.objects.filter(external_id__startswith=MARK).exists():
        return None
    return History(now=now, reviewer=reviewer).build()
