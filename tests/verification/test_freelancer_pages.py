"""The freelancer's pages through the test client: every state renders, every error says what to do."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from notifications.timefmt import wall_clock
from scheduling.models import Booking, BookingStatus
from tests.factories import CaseFactory
from tests.helpers import client_for
from verification.links import freelancer_token
from verification.models import CaseRequest, CaseStatus

pytestmark = pytest.mark.django_db
FIRST = "2026-03-02T13:00:00Z"


def url(case, path: str = "") -> str:
    return f"/c/{freelancer_token(case)}/{path}"


def test_case_page_explains_why_by_when_and_how(client, reps, case, frozen_clock):
    page = client.get(url(case))
    assert page.status_code == 200
    text = page.content.decode()
    for expected in ("Details on your profile need confirming", case.public_reason, "This is a check, not a penalty",
                     "Monday 9 March 2026, 17:30 (Asia/Kolkata, IST)", "submitting proposals works as normal",
                     "About three minutes", "no camera needed", "Nothing about your appearance is recorded",
                     "What is kept", "Pick a time"):
        assert expected in text, expected


def test_booking_from_the_page_then_move_and_cancel(client, reps, case, frozen_clock):
    page = client.get(url(case, "book/"))
    assert page.status_code == 200 and "18:30" in page.content.decode()  # 13:00Z in Kolkata
    done = client.post(url(case, "book/"), {"starts_at": FIRST})
    assert done.status_code == 302 and done["Location"] == url(case, "booked/")
    [booking] = Booking.objects.filter(case_ref=case.id, status=BookingStatus.ACTIVE)
    # the confirmation: the time, the join route, add to calendar
    text = client.get(done["Location"]).content.decode()
    for expected in ("Your call is booked", "Monday 2 March 2026, 18:30 (Asia/Kolkata, IST)", "Join by video",
                     "Add to calendar (.ics)", url(case, "invite.ics")):
        assert expected in text, expected
    assert "Monday 2 March 2026, 18:30" in client.get(url(case)).content.decode()
    moved = client.post(url(case, "book/"), {"starts_at": "2026-03-03T10:00:00Z"})
    assert moved.status_code == 302 and "Your call was moved" in client.get(moved["Location"]).content.decode()
    booking.refresh_from_db()
    assert booking.sequence == 1
    ics = client.get(url(case, "invite.ics"))
    assert ics["Content-Type"] == "text/calendar; charset=utf-8; method=REQUEST"
    assert client.post(url(case, "cancel/")).status_code == 302
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED


def test_a_taken_time_says_so_and_shows_free_times_soon_after(client, now, frozen_clock):
    from tests.helpers import make_reps

    make_reps(1, now=now)
    other = CaseFactory()
    client_for(other).post("/api/v1/case/booking", {"starts_at": FIRST}, format="json")
    case = CaseFactory()
    page = client.post(url(case, "book/"), {"starts_at": FIRST})
    assert page.status_code == 409
    text = page.content.decode()
    assert "That time was just taken" in text and "Free times soon after it" in text
    # five of the next 24 free times (13:05Z to 15:00Z), each one tap away, in the freelancer's zone
    window = {datetime(2026, 3, 2, 13, 5, tzinfo=UTC) + timedelta(minutes=5 * k): k for k in range(24)}
    soon = text.split('id="soon-legend"', 1)[1].split("</form>", 1)[0]
    listed = re.findall(r'value="([^"]+)"[^>]*><span class="t"><span class="w">([^<]+)</span>', soon)
    assert len(set(listed)) == 5
    for value, label in listed:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
        assert instant in window and label == "Mon 2 Mar, " + wall_clock(instant, "Asia/Kolkata")
    assert not Booking.objects.filter(case_ref=case.id).exists()


def test_form_errors_say_what_to_change(client, reps, case, frozen_clock):
    page = client.post(url(case, "book/"), {})
    assert page.status_code == 400 and "Pick one of the times above." in page.content.decode()
    page = client.post(url(case, "accommodation/"), {"note": "x"})
    assert page.status_code == 400 and "Choose what you need." in page.content.decode()
    assert not CaseRequest.objects.exists()


def test_accommodation_and_extension_from_the_page(client, reps, case, frozen_clock):
    assert client.post(url(case, "accommodation/"), {"need": "no_camera"}).status_code == 302
    page = client.get(url(case)).content.decode()
    assert "submitting proposals will not be paused, even after this date" in page
    assert "Your accommodation request is with staff" in page and "Ask for an accommodation" not in page
    before = case.deadline_at
    assert client.post(url(case, "extension/")).status_code == 302
    case.refresh_from_db()
    assert case.deadline_at == before + timedelta(days=3)
    assert "more days" not in client.get(url(case)).content.decode()  # used up


def test_appeal_after_not_verified(client, case, frozen_clock):
    case.status = CaseStatus.NOT_VERIFIED
    case.save()
    assert "Appeal this decision" in client.get(url(case)).content.decode()
    assert client.post(url(case, "appeal/"), {"statement": "My ID was valid"}).status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_REVIEW
    assert CaseRequest.objects.get(case=case).note == "My ID was valid"


def test_tampered_and_expired_links_get_a_friendly_page(client, now, frozen_clock):
    case = CaseFactory()
    tampered = client.get(f"/c/{freelancer_token(case)[:-3]}xyz/")
    assert tampered.status_code == 404 and "This link does not work" in tampered.content.decode()
    ended = CaseFactory(status=CaseStatus.WITHDRAWN, closed_at=now - timedelta(days=31))
    expired = client.get(url(ended))
    assert expired.status_code == 410 and "This link has expired" in expired.content.decode()


def test_admin_revokes_a_link_and_a_new_one_is_mailed(client, admin_client, case, now, frozen_clock):
    from django.core import mail

    from tests.helpers import send_due

    old = url(case)
    assert client.get(old).status_code == 200
    admin_client.post("/admin/verification/case/", {"action": "action_case_link_revoke", "_selected_action": [case.pk],
                                                    "reason": "The freelancer forwarded the email by mistake"})
    assert client.get(old).status_code == 404
    send_due(now)
    [email] = mail.outbox
    assert email.subject == "Your new link for the identity check"
    new = email.body.split("http://testserver", 1)[1].split()[0]
    assert client.get(new).status_code == 200


def test_the_presence_code_shows_only_while_the_call_is_on(client, reps, case, now):
    import time_machine

    from scheduling.ics import presence_code

    with time_machine.travel(now, tick=False):
        client.post(url(case, "book/"), {"starts_at": FIRST})
    booking = Booking.objects.get(case_ref=case.id)
    code = presence_code(booking)
    assert len(code) == 4 and code.isdigit()
    with time_machine.travel(booking.starts_at - timedelta(minutes=30), tick=False):
        assert code not in client.get(url(case)).content.decode()
    with time_machine.travel(booking.starts_at + timedelta(minutes=1), tick=False):
        assert f'<strong class="code">{code}</strong>' in client.get(url(case)).content.decode()


def test_the_link_lives_as_long_as_the_policy_says_after_the_case_ends(client, now, frozen_clock):
    ended = CaseFactory(status=CaseStatus.WITHDRAWN, closed_at=now - timedelta(days=10))
    ended.policy_snapshot = {**ended.policy_snapshot, "link_days_after_close": 7}
    ended.save()
    assert client.get(url(ended)).status_code == 410


def test_the_appeal_page_says_what_happens_next_and_by_when(client, case, frozen_clock):
    case.status = CaseStatus.NOT_VERIFIED
    case.save()
    page = client.get(url(case, "appeal/")).content.decode()
    assert "A reviewer who was not involved before" in page
    assert "We aim to decide by Saturday 7 March 2026" in page  # now + the policy's 5 review days


def test_the_confirmation_page_without_a_booking_goes_back_to_the_case(client, case, frozen_clock):
    page = client.get(url(case, "booked/"))
    assert page.status_code == 302 and page["Location"] == url(case)


def test_htmx_gets_only_the_times_and_the_filters_line(client, reps, case, frozen_clock):
    # a day chip or a filter change with JavaScript: the times only, and the current filters out of band
    partial = client.get(url(case, "book/"), {"timezone": "Europe/London", "day": "2026-03-03"},
                         headers={"HX-Request": "true"})
    text = partial.content.decode()
    assert partial.status_code == 200 and "<html" not in text
    assert '<span class="now" id="filters-now" hx-swap-oob="true">Europe/London · any language · by video' in text
    assert 'aria-current="page" class="current"><span class="d">Tue 3 Mar</span>' in text
    # going back to a page htmx no longer has in its history: the whole page
    restore = client.get(url(case, "book/"), headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.content.decode()
