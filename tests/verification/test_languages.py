"""The freelancer's language: the order of choice, the switcher (remembered on the case, audited),
emails and invites in the case's language, the interpreter offer when nobody speaks it, staff's own
language, and API errors that follow Accept-Language while their codes stay English.

These tests hold whatever the catalogues contain: where a text of ours is checked, it is compared
with what the catalogue gives for that language (tests/test_translations.py checks the catalogues
are complete); Babel's dates and Django's and DRF's own catalogues show a language is really active."""

import re
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.utils import translation
from icalendar import Calendar

from notifications.models import MessageStatus, OutboxMessage
from scheduling.errors import SlotTaken
from scheduling.models import Booking
from tests.factories import CaseFactory, FreelancerFactory
from tests.helpers import client_for, make_reps, send_due
from verification.errors import LanguageNotOffered
from verification.languages import case_language, language_from_header, language_supported
from verification.links import freelancer_token
from verification.messages import case_email_for_change
from verification.models import AuditEvent, Case
from verification.services.languages import case_language_choose

pytestmark = pytest.mark.django_db


def url(case, path: str = "") -> str:
    return f"/c/{freelancer_token(case)}/{path}"


def in_language(language: str, text) -> str:
    """What the catalogue gives for `text` (a msgid, or a lazy text) in `language`."""
    with translation.override(language):
        return translation.gettext(text) if isinstance(text, str) else str(text)


# --- the order of choice -----------------------------------------------------------------------

@pytest.mark.parametrize(("tag", "code"), [
    ("pt-BR", "pt-br"), ("pt", "pt-br"), ("es-MX", "es"), ("zh-CN", "zh-hans"), ("zh", "zh-hans"), ("tl", "fil"),
    ("fil-PH", "fil"), ("ar-EG", "ar"), ("uk-UA", "uk"), ("EN", "en"), ("de", None), ("", None), ("*", None),
])
def test_a_marketplace_or_browser_tag_maps_to_a_language_we_ship(tag, code):
    assert language_supported(tag) == code


def test_order_of_choice_page_choice_then_marketplace_then_browser_then_english():
    case = CaseFactory(freelancer=FreelancerFactory(language="pt-BR"))
    header = "de-DE,de;q=0.9,fr;q=0.8"
    assert language_from_header(header) == "fr"
    assert case_language(case, accept_language=header) == "pt-br"  # the marketplace's beats the browser's
    case.language_choice = "ar"
    assert case_language(case, accept_language=header) == "ar"  # the freelancer's own choice beats both
    case.language_choice, case.freelancer.language = "", "de"  # a language we do not ship is skipped
    assert case_language(case, accept_language=header) == "fr"
    assert case_language(case, accept_language="de, ja;q=0.5") == "en"
    assert case_language(case) == "en"


def test_the_page_follows_the_order_and_says_which_language_it_is_in(client, reps, now, frozen_clock):
    case = CaseFactory(freelancer=FreelancerFactory(language="pt-BR", timezone="America/Sao_Paulo"))
    page = client.get(url(case), HTTP_ACCEPT_LANGUAGE="fr")
    text = page.content.decode()
    assert page.status_code == 200 and page["Content-Language"] == "pt-br"
    assert '<html lang="pt-br" dir="ltr">' in text
    assert "segunda-feira, 9 de março de 2026" in text  # the deadline, Babel's Portuguese, in their zone
    assert in_language("pt-br", "Your identity check") in text

    english = CaseFactory(freelancer=FreelancerFactory(language="xx"))
    page = client.get(url(english), HTTP_ACCEPT_LANGUAGE="uk-UA,uk;q=0.9")
    assert page["Content-Language"] == "uk" and "березня 2026" in page.content.decode()
    assert client.get(url(english))["Content-Language"] == "en"


# --- the switcher ------------------------------------------------------------------------------

def test_the_switcher_remembers_the_choice_on_the_case_audits_it_and_goes_back(client, reps, now, frozen_clock):
    case = CaseFactory(freelancer=FreelancerFactory(language="pt-BR"))
    page = client.get(url(case, "book/")).content.decode()
    assert f'action="{url(case, "language/")}"' in page and 'lang="ar"' in page  # on every page, names in own script

    answer = client.post(url(case, "language/"), {"language": "ar", "next": url(case, "book/")})
    assert answer.status_code == 302 and answer["Location"] == url(case, "book/")
    case.refresh_from_db()
    assert case.language_choice == "ar"
    [event] = AuditEvent.objects.filter(case=case, action="language_chosen")
    assert event.actor == "freelancer" and event.after == {"language_choice": "ar"}
    assert event.before == {"language_choice": "", "language": "pt-br"}
    page = client.get(url(case, "book/"), HTTP_ACCEPT_LANGUAGE="pt-BR")
    assert page["Content-Language"] == "ar" and '<html lang="ar" dir="rtl">' in page.content.decode()


