"""In a real browser: a representative makes their calendar feed link and copies it (the feed then
parses as a calendar); a freelancer opens an "earlier time" offer and moves their call."""

from datetime import time, timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from icalendar import Calendar
from playwright.sync_api import expect

from scheduling.models import Booking, WorkingHours
from scheduling.selectors import availability_list
from scheduling.services.slots import representative_slots_sync
from tests.browser.conftest import assert_accessible, assert_fits_the_phone, screenshot
from tests.factories import CaseFactory, RepresentativeFactory, UserFactory
from verification.links import freelancer_token
from verification.models import EarlierTimeOffer
from verification.services.bookings import case_booking_cancel, case_booking_create, case_earlier_times_set

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def rep(db):
    now = timezone.now()
    rep = RepresentativeFactory(user=UserFactory(username="noor", password="noor-pass-1"), timezone="UTC")
    for day in range(7):
        WorkingHours.objects.create(representative=rep, weekday=day, starts=time(0, 0), ends=time(23, 55))
    representative_slots_sync(representative_id=rep.pk, now=now)
    return rep


def test_a_representative_makes_and_copies_their_calendar_feed_link(live_server, page, rep):
    now = timezone.now()
    case = CaseFactory()
    starts_at = availability_list(start=now + timedelta(hours=2), end=now + timedelta(days=2))[0]
    booking = case_booking_create(case_id=case.id, starts_at=starts_at, actor="freelancer", now=now)

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/admin/login/?next=/console/")
    page.get_by_label("Username").fill("noor")
    page.get_by_label("Password").fill("noor-pass-1")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Make my feed link").click()
    expect(page.get_by_role("heading", name="Your calendar feed link")).to_be_visible()
    address = page.get_by_label("Calendar feed address").input_value()
    page.get_by_role("button", name="Copy the address").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "console-calendar-feed")
    assert_fits_the_phone(page)  # screenshot() leaves the page at phone width

    feed = page.request.get(live_server.url + urlsplit(address).path)
    assert feed.status == 200 and feed.headers["cache-control"] == "private, no-store"
    (event,) = Calendar.from_ical(feed.body()).walk("VEVENT")
    assert str(event["UID"]) == f"{booking.id}@verification-calls"

    page.goto(f"{live_server.url}/console/")
    expect(page.get_by_text("Your feed link is on")).to_be_visible()
    assert_accessible(page)


def test_a_freelancer_takes_an_earlier_time_from_the_offer_link(live_server, page, rep):
    now = timezone.now()
    free = availability_list(start=now + timedelta(hours=2), end=now + timedelta(days=2))
    early, late = free[0], free[-1]
    holder, waiting = CaseFactory(), CaseFactory()
    case_booking_create(case_id=holder.id, starts_at=early, actor="freelancer", now=now)
    case_booking_create(case_id=waiting.id, starts_at=late, actor="freelancer", now=now)
    case_earlier_times_set(case_id=waiting.id, wanted=True, actor="freelancer", now=now)
    case_booking_cancel(case_id=holder.id, actor="freelancer", now=now)
    offer = EarlierTimeOffer.objects.get(case=waiting)

    page.goto(f"{live_server.url}/c/{freelancer_token(waiting)}/earlier/{offer.pk}/")
    expect(page.get_by_role("heading", name="An earlier time opened")).to_be_visible()
    assert_accessible(page)
    assert_fits_the_phone(page)
    screenshot(page, "earlier-time-offer")
    page.get_by_role("button", name="Move my call to").click()

    expect(page.get_by_role("heading", name="Your call was moved")).to_be_visible()
    assert Booking.objects.get(case_ref=waiting.id, status="ACTIVE").starts_at == early
