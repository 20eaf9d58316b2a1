"""The freelancer's journey in Brazilian Portuguese and in Arabic (right to left), in a real browser,
from the notice email (a real SMTP sink) to a booked call: every page in their language whatever the
browser says, the layout mirrored for Arabic at 360 px and 1280 px, axe-core clean, and the emails
and invite in their language. Screenshots go to docs/screenshots/ (docs/languages.md shows them).

The texts checked are what the catalogue gives for the language, so the journey holds before and
after the translators' work; tests/test_translations.py checks the catalogues are complete."""

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext
from icalendar import Calendar
from rest_framework.test import APIClient

from notifications.services import outbox_claim_due, outbox_send_batch
from notifications.timefmt import local_time
from scheduling.models import Booking, BookingStatus
from tests.browser.conftest import LAPTOP, PHONE, assert_accessible, assert_fits_the_phone
from tests.helpers import make_reps
from tests.notifications.processes import smtp_sink
from verification.deadlines.services import cases_notice_sent_record
from verification.models import AuditEvent, Case

pytestmark = [pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDER_THAN = """w => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > w + 1 || e.scrollWidth > e.clientWidth + 1)
    .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 8)"""


def t(language: str, text: str) -> str:
    with translation.override(language):
        return gettext(text)


def send_outbox() -> None:
    outbox_send_batch(message_ids=outbox_claim_due(now=timezone.now(), limit=1000))
    cases_notice_sent_record(now=timezone.now())


def shoot(page, name: str) -> None:
    """docs/screenshots/<name>-phone.png and -laptop.png (360 px and 1280 px)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("phone", PHONE), ("laptop", LAPTOP)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(PHONE)


def flag(api_key, *, language: str, name: str, zone: str) -> str:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}")
    answer = client.post("/api/v1/cases", {
        "freelancer": {"external_id": f"fl-{language}", "email": f"{language.lower()}@example.com", "name": name,
                       "timezone": zone, "language": language},
        "reason_code": "profile_details", "public_reason": "The name on your profile differs from your payout account.",
        "profile_claims": [{"field": "country", "value": "Brazil"}], "standing": {"badges": ["Top Rated"]},
    }, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()["id"]


def plain(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def check_layout(page, *, rtl: bool) -> None:
    """<html lang dir>, and the header mirrored: the brand at the start, the switcher at the end,
    at phone and laptop width."""
    direction = page.evaluate("getComputedStyle(document.documentElement).direction")
    assert direction == ("rtl" if rtl else "ltr")
    for size in (PHONE, LAPTOP):
        page.set_viewport_size(size)
        brand = page.locator("header.site .brand").bounding_box()
        switcher = page.locator("header.site .language-switcher").bounding_box()
        if rtl:  # the brand at the right edge, the switcher ending at the left one
            assert brand["x"] + brand["width"] > size["width"] - 40, "the brand starts on the right"
            assert switcher["x"] < 40 and switcher["x"] <= brand["x"]
        else:
            assert brand["x"] < 40, "the brand starts on the left"
            assert switcher["x"] + switcher["width"] > size["width"] - 40
            assert switcher["x"] + switcher["width"] >= brand["x"] + brand["width"]
        wide = page.evaluate(WIDER_THAN, size["width"])
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"], f"horizontal scrolling: {wide}"
    page.set_viewport_size(PHONE)


def journey(live, page, api_key, settings, *, language: str, code: str, name: str, zone: str, rtl: bool,
            spoken: bool):
    make_reps(2, now=timezone.now(), languages=["en", "pt-BR"])
    with smtp_sink() as (sink, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        case_id = flag(api_key, language=language, name=name, zone=zone)
        send_outbox()
        [notice] = sink.wait_for(1)
        case = Case.objects.get(pk=case_id)

        # the notice: in their language, says so, the deadline in their words and zone
        assert notice["Content-Language"] == code
        deadline = local_time(case.deadline_at, zone, code)
        with translation.override(code):
            subject = gettext("Please confirm your profile by %(deadline)s") % {"deadline": deadline}
        assert " ".join(str(notice["Subject"]).split()) == " ".join(subject.split())
        assert deadline in plain(notice)
        link = re.search(r"http://\S+/c/\S+/", plain(notice)).group(0)

        # the case page (the browser asks for English: the marketplace's language wins)
        page.goto(link)
        assert page.evaluate("document.documentElement.lang") == code
        assert page.evaluate("document.documentElement.dir") == ("rtl" if rtl else "ltr")
        body = page.inner_text("main")
        assert t(code, "This is a check, not a penalty. Your badges and standing are not touched.") in body
        assert deadline in body
        check_layout(page, rtl=rtl)
        assert_accessible(page)
        assert_fits_the_phone(page)
        shoot(page, f"languages-{code}-case")

        # pick a time
        page.get_by_role("link", name=t(code, "Pick a time")).first.click()
        page.wait_for_url(re.compile(r"/book/"))
        page.wait_for_load_state()
        assert page.evaluate("document.documentElement.lang") == code
        notice_shown = page.locator("#no-speaker").count() == 1
        assert notice_shown == (not spoken)
        if not spoken:  # nobody holds calls in it: said in their language, with the interpreter offer
            assert page.get_by_role("link", name=t(code, "Ask for an interpreter")).is_visible()
        check_layout(page, rtl=rtl)
        assert_accessible(page)
        assert_fits_the_phone(page)
        # a time that stays bookable while the checks below run: one at the edge of the booking
        # notice is too soon seconds later (the page then says so, with a 400: CI saw it once)
        times = page.locator("input[name=starts_at]")
        safe = timezone.now() + timedelta(minutes=settings.BOOKING_MIN_NOTICE_MINUTES + 2)
        pick = next(times.nth(i) for i in range(times.count())
                    if datetime.fromisoformat(times.nth(i).get_attribute("value").replace("Z", "+00:00")) > safe)
        chosen = pick.get_attribute("value")
        pick.check()
        assert_accessible(page)
        shoot(page, f"languages-{code}-book")
        page.locator("form.pick:has(input[name=starts_at]:checked) .confirm button").click()
        page.wait_for_url(re.compile(r"/booked/"))

        # booked
        assert page.get_by_role("heading", name=t(code, "Your call is booked")).is_visible()
        booking = Booking.objects.get(case_ref=case_id, status=BookingStatus.ACTIVE)
        assert booking.starts_at.isoformat().replace("+00:00", "Z") == chosen
        assert local_time(booking.starts_at, zone, code) in page.inner_text("main")
        check_layout(page, rtl=rtl)
        assert_accessible(page)
        shoot(page, f"languages-{code}-booked")

        # the confirmation email and its invite, in their language
        send_outbox()
        confirmation = sink.wait_for(2)[1]
        assert confirmation["Content-Language"] == code
        assert local_time(booking.starts_at, zone, code) in plain(confirmation)
        [invite] = [part for part in confirmation.walk() if part.get_content_type() == "text/calendar"]
        event = Calendar.from_ical(invite.get_payload(decode=True)).walk("VEVENT")[0]
        assert str(event["summary"]) == t(code, "Identity verification call (about 3 minutes)")
    return case_id


def test_portuguese_from_the_notice_to_a_booked_call_then_switch_to_spanish(live_server, page, api_key, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    case_id = journey(live_server, page, api_key, settings, language="pt-BR", code="pt-br", name="Ana Lima",
                      zone="America/Sao_Paulo", rtl=False, spoken=True)
    # the switcher, on every page: remembered on the case, audited
    page.get_by_label(t("pt-br", "Language")).select_option("es")
    page.get_by_role("button", name=t("pt-br", "Change language")).click()
    page.wait_for_function("document.documentElement.lang === 'es'")
    assert Case.objects.get(pk=case_id).language_choice == "es"
    assert AuditEvent.objects.filter(case_id=case_id, action="language_chosen").count() == 1
    assert page.get_by_role("heading", name=t("es", "Your call is booked")).is_visible()


def test_arabic_right_to_left_from_the_notice_to_a_booked_call(live_server, page, api_key, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    journey(live_server, page, api_key, settings, language="ar", code="ar", name="Layla Haddad",
            zone="Africa/Cairo", rtl=True, spoken=False)