def test_the_switcher_refuses_an_unknown_language_or_a_foreign_next_and_changes_nothing(client, reps, now,
                                                                                       frozen_clock):
    case = CaseFactory()
    version = case.version
    answer = client.post(url(case, "language/"), {"language": "xx", "next": "https://evil.example/"})
    assert answer.status_code == 302 and answer["Location"] == url(case)
    case.refresh_from_db()
    assert case.language_choice == "" and case.version == version
    assert not AuditEvent.objects.filter(case=case, action="language_chosen").exists()
    with pytest.raises(LanguageNotOffered):
        case_language_choose(case_id=case.id, language="de", actor="freelancer", now=now)


def test_choosing_the_same_language_again_writes_nothing(now):
    case = CaseFactory()
    case_language_choose(case_id=case.id, language="fr", actor="freelancer", now=now)
    case_language_choose(case_id=case.id, language="fr", actor="freelancer", now=now)
    assert AuditEvent.objects.filter(case=case, action="language_chosen").count() == 1


# --- emails and invites --------------------------------------------------------------------------

def test_an_email_is_written_in_the_case_language_and_says_so(now):
    case = CaseFactory(freelancer=FreelancerFactory(language="pt-BR", timezone="America/Sao_Paulo"))
    case_email_for_change(case, kind="frozen", now=now)
    send_due(now)
    [email] = mail.outbox
    html = email.alternatives[0][0]
    assert email.extra_headers["Content-Language"] == "pt-br"
    assert email.subject == in_language("pt-br", "Submitting proposals is paused until you confirm your profile")
    assert '<html lang="pt-br" dir="ltr">' in html
    assert in_language("pt-br", "Submitting proposals is paused") in html


def test_a_language_chosen_later_applies_to_emails_still_waiting(now):
    case = CaseFactory(freelancer=FreelancerFactory(language="pt-BR", timezone="Asia/Kolkata"))
    case_email_for_change(case, kind="deadline_extended", now=now, due_at=now.replace(hour=18))
    [waiting] = OutboxMessage.objects.filter(case_ref=case.id, status=MessageStatus.PENDING)
    assert waiting.context["language"] == "pt-br"
    case_language_choose(case_id=case.id, language="ar", actor="freelancer", now=now)
    waiting.refresh_from_db()
    assert waiting.context["language"] == "ar"
    assert waiting.context["reason_category"] == in_language("ar", case.get_reason_code_display())
    send_due(now.replace(hour=18))
    [email] = mail.outbox
    assert email.extra_headers["Content-Language"] == "ar"
    assert '<html lang="ar" dir="rtl">' in email.alternatives[0][0]
    assert "٢٠٢٦" in email.body or "2026" in email.body  # Babel's Arabic date (digits as CLDR writes them)
    assert "مارس" in email.body  # March, in Arabic


def test_the_booking_confirmation_and_its_invite_are_in_the_case_language(client, now, frozen_clock):
    make_reps(1, now=now)
    case = CaseFactory(freelancer=FreelancerFactory(language="fr", timezone="Europe/Paris"))
    assert client.post(url(case, "book/"), {"starts_at": "2026-03-02T13:00:00Z"}).status_code == 302
    send_due(now)
    [email] = mail.outbox
    assert email.extra_headers["Content-Language"] == "fr" and "lundi 2 mars 2026" in email.body
    [invite] = [part for part in email.attachments if not isinstance(part, tuple)
                and part.get_content_type() == "text/calendar"]
    event = Calendar.from_ical(invite.get_payload(decode=True)).walk("VEVENT")[0]
    assert str(event["summary"]) == in_language("fr", "Identity verification call (about 3 minutes)")
    download = client.get(url(case, "invite.ics"))
    assert download["Content-Language"] == "fr"
    event = Calendar.from_ical(download.content).walk("VEVENT")[0]
    assert str(event["summary"]) == in_language("fr", "Identity verification call (about 3 minutes)")


