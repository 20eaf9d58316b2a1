"""The console's permission matrix: a representative sees and acts only on their own calls, a
reviewer only on their queue, admins on all; a page of another role is a 403, someone else's call or
review a 404 (or the login page)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from scheduling.models import Booking, Slot, TimeOff, WorkingHours
from tests.factories import CaseFactory, RepresentativeFactory, UserFactory
from tests.helpers import client_for, make_reps
from verification.models import CallRecord, CaseRequest, Review

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(now, frozen_clock):
    owner, other = make_reps(2, now=now)
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-02T13:00:00Z"}, format="json")
    booking = Booking.objects.get(case_ref=case.id)
    if booking.representative != owner:
        owner, other = other, owner
    reviewers = Group.objects.get_or_create(name="Reviewers")[0]
    assigned, bystander = UserFactory(username="rev-a"), UserFactory(username="rev-b")
    for user in (assigned, bystander):
        user.groups.add(reviewers)
    review = Review.objects.create(case=case, kind="ESCALATION", assigned_to=assigned, created_at=now)
    return {"booking": booking, "owner": owner.user, "other": other.user, "assigned": assigned,
            "bystander": bystander, "review": review}


def as_user(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


PAGES = {
    "today": lambda w: ("get", "/console/"),
    "call": lambda w: ("get", f"/console/calls/{w['booking'].id}/"),
    "start": lambda w: ("post", f"/console/calls/{w['booking'].id}/action/"),
    "reviews": lambda w: ("get", "/console/reviews/"),
    "review": lambda w: ("get", f"/console/reviews/{w['review'].pk}/"),
}
EXPECTED = {
    #            today call start reviews review
    "anonymous": (302, 302, 302, 302, 302),
    "not_staff": (302, 302, 302, 302, 302),
    "owner": (200, 200, 302, 403, 403),
    "other": (200, 404, 404, 403, 403),
    "assigned": (302, 403, 403, 200, 200),
    "bystander": (302, 403, 403, 200, 404),
    "admin": (302, 200, 302, 200, 200),
}


@pytest.mark.parametrize("who", list(EXPECTED))
def test_permission_matrix(world, who, admin_user):
    user = {"anonymous": None, "not_staff": UserFactory(username="plain", is_staff=False), "admin": admin_user,
            **{k: world[k] for k in ("owner", "other", "assigned", "bystander")}}[who]
    client = as_user(user)
    got = []
    for name, page in PAGES.items():
        method, url = page(world)
        response = getattr(client, method)(url, {"start": "1"} if method == "post" else None)
        got.append(response.status_code)
        if response.status_code == 302 and who in ("anonymous", "not_staff"):
            assert "/admin/login/" in response["Location"], name
    assert tuple(got) == EXPECTED[who]
    started = CallRecord.objects.filter(booking_id=world["booking"].id).exists()
    assert started == (who in ("owner", "admin"))  # nobody else could start the call


def test_the_call_page_shows_what_the_representative_needs(world, now):
    page = as_user(world["owner"]).get(f"/console/calls/{world['booking'].id}/").content.decode()
    case = CaseFactory._meta.model.objects.get(pk=world["booking"].case_ref)
    for expected in (case.freelancer.first_name, case.public_reason, "Open the video room", "Start the call"):
        assert expected in page
    from scheduling.ics import presence_code

    started = as_user(world["owner"])
    started.post(f"/console/calls/{world['booking'].id}/action/", {"start": "1"})
    assert presence_code(world["booking"]) in started.get(f"/console/calls/{world['booking'].id}/").content.decode()


def test_the_timer_start_survives_a_reload_and_no_show_waits(world, now):
    import time_machine

    owner, booking = as_user(world["owner"]), world["booking"]
    with time_machine.travel(booking.starts_at, tick=False):
        owner.post(f"/console/calls/{booking.id}/action/", {"start": "1"})
        page = owner.get(f"/console/calls/{booking.id}/").content.decode()
        assert f'data-started="{booking.starts_at.isoformat()}"' in page
        assert 'value="FREELANCER_NO_SHOW" disabled' in page
    with time_machine.travel(booking.starts_at + timedelta(minutes=2), tick=False):
        page = owner.get(f"/console/calls/{booking.id}/").content.decode()
        assert f'data-started="{booking.starts_at.isoformat()}"' in page  # same start after a reload
        assert 'value="FREELANCER_NO_SHOW" disabled' not in page


def test_editing_hours_from_the_console_regenerates_slots(world, now, settings):
    settings.SLOT_HORIZON_DAYS = 21  # three Saturdays
    owner = as_user(world["owner"])
    before = WorkingHours.objects.filter(representative__user=world["owner"]).count()
    owner.post("/console/hours/add/", {"hours-weekday": "5", "hours-starts": "09:00", "hours-ends": "10:00"})
    assert WorkingHours.objects.filter(representative__user=world["owner"]).count() == before + 1
    assert Slot.objects.filter(representative__user=world["owner"], starts_at__week_day=7).count() == 3 * 12


def test_time_off_added_and_removed_from_the_console_takes_and_gives_back_bookable_times(world, now):
    owner, other = as_user(world["owner"]), as_user(world["other"])
    slots = Slot.objects.filter(representative__user=world["owner"])
    before = slots.count()
    page = owner.post("/console/time-off/add/", {"off-starts": "2026-03-03T09:00", "off-ends": "2026-03-03T12:00",
                                              "off-note": "dentist"}, follow=True).content.decode()
    assert "Tuesday 3 March 2026, 09:00 (Europe/London, GMT)" in page and "(dentist)" in page
    assert slots.count() < before
    [off] = TimeOff.objects.filter(representative__user=world["owner"])

    page = other.post("/console/time-off/remove/", {"remove": str(off.pk)}, follow=True).content.decode()
    assert "not on your list" in page  # someone else's time off: refused, nothing changes
    assert TimeOff.objects.filter(pk=off.pk).exists()

    page = owner.post("/console/time-off/remove/", {"remove": str(off.pk)}, follow=True).content.decode()
    assert "Your bookable times were updated" in page and "None planned." in page
    assert not TimeOff.objects.filter(pk=off.pk).exists()
    assert slots.count() == before


def test_staff_without_calls_of_their_own_start_at_the_review_queue(now, frozen_clock):
    RepresentativeFactory()
    staff = UserFactory(username="staff-only")
    staff.groups.add(Group.objects.get_or_create(name="Reviewers")[0])
    response = as_user(staff).get("/console/")
    assert response.status_code == 302 and response["Location"] == "/console/reviews/"


def test_garbage_on_the_console_forms_is_refused_and_changes_nothing(world):
    owner = as_user(world["owner"])
    before = WorkingHours.objects.count()
    for url, data in (("hours/remove/", {"remove": "'; drop table"}), ("hours/remove/", {"remove": "9" * 30}),
                      ("hours/add/", {"hours-weekday": "9", "hours-starts": "x"}),
                      ("time-off/add/", {"off-starts": "soon"}), ("time-off/remove/", {"remove": "x"})):
        response = owner.post(f"/console/{url}", data, follow=True)
        assert response.status_code == 200 and b"error" in response.content
    assert WorkingHours.objects.count() == before
    booking = world["booking"]
    owner.post(f"/console/calls/{booking.id}/action/", {"start": "1"})
    page = owner.post(f"/console/calls/{booking.id}/action/", {"outcome": "ALT_PATH", "need": "teleport"}, follow=True)
    assert "Pick which other route" in page.content.decode()
    page = owner.post(f"/console/calls/{booking.id}/action/", {"outcome": "ALT_PATH", "need": ""}, follow=True)
    assert "Pick which other route" in page.content.decode()  # not guessed for them
    assert CallRecord.objects.get(booking_id=booking.id).outcome == ""
    page = owner.post(f"/console/calls/{booking.id}/action/", {"outcome": "MADE_UP"}, follow=True)
    assert "Only a reviewer" in page.content.decode()


def test_another_route_records_the_need_the_representative_picked(world):
    owner, booking = as_user(world["owner"]), world["booking"]
    owner.post(f"/console/calls/{booking.id}/action/", {"start": "1"})
    page = owner.get(f"/console/calls/{booking.id}/").content.decode()
    assert '<option value="phone_only">' in page
    owner.post(f"/console/calls/{booking.id}/action/", {"outcome": "ALT_PATH", "need": "phone_only"})
    assert CallRecord.objects.get(booking_id=booking.id).outcome == "ALT_PATH"
    request = CaseRequest.objects.get(case_id=booking.case_ref)
    assert (request.kind, request.need, request.status) == ("ACCOMMODATION", "phone_only", "PENDING")
