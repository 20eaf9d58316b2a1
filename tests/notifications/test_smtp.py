"""A real SMTP round trip on loopback: what the freelancer's mail server actually receives."""

import pytest
from icalendar import Calendar

from tests.factories import CaseFactory
from tests.helpers import client_for, send_due
from tests.notifications.processes import smtp_sink

pytestmark = pytest.mark.django_db


def test_booking_confirmation_through_a_real_smtp_server(reps, now, frozen_clock, settings):
    case = CaseFactory(freelancer__name="Siobhán O'Brien", freelancer__email="siobhan@example.com")
    with smtp_sink() as (sink, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-04T10:00:00Z"}, format="json")
        assert send_due(now) == {"sent": 1}
        [message] = sink.wait_for(1)
    assert message["To"] == "siobhan@example.com"
    assert message["From"] == "Verification <verify@localhost>"
    assert message["Subject"] == ("Your verification call is booked: Wednesday 4 March 2026, 15:30 "
                                  "(Asia/Kolkata, IST)")
    assert message["Message-ID"].startswith("<outbox-") and message["X-Verification-Kind"] == "booking_confirmed"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Hello Siobhán," in text and "&#x27;" not in text  # plain text is not HTML-escaped
    assert "Join by video" in html and "https://meet.jit.si/verify-" in text
    [invite] = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    assert invite.get_param("method") == "REQUEST"
    assert invite.get_filename() == "invite.ics"
    calendar = Calendar.from_ical(invite.get_content())
    assert str(calendar["METHOD"]) == "REQUEST"
    event = calendar.walk("VEVENT")[0]
    assert str(event["ATTENDEE"]) == "mailto:siobhan@example.com" and int(event["SEQUENCE"]) == 0
