"""The freelancer's journey in a real browser, from the notice email to a booked call and back."""

import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar
from playwright.sync_api import expect
from rest_framework.test import APIClient

from notifications.services import outbox_claim_due, outbox_send_batch
from scheduling.models import Booking, BookingStatus
from scheduling.selectors import availability_list
from tests.browser.conftest import assert_accessible, assert_fits_the_phone, screenshot
from tests.factories import CaseFactory
from tests.helpers import client_for, make_reps
from tests.notifications.processes import smtp_sink
from verification.deadlines.services import cases_notice_sent_record
from verification.links import freelancer_url
from verification.models import Case, CaseRequest, CaseStatus

pytestmark = [pytest.mark.django_db(transaction=True)]


def send_outbox() -> None:
    """What the worker and verification's beat task do: send what is due, start the grace periods."""
    outbox_send_batch(message_ids=outbox_claim_due(now=timezone.now(), limit=1000))
    cases_notice_sent_record(now=timezone.now())


@pytest.fixture
def live(live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server


def flag_through_the_api(api_key) -> str:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}")
    response = client.post("/api/v1/cases", {
        "freelancer": {"external_id": "fl-77", "email": "ana@example.com", "name": "Ana Lima",
                       "timezone": "America/Sao_Paulo", "language": "en"},  # English here: test_languages_journey
        "reason_code": "profile_details", "public_reason": "The name on your profile differs from your payout account.",
        "profile_claims": [{"field": "country", "value": "Brazil"}], "standing": {"badges": ["Top Rated"]},
    }, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_from_the_notice_email_to_a_booked_call_and_back(live, page, api_key, settings):
    make_reps(2, now=timezone.now())
    with smtp_sink() as (sink, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        case_id = flag_through_the_api(api_key)
        send_outbox()
        [notice] = sink.wait_for(1)
    link = re.search(r"http://\S+/c/\S+/", notice.get_body(preferencelist=("plain",)).get_content()).group(0)
    assert link.startswith(live.url)

    # the case page: why, by when, what is affected, how the call works
    page.goto(link)
    assert page.get_by_role("heading", name="Hello Ana").is_visible()
    body = page.inner_text("main")
    for expected in ("This is a check, not a penalty", "America/Sao_Paulo", "submitting proposals works as normal",
                     "no camera needed", "Nothing about your appearance is recorded"):
        assert expected in body
    expect(page.locator(".countdown")).to_have_text(re.compile(r"\d+ days?, \d+ hours?"))  # the live countdown
    assert_accessible(page)
    assert_fits_the_phone(page)
    screenshot(page, "case")

    # book the earliest time
    page.get_by_role("link", name="Pick a time").click()
    assert page.get_by_label("Time zone").input_value() == "America/Sao_Paulo"
    assert_accessible(page)
    assert_fits_the_phone(page)
    loaded = timezone.now()
    earliest = page.locator("input[name=starts_at]").first
    chosen = earliest.get_attribute("value")
    offered = page.locator("input[name=starts_at]").evaluate_all("inputs => inputs.map(i => i.value)")
    assert chosen == min(offered)  # earliest first
    # and nothing free before it that the page should have shown (its window began by loaded + 1 h)
    chosen_at = datetime.fromisoformat(chosen.replace("Z", "+00:00"))
    assert availability_list(start=loaded + timedelta(hours=1), end=chosen_at) == []
    earliest.check()
    page.get_by_role("button", name=re.compile("^Book ")).click()
    assert "Your call is booked" in page.inner_text("main")
    booking = Booking.objects.get(case_ref=case_id, status=BookingStatus.ACTIVE)
    assert booking.starts_at.isoformat().replace("+00:00", "Z") == chosen
    assert_accessible(page)

    # download the invite and read it back
    with page.expect_download() as download:
        page.get_by_role("link", name="Add to calendar (.ics)").click()
    calendar = Calendar.from_ical(open(download.value.path(), "rb").read())
    assert str(calendar["METHOD"]) == "REQUEST"
    assert calendar.walk("VEVENT")[0].decoded("DTSTART") == booking.starts_at

    # reschedule to the next time
    page.get_by_role("link", name=re.compile("move or cancel")).click()
    page.get_by_role("link", name=re.compile("Move it")).click()
    page.locator("#day-times input[name=starts_at]").nth(1).check()  # the day's second time shown
    page.get_by_role("button", name=re.compile("^Move to ")).click()
    assert "Your call was moved" in page.inner_text("main")
    booking.refresh_from_db()
    assert booking.sequence == 1 and booking.starts_at.isoformat().replace("+00:00", "Z") != chosen

    # cancel: asked once more first
    page.get_by_role("link", name=re.compile("move or cancel")).click()
    page.locator("summary", has_text="Cancel the call").click()
    assert "You will need to book a new time before your deadline" in page.inner_text("main")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.ACTIVE
    screenshot(page, "cancel-confirm")
    page.get_by_role("button", name="Yes, cancel the call").click()
    assert "Your call is cancelled" in page.inner_text("main")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert Case.objects.get(pk=case_id).status == CaseStatus.OPEN

    # ask for an accommodation: the freeze is paused
    page.get_by_role("link", name=re.compile("Ask for an accommodation")).click()
    assert_accessible(page)
    screenshot(page, "accommodation")
    page.get_by_role("button", name="Send my request").click()
    assert "Choose what you need." in page.inner_text("main")  # an error that says what to change
    page.get_by_label("I have no camera").check()
    page.get_by_label("Anything we should know (optional)").fill("My laptop has no webcam")
    page.get_by_role("button", name="Send my request").click()
    assert "submitting proposals will not be paused" in page.inner_text("main")
    assert CaseRequest.objects.get(case_id=case_id).note == "My laptop has no webcam"

    # the one self-service extension: a new deadline
    before = Case.objects.get(pk=case_id).deadline_at
    page.get_by_role("button", name="Give me 3 more days").click()
    assert "Your deadline was extended" in page.inner_text("main")
    assert Case.objects.get(pk=case_id).deadline_at == before + timedelta(days=3)
    assert page.get_by_role("button", name="Give me 3 more days").count() == 0


def test_a_time_taken_between_page_load_and_submit(live, page):
    make_reps(1, now=timezone.now())
    now = timezone.now()
    case = CaseFactory(notice_sent_at=now, deadline_at=now + timedelta(days=7))
    page.goto(freelancer_url(case) + "book/")
    first = page.locator("input[name=starts_at]").first
    taken = first.get_attribute("value")
    # someone else books that exact time while this page is open
    rival = CaseFactory(notice_sent_at=now, deadline_at=now + timedelta(days=7))
    assert client_for(rival).post("/api/v1/case/booking", {"starts_at": taken}, format="json").status_code == 201
    first.check()
    page.get_by_role("button", name=re.compile("^Book ")).click()
    text = page.inner_text("main")
    assert "That time was just taken" in text and "Free times soon after it" in text
    assert not Booking.objects.filter(case_ref=case.id).exists()
    assert_accessible(page)
    screenshot(page, "slot-taken")
    # one of the free times soon after it is one tap away, and the confirm is next to it
    soon = page.get_by_role("radiogroup", name="Free times soon after it")
    alternative = soon.get_by_role("radio").first
    alternative.check()
    value = alternative.get_attribute("value")
    page.get_by_role("button", name=re.compile("^Book ")).click()
    assert "Your call is booked" in page.inner_text("main")
    assert Booking.objects.get(case_ref=case.id).starts_at.isoformat().replace("+00:00", "Z") == value


def test_an_expired_link_gets_a_friendly_page(live, page):
    now = timezone.now()
    ended = CaseFactory(status=CaseStatus.WITHDRAWN, notice_sent_at=now - timedelta(days=60),
                        deadline_at=now - timedelta(days=53), closed_at=now - timedelta(days=40))
    response = page.goto(freelancer_url(ended))
    assert response.status == 410
    assert page.get_by_role("heading", name="This link has expired").is_visible()
    assert "send you a new link" in page.inner_text("main")
    assert_accessible(page)
    screenshot(page, "expired-link")