def test_a_deadline_extension_reason_of_ours_is_told_in_their_language_and_audited_in_english(now):
    from verification.deadlines.services import case_extension_request

    case = CaseFactory(freelancer=FreelancerFactory(language="es"), deadline_at=datetime(2026, 3, 5, tzinfo=UTC))
    case_extension_request(case_id=case.id, actor="freelancer", now=now)
    event = AuditEvent.objects.get(case=case, action="deadline_extended")
    days = case.policy.self_extension_days
    assert event.reason == f"Self-service extension of {days} days."
    message = OutboxMessage.objects.get(case_ref=case.id, kind="deadline_extended")
    with translation.override("es"):
        from django.utils.translation import gettext
        expected = gettext("Self-service extension of %(days)s days.") % {"days": days}
    assert message.context["reason"] == expected and message.context["language"] == "es"


# --- matching: nobody speaks it ------------------------------------------------------------------

def test_when_nobody_speaks_their_language_the_page_says_so_and_offers_an_interpreter(client, now, frozen_clock):
    make_reps(2, now=now, languages=["en", "es"])
    case = CaseFactory(freelancer=FreelancerFactory(language="pt-BR"))
    page = client.get(url(case, "book/")).content.decode()
    assert 'id="no-speaker"' in page
    assert f'{url(case, "accommodation/")}?need=interpreter' in page
    with translation.override("pt-br"):
        from django.utils.translation import gettext
        assert gettext("Ask for an interpreter") in page
    assert "Português" in page  # the language named in its own language
    form = client.get(url(case, "accommodation/") + "?need=interpreter").content.decode()
    [radio] = re.findall(r'<input[^>]*value="interpreter"[^>]*>', form)
    assert " checked" in radio  # preselected


def test_no_interpreter_notice_when_a_representative_speaks_it(client, now, frozen_clock):
    make_reps(1, now=now, languages=["pt-BR"])
    case = CaseFactory(freelancer=FreelancerFactory(language="pt-BR"))
    assert 'id="no-speaker"' not in client.get(url(case, "book/")).content.decode()
    spanish = CaseFactory(freelancer=FreelancerFactory(language="es"))
    assert 'id="no-speaker"' in client.get(url(spanish, "book/")).content.decode()


# --- staff ---------------------------------------------------------------------------------------

def test_staff_pick_their_own_language_in_the_console(client, now):
    rep_user = make_reps(1, now=now)[0].user
    client.force_login(rep_user)
    page = client.get("/console/").content.decode()
    assert 'action="/i18n/setlang/"' in page
    answer = client.post("/i18n/setlang/", {"language": "uk", "next": "/console/"})
    assert answer.status_code == 302 and answer["Location"] == "/console/"
    page = client.get("/console/")
    assert page["Content-Language"] == "uk" and '<html lang="uk" dir="ltr">' in page.content.decode()


def test_a_staff_language_does_not_change_the_freelancer_pages(client, reps, now, frozen_clock):
    client.cookies["staff_language"] = "ru"
    case = CaseFactory(freelancer=FreelancerFactory(language="es"))
    assert client.get(url(case))["Content-Language"] == "es"


# --- the API ---------------------------------------------------------------------------------------

def test_api_detail_follows_accept_language_and_the_code_stays_english(now, frozen_clock):
    make_reps(1, now=now)
    case = CaseFactory()
    api = client_for(case)
    first = api.post("/api/v1/case/booking", {"starts_at": "2026-03-02T13:00:00Z"}, format="json")
    assert first.status_code == 201
    other = CaseFactory()
    taken = client_for(other).post("/api/v1/case/booking", {"starts_at": "2026-03-02T13:00:00Z"}, format="json",
                                   HTTP_ACCEPT_LANGUAGE="pt-BR")
    assert taken.status_code == 409 and taken["Content-Language"] == "pt-br"
    body = taken.json()
    assert body["code"] == "slot_taken"
    assert body["detail"] == in_language("pt-br", SlotTaken.detail)
    assert Booking.objects.filter(case_ref=other.id).count() == 0

    # DRF's own field messages are translated already: proof the language reached the serializer
    missing = client_for(other).post("/api/v1/case/booking", {}, format="json", HTTP_ACCEPT_LANGUAGE="pt-BR")
    assert missing.status_code == 400 and missing.json()["code"] == "invalid"
    assert missing.json()["fields"]["starts_at"] == ["Este campo é obrigatório."]
    english = client_for(other).post("/api/v1/case/booking", {}, format="json")
    assert english.json()["fields"]["starts_at"] == ["This field is required."]


def test_a_marketplace_request_in_french_gets_french_field_errors_and_english_codes(marketplace):
    answer = marketplace.post("/api/v1/cases", {}, format="json", HTTP_ACCEPT_LANGUAGE="fr")
    assert answer.status_code == 400 and answer.json()["code"] == "invalid"
    assert "Ce champ est obligatoire." in str(answer.json()["fields"])
    assert Case.objects.count() == 0

