"""Queries per request do not grow with the data (issue 15, item 2).

Every API endpoint and every page (freelancer, console, Operations) is requested with 10
representatives and 100 cases, then again after the data grew to 200 representatives and 10,000
cases (every status, bookings, calls, reviews, audit events and outbox rows, the subject
representative's calls today and the reviewer's queue included), and must run the same number of
queries (Django's CaptureQueriesContext). Writes are measured on a fresh case made the same way
each time. The background data is inserted with bulk_create, so the test takes seconds."""

import itertools
import uuid
from datetime import time, timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from notifications.models import MessageStatus, OutboxMessage
from scheduling import process_cache
from scheduling.models import Booking, Slot
from scheduling.process_cache import process_caches_clear
from scheduling.selectors import availability_list
from tests.factories import CaseFactory, UserFactory
from tests.helpers import client_for, make_reps
from tests.operations.builders import cases as bulk_cases
from tests.operations.builders import representatives
from verification.checklist import checklist_current
from verification.links import freelancer_token
from verification.models import AuditEvent, CallRecord, CaseStatus, Outcome, Review
from verification.services.bookings import case_booking_create

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SMALL, LARGE = (10, 100), (200, 10_000)  # (representatives, cases)


class World:
    """The subjects every request is about, made once; `grow` adds background data around them."""

    def __init__(self, now, marketplace: APIClient, admin_user, settings) -> None:
        self.now, self.marketplace, self.admin, self.settings = now, marketplace, admin_user, settings
        settings.METRICS_TOKEN = "metrics-test-token"  # noqa: S105 - a test value
        (self.owner,) = make_reps(1, now=now)  # works 09:00-17:00 London in 5-minute slots
        # today's and tomorrow's times are the owner's alone (the background works from the day after)
        self.times = iter(availability_list(start=now + timedelta(hours=1), end=now + timedelta(days=2)))
        self.numbers = itertools.count()
        self.booked = self.fresh(booked=True)
        self.open = self.fresh()
        self.frozen = self.fresh(status=CaseStatus.FROZEN, frozen_at=now)
        self.reviewer = UserFactory(username="reviewer-q")
        self.reviewer.groups.add(Group.objects.get_or_create(name="Reviewers")[0])
        self.review = self.review_for(self.booked)
        self.reps, self.cases = 1, 3

    def fresh(self, *, booked: bool = False, **fields):
        """A case in its grace period (notice sent yesterday), booked with the owner if asked."""
        case = CaseFactory(notice_sent_at=self.now - timedelta(days=1), deadline_at=self.now + timedelta(days=6),
                           freelancer__external_id=f"subject-{next(self.numbers)}", **fields)
        if booked:
            case_booking_create(case_id=case.id, starts_at=next(self.times), actor="freelancer", now=self.now)
            case.refresh_from_db()
        return case

    def review_for(self, case) -> Review:
        booking = Booking.objects.get(case_ref=case.id)
        call = CallRecord.objects.create(booking_id=booking.id, case=case, representative_user=self.owner.user,
                                         checklist=checklist_current(now=self.now), started_at=self.now,
                                         outcome=Outcome.ESCALATED, outcome_at=self.now)
        return Review.objects.create(case=case, call=call, kind="ESCALATION", assigned_to=self.reviewer,
                                     created_at=self.now)

    def grow(self, *, reps: int, cases: int) -> None:
        """Background data up to `reps` representatives and `cases` cases."""
        now, new_reps = self.now, reps - self.reps
        added = representatives(new_reps, hours=(time(9), time(17)))
        days = [now.replace(hour=0, minute=0) + timedelta(days=d) for d in range(2, 16)]
        slots = Slot.objects.bulk_create(
            Slot(representative=rep, starts_at=day + timedelta(hours=h), ends_at=day + timedelta(hours=h, minutes=5),
                 is_booked=False) for rep in added for day in days for h in range(9, 17))
        count = cases - self.cases
        share = count // 5
        made = {
            CaseStatus.OPEN: bulk_cases(share, at=now - timedelta(days=1)),
            CaseStatus.FROZEN: bulk_cases(share, at=now - timedelta(days=8), deadline_at=now - timedelta(hours=1),
                                          status=CaseStatus.FROZEN, frozen_at=now - timedelta(hours=1)),
            CaseStatus.SCHEDULED: bulk_cases(share, at=now - timedelta(days=1), status=CaseStatus.SCHEDULED),
            CaseStatus.IN_REVIEW: bulk_cases(share, at=now - timedelta(days=2), status=CaseStatus.IN_REVIEW),
            CaseStatus.VERIFIED: bulk_cases(count - 4 * share, at=now - timedelta(days=20),
                                            status=CaseStatus.VERIFIED, closed_at=now - timedelta(days=10)),
        }
        scheduled = made[CaseStatus.SCHEDULED]
        mine = max(1, len(scheduled) // 100)  # the owner's calls today grow with the data: 1, then 19 more
        bookings = []
        for case, slot in zip(scheduled, slots, strict=False):
            slot.is_booked = True
            bookings.append(Booking(case_ref=case.id, representative_id=slot.representative_id, slot=slot,
                                    starts_at=slot.starts_at, ends_at=slot.ends_at, attendee_email="x@example.com",
                                    attendee_name="X", created_at=now, updated_at=now))
        Slot.objects.bulk_update([b.slot for b in bookings], ["is_booked"])
        Booking.objects.bulk_create(bookings)
        for case in made[CaseStatus.OPEN][:mine]:  # the owner's, through the service (claims the owner's slot)
            case_booking_create(case_id=case.id, starts_at=next(self.times), actor="freelancer", now=now)
        checklist = checklist_current(now=now)
        reviewed = made[CaseStatus.IN_REVIEW]
        calls = CallRecord.objects.bulk_create(
            CallRecord(booking_id=uuid.uuid4(), case=case, representative_user=self.owner.user, checklist=checklist,
                       started_at=now - timedelta(days=1), outcome=Outcome.ESCALATED,
                       outcome_at=now - timedelta(days=1))
            for case in reviewed)
        queue = max(1, len(calls) // 100)  # the reviewer's queue grows too: 1, then 20
        Review.objects.bulk_create(
            Review(case=call.case, call=call, kind="ESCALATION", created_at=now - timedelta(days=1),
                   assigned_to=self.reviewer if n < queue else None) for n, call in enumerate(calls))
        everyone = [case for group in made.values() for case in group]
        AuditEvent.objects.bulk_create(
            AuditEvent(case=case, at=now - timedelta(days=1), actor="system", action=action)
            for case in everyone for action in ("flagged", "notice_sent"))
        OutboxMessage.objects.bulk_create(
            OutboxMessage(kind=kind, topic=f"case:{case.id}", revision="bulk", case_ref=case.id,
                          recipient="x@example.com", due_at=now + timedelta(days=n), status=status,
                          created_at=now, updated_at=now)
            for case in everyone
            for n, (kind, status) in enumerate([("notice", MessageStatus.SENT), ("frozen", MessageStatus.PENDING)]))
        self.reps, self.cases = reps, cases

    def requests(self, run: int) -> dict:
        """name: (client, method, path, data). Writes get a fresh case (made before counting)."""
        owner, reviewer, admin = Client(), Client(), Client()
        owner.force_login(self.owner.user)
        reviewer.force_login(self.reviewer)
        admin.force_login(self.admin)
        market = self.marketplace

        def page(case, rest: str = "") -> str:
            return f"/c/{freelancer_token(case)}/{rest}"

        fresh, booked = self.fresh(), self.fresh(booked=True)
        booked_b, booked_c = self.fresh(booked=True), self.fresh(booked=True)
        fresh_b, fresh_c = self.fresh(), self.fresh()
        time_one, time_two, time_three = next(self.times), next(self.times), next(self.times)
        new_id = f"new-{run}"
        flag = {"freelancer": {"external_id": new_id, "email": f"{new_id}@example.com", "name": "New Person",
                               "timezone": "Europe/Berlin", "language": "en"},
                "reason_code": "profile_details", "public_reason": "A reason.",
                "profile_claims": [{"field": "country", "value": "Germany"}], "standing": {"badges": ["x"]}}
        metrics = Client(HTTP_AUTHORIZATION="Bearer metrics-test-token")
        return {
            # the marketplace API
            "POST /api/v1/cases": (market, "post", "/api/v1/cases", flag),
            "GET /api/v1/cases/{id}": (market, "get", f"/api/v1/cases/{self.booked.id}", None),
            "POST /api/v1/cases/{id}/withdraw": (market, "post", f"/api/v1/cases/{fresh.id}/withdraw", {}),
            "GET eligibility, never flagged": (market, "get", f"/api/v1/freelancers/nobody-{run}/eligibility", None),
            "GET eligibility, in grace": (market, "get",
                                          f"/api/v1/freelancers/{self.open.freelancer.external_id}/eligibility", None),
            "GET eligibility, frozen": (market, "get",
                                        f"/api/v1/freelancers/{self.frozen.freelancer.external_id}/eligibility", None),
            # the freelancer API
            "GET /api/v1/case": (client_for(self.booked), "get", "/api/v1/case", None),
            "GET /api/v1/case/availability": (client_for(self.open), "get", "/api/v1/case/availability", None),
            "POST /api/v1/case/booking": (client_for(fresh_b), "post", "/api/v1/case/booking",
                                          {"starts_at": time_one.isoformat()}),
            "PATCH /api/v1/case/booking": (client_for(booked), "patch", "/api/v1/case/booking",
                                           {"starts_at": time_two.isoformat()}),
            "DELETE /api/v1/case/booking": (client_for(booked_b), "delete", "/api/v1/case/booking", None),
            "GET /api/v1/case/booking.ics": (client_for(self.booked), "get", "/api/v1/case/booking.ics", None),
            "POST /api/v1/case/extension": (client_for(fresh_c), "post", "/api/v1/case/extension", None),
            "POST /api/v1/case/accommodation": (client_for(self.fresh()), "post", "/api/v1/case/accommodation",
                                                {"need": "no_camera"}),
            # the freelancer's pages
            "page case": (Client(), "get", page(self.booked), None),
            "page book": (Client(), "get", page(self.open, "book/"), None),
            "page book, POST": (Client(), "post", page(self.fresh(), "book/"), {"starts_at": time_three.isoformat()}),
            "page booked": (Client(), "get", page(self.booked, "booked/"), None),
            "page invite.ics": (Client(), "get", page(self.booked, "invite.ics"), None),
            "page cancel, POST": (Client(), "post", page(booked_c, "cancel/"), {}),
            "page extension, POST": (Client(), "post", page(self.fresh(), "extension/"), {}),
            "page accommodation": (Client(), "get", page(self.open, "accommodation/"), None),
            "page appeal": (Client(), "get", page(self.open, "appeal/"), None),
            # the console
            "console today": (owner, "get", "/console/", None),
            "console call": (owner, "get", f"/console/calls/{Booking.objects.get(case_ref=self.booked.id).id}/", None),
            "console call start, POST": (owner, "post",
                                         f"/console/calls/{Booking.objects.get(case_ref=booked.id).id}/action/",
                                         {"start": "1"}),
            "console hours add, POST": (owner, "post", "/console/hours/add/",
                                        {"hours-weekday": 5 + run % 2, "hours-starts": f"{10 + run}:00",
                                         "hours-ends": f"{10 + run}:30"}),
            "console reviews": (reviewer, "get", "/console/reviews/", None),
            "console review": (reviewer, "get", f"/console/reviews/{self.review.pk}/", None),
            # Operations
            "operations now": (admin, "get", "/console/operations/", None),
            "operations funnel": (admin, "get", "/console/operations/funnel/", None),
            "operations capacity": (admin, "get", "/console/operations/capacity/", None),
            "operations representatives": (admin, "get", "/console/operations/representatives/", None),
            "metrics": (metrics, "get", "/metrics", None),
        }

    def counts(self, run: int) -> dict[str, tuple[int, int]]:
        """Each request's (status, queries)."""
        process_caches_clear()  # each run reads the grace policies and webhook endpoints once, as the first did
        measured = {}
        for name, (client, method, path, data) in self.requests(run).items():
            kwargs = {"format": "json"} if isinstance(client, APIClient) and data is not None else {}
            with CaptureQueriesContext(connection) as queries:
                response = getattr(client, method)(path, data, **kwargs) if data is not None else getattr(
                    client, method)(path)
            measured[name] = (response.status_code, len(queries.captured_queries))
        return measured


def test_queries_per_request_do_not_grow_with_the_data(now, frozen_clock, marketplace, admin_user, settings,
                                                      monkeypatch):
    monkeypatch.setattr(process_cache.time, "monotonic", lambda: 0.0)  # nothing kept expires during a run
    world = World(now, marketplace, admin_user, settings)
    world.grow(reps=SMALL[0], cases=SMALL[1])
    world.counts(0)  # warm-up: the first request of a kind fills process-wide caches
    small = world.counts(1)
    world.grow(reps=LARGE[0], cases=LARGE[1])
    large = world.counts(2)
    assert Booking.objects.filter(representative=world.owner, starts_at__date=now.date()).count() >= 20
    assert Review.objects.filter(assigned_to=world.reviewer, decided_at__isnull=True).count() >= 20
    failed = {name: status for name, (status, _) in large.items() if status >= 500}
    assert not failed, failed
    grew = {name: (small[name], large[name]) for name in small if small[name] != large[name]}
    assert not grew, f"(status, queries) with {SMALL} vs {LARGE} (representatives, cases): {grew}"
