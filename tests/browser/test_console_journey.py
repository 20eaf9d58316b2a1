"""A representative in a real browser: log in, open the next call, complete the checklist, record
VERIFIED, and the marketplace's eligibility answer flips."""

from datetime import time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from rest_framework.test import APIClient

from scheduling.models import WorkingHours
from scheduling.selectors import availability_list
from scheduling.services.bookings import booking_create
from scheduling.services.slots import representative_slots_sync
from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import CaseFactory, RepresentativeFactory, UserFactory
from verification.models import Case, CaseStatus

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_a_representative_completes_the_checklist_and_the_freelancer_is_unfrozen(live_server, page, api_key):
    now = timezone.now()
    rep = RepresentativeFactory(user=UserFactory(username="maya", password="maya-pass-1"), timezone="UTC")
    for day in range(7):
        WorkingHours.objects.create(representative=rep, weekday=day, starts=time(0, 0), ends=time(23, 55))
    representative_slots_sync(representative_id=rep.pk, now=now)
    # a freelancer whose proposals were frozen, who then booked a call starting in a moment
    case = CaseFactory(status=CaseStatus.SCHEDULED, notice_sent_at=now - timedelta(days=9),
                       deadline_at=now - timedelta(days=2), frozen_at=now - timedelta(days=2),
                       profile_claims=[{"field": "country", "value": "Brazil"}])
    starts_at = availability_list(start=now + timedelta(minutes=1), end=now + timedelta(hours=2))[0]
    booking = booking_create(case_ref=case.id, starts_at=starts_at, attendee_email="ana@example.com",
                             attendee_name="Ana Lima", now=now)
    marketplace = APIClient()
    marketplace.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}")
    eligibility = f"/api/v1/freelancers/{case.freelancer.external_id}/eligibility"
    assert marketplace.get(eligibility).json()["can_submit_proposals"] is False

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/admin/login/?next=/console/")
    page.get_by_label("Username").fill("maya")
    page.get_by_label("Password").fill("maya-pass-1")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("heading", name=f"Today, {rep.display_name}").is_visible()
    assert_accessible(page)
    screenshot(page, "console-today")

    if page.get_by_role("link", name="Open the call").count():
        page.get_by_role("link", name="Open the call").click()
    else:  # the call falls just after midnight UTC: it is tomorrow's first
        page.goto(f"{live_server.url}/console/calls/{booking.id}/")
    page.get_by_role("button", name="Start the call and the 3-minute timer").click()
    expect(page.locator(".timer")).to_contain_text("left of three minutes")  # once the script has run
    for fieldset in page.locator("fieldset").all()[:-1]:  # every checklist question: its first answer
        fieldset.locator("input[type=radio]").first.check()
    assert_accessible(page)
    screenshot(page, "console-call")
    page.get_by_label("Verified", exact=True).check()
    page.get_by_role("button", name="Save").click()
    assert "Outcome recorded" in page.inner_text("main")

    case.refresh_from_db()
    assert case.status == CaseStatus.VERIFIED and case.standing_restored_at is not None
    assert marketplace.get(eligibility).json()["can_submit_proposals"] is True
    assert Case.objects.get(pk=case.id).frozen_at is None
