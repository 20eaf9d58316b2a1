"""The Operations pages: who may see them, what they show, CSV, bad input, bounded queries."""

import csv
import io
import uuid
from datetime import time, timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from notifications.models import MessageStatus, OutboxMessage
from scheduling.services.slots import representatives_slots_sync_all
from tests.factories import CaseFactory, RepresentativeFactory, UserFactory
from tests.operations.builders import calls, cases, representatives
from verification.checklist import checklist_current
from verification.models import AuditEvent, CallRecord, CaseRequest, CaseStatus, Outcome, RequestKind, Review

pytestmark = pytest.mark.django_db

PAGES = ["/console/operations/", "/console/operations/funnel/", "/console/operations/capacity/",
         "/console/operations/representatives/"]


def as_user(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def operations_user(username: str = "ops"):
    user = UserFactory(username=username)
    user.user_permissions.add(Permission.objects.get(codename="view_operations"))
    return user


@pytest.mark.parametrize("url", PAGES)
def test_only_staff_with_the_permission_see_the_pages(url, admin_user, frozen_clock):
    rep = RepresentativeFactory()
    for user, expected in [(admin_user, 200), (operations_user(), 200), (rep.user, 403),
                           (UserFactory(username="reviewer-x"), 403)]:
        assert as_user(user).get(url).status_code == expected, user
    anonymous = as_user(None).get(url)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    refused = as_user(rep.user).get(url)
    assert "Can see the Operations pages" in refused.content.decode()  # says what is missing
    assert "Nothing was changed" in refused.content.decode()


def test_a_representative_cannot_download_either(frozen_clock):
    rep = RepresentativeFactory()
    assert as_user(rep.user).get("/console/operations/?csv=due").status_code == 403


def test_the_console_shows_the_link_only_to_those_who_may_follow_it(admin_user, frozen_clock):
    rep = RepresentativeFactory()
    assert 'href="/console/operations/"' in as_user(admin_user).get("/console/reviews/").content.decode()
    assert 'href="/console/operations/"' not in as_user(rep.user).get("/console/").content.decode()


def test_the_admin_lands_on_operations_and_a_reviewer_on_the_queue(admin_user, frozen_clock):
    assert as_user(admin_user).get("/console/")["Location"] == "/console/operations/"
    rev = UserFactory(username="rev")
    rev.groups.add(Group.objects.get_or_create(name="Reviewers")[0])
    assert as_user(rev).get("/console/")["Location"] == "/console/reviews/"


@pytest.mark.parametrize(("query", "message"), [
    ("days=5", "is not a period on offer"),
    ("days=abc", "is not a period on offer"),
    ("zone=Mars/Olympus_Mons", "is not an IANA time zone"),
    ("since=1900-01-01&until=2026-03-01", "Pick dates between 2000"),
    ("since=2025-01-01&until=2026-03-01", "pick at most 92 days"),
    ("since=2026-03-01", "Give both dates"),
    ("since=2026-03-05&until=2026-03-01", "swap them"),
    ("since=2026-02-30&until=2026-03-01", "Enter a valid date"),
    ("since=99999-01-01&until=2026-03-01", "Enter a valid date"),
])
@pytest.mark.parametrize("url", PAGES)
def test_bad_input_is_a_message_on_the_page_not_a_500(url, query, message, admin_user, frozen_clock):
    response = as_user(admin_user).get(f"{url}?{query}")
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'role="alert"' in response.content.decode()


def test_an_unknown_table_to_download_says_so(admin_user, frozen_clock):
    response = as_user(admin_user).get("/console/operations/?csv=salaries")
    assert response.status_code == 404 and "no table “salaries”" in response.content.decode()


def test_now_shows_cases_about_to_be_frozen_pending_work_and_the_outbox(admin_user, now, frozen_clock):
    soon = CaseFactory(notice_sent_at=now - timedelta(days=7), deadline_at=now + timedelta(hours=5))
    later = CaseFactory(notice_sent_at=now - timedelta(days=5), deadline_at=now + timedelta(hours=50))
    CaseFactory(status=CaseStatus.SCHEDULED, deadline_at=now + timedelta(hours=3))  # booked: not listed
    CaseFactory(deadline_at=now + timedelta(days=5))  # not due yet
    CaseRequest.objects.create(case=later, kind=RequestKind.ACCOMMODATION, need="no_camera", created_by="freelancer",
                               created_at=now - timedelta(days=6))  # older than the 5 review days
    Review.objects.create(case=CaseFactory(status=CaseStatus.IN_REVIEW), kind="ESCALATION",
                          created_at=now - timedelta(days=1))
    for status, due in [(MessageStatus.FAILED, now - timedelta(hours=2)), (MessageStatus.PENDING, now - timedelta(
            minutes=10)), (MessageStatus.PENDING, now + timedelta(days=1)), (MessageStatus.SENT, now)]:
        OutboxMessage.objects.create(kind="reminder:60", revision="r", topic=f"booking:{status}{due}",
                                     recipient="a@example.com",
                                     due_at=due, status=status, created_at=now, updated_at=now)

    page = as_user(admin_user).get("/console/operations/?zone=Asia/Kolkata")
    assert page.status_code == 200
    now_panel = page.context["panel"]
    assert now_panel.due.counts == {24: 1, 72: 2}
    assert [c.pk for c in now_panel.due.cases] == [soon.pk, later.pk]
    html = page.content.decode()
    assert f"/admin/verification/case/{soon.pk}/change/" in html and soon.freelancer.external_id in html
    assert soon.freelancer.timezone in html
    pending = {item.kind: item for item in now_panel.pending}
    assert (pending["ACCOMMODATION"].count, pending["ACCOMMODATION"].over_target) == (1, 1)
    assert (pending["ESCALATION"].count, pending["ESCALATION"].over_target) == (1, 0)
    box = now_panel.outbox
    assert (box.failed, box.pending, box.due, box.overdue) == (1, 2, 1, 1)
    assert box.lag_seconds(now) == 600
    assert now_panel.by_status["OPEN"] == 3 and now_panel.by_status["SCHEDULED"] == 1


def test_every_table_downloads_as_csv_with_the_numbers_on_the_page(admin_user, now, frozen_clock):
    rep = RepresentativeFactory(display_name="=HYPERLINK(evil)")
    calls(rep.user, outcomes={Outcome.VERIFIED: 3}, at=now - timedelta(days=1))
    cases(2, at=now - timedelta(days=6), deadline_at=now + timedelta(hours=20))
    client = as_user(admin_user)
    for url in PAGES:
        page = client.get(url)
        for name, table in page.context["tables"].items():
            response = client.get(f"{url}?csv={name}")
            assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
            assert f'filename="{name}-' in response["Content-Disposition"]
            rows = list(csv.reader(io.StringIO(response.content.decode())))
            assert rows[0] == [c.label for c in table.columns]
            assert len(rows) == len(table.rows) + 1, name
    reps = list(csv.reader(io.StringIO(client.get(f"{PAGES[3]}?csv=representatives").content.decode())))
    assert reps[1][0] == "'=HYPERLINK(evil)" and reps[1][1] == "3"  # never a formula in a spreadsheet
    due = list(csv.reader(io.StringIO(client.get(f"{PAGES[0]}?csv=due").content.decode())))
    assert len(due) == 3


def test_funnel_counts_times_and_why_deadlines_moved(admin_user, now, frozen_clock):
    flagged = now - timedelta(days=3)
    booked, verified, waiting, extended = cases(4, at=flagged, status=CaseStatus.OPEN)
    for case, hours in ((booked, 2), (verified, 10)):
        AuditEvent.objects.create(case=case, at=flagged + timedelta(hours=hours), actor="freelancer", action="booked")
    calls(UserFactory(username="held-rep"), outcomes={Outcome.VERIFIED: 1}, at=now - timedelta(days=9))  # earlier
    CallRecord.objects.create(booking_id=uuid.uuid4(), case=verified, representative_user=UserFactory(username="r2"),
                              checklist=checklist_current(now=now), started_at=now, outcome=Outcome.VERIFIED,
                              outcome_at=now)
    verified.status, verified.closed_at = CaseStatus.VERIFIED, flagged + timedelta(hours=30)
    verified.save()
    waiting.notice_sent_at, waiting.deadline_at = None, None
    waiting.save()
    AuditEvent.objects.create(case=extended, at=now, actor="system", action="deadline_extended",
                              after={"guard": "warned,offered_enough"})
    response = as_user(admin_user).get("/console/operations/funnel/?days=7")
    funnel = response.context["funnel"]
    assert funnel.counts == {"flagged": 4, "noticed": 3, "booked": 2, "held": 1, "decided": 1}
    assert funnel.notice_to_booking == [timedelta(hours=6), timedelta(hours=9.2)]  # 2 h and 10 h
    assert funnel.notice_to_decision == [timedelta(hours=30), timedelta(hours=30)]
    assert funnel.extended_cases == 1 and funnel.extensions == {"warned": 1, "offered_enough": 1}
    html = response.content.decode()
    assert "Guard: a warning was not sent in time" in html and "the last 7 days" in html


@pytest.mark.parametrize("url", PAGES)
def test_queries_per_page_do_not_grow_with_representatives_or_cases(url, admin_user, now, frozen_clock):
    client = as_user(admin_user)

    def queries() -> int:
        client.get(url)  # sessions and permissions are cached after the first request
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    def grow(reps: int, open_cases: int) -> None:
        people = representatives(reps, languages=("en", "es"), hours=(time(9), time(10)))
        representatives_slots_sync_all(now=now)
        for i, rep in enumerate(people):
            calls(rep.user, outcomes={Outcome.VERIFIED: 1, Outcome.ESCALATED: i % 2}, at=now - timedelta(days=1))
        for day in range(1, 8):
            cases(open_cases // 7, at=now - timedelta(days=3), deadline_at=now + timedelta(days=day, hours=1),
                  language="es" if day % 2 else "en")

    grow(10, 14)
    few = queries()
    assert few > 5
    grow(190, 700)
    assert queries() == few


def test_names_are_shown_as_text_never_as_markup(admin_user, now, frozen_clock):
    rep = RepresentativeFactory(display_name="<b>Bold</b> & co")
    calls(rep.user, outcomes={Outcome.VERIFIED: 1}, at=now - timedelta(days=1))
    page = as_user(admin_user).get(PAGES[3]).content.decode()
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in page and "<b>Bold</b>" not in page


@pytest.mark.parametrize("url", PAGES)
def test_htmx_gets_only_the_panel_and_its_messages(url, admin_user, frozen_clock):
    client = as_user(admin_user)
    partial = client.get(f"{url}?days=30&zone=Asia/Tokyo", HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert partial.status_code == 200 and '<div id="panel"' in html[:200]
    assert "<html" not in html and 'hx-swap-oob="true"' in html and "days=30&amp;zone=Asia%2FTokyo" in html
    refused = client.get(f"{url}?zone=Nowhere/Special", HTTP_HX_REQUEST="true")  # htmx swaps only 2xx answers
    assert refused.status_code == 200 and "is not an IANA time zone" in refused.content.decode()
    assert "<html" not in refused.content.decode()
