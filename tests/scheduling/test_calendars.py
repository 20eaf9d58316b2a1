"""Representatives' own calendars, against a real CalDAV server (Radicale on loopback): connect
with clear errors, credentials encrypted, busy events block exactly the right slots, a server that
is down or slow keeps the last busy times, conflicts are handed over, disconnect forgets it all."""

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from scheduling.errors import CalendarProblem
from scheduling.models import (
    Booking,
    BookingStatus,
    BusyTime,
    CalendarAuditEvent,
    CalendarConnection,
    CalendarObject,
    Displacement,
    Slot,
)
from scheduling.selectors import calendar_conflicts
from scheduling.services.calendars import calendar_connect_caldav, calendar_disconnect, calendar_sync
from tests.calendar_servers import free_port
from tests.factories import CaseFactory
from tests.helpers import client_for, make_reps

pytestmark = pytest.mark.django_db

NY_ZONE = """BEGIN:VTIMEZONE
TZID:America/New_York
BEGIN:STANDARD
DTSTART:19701101T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700308T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
END:DAYLIGHT
END:VTIMEZONE
"""


def ics(uid: str, *lines: str, zones: str = "") -> str:
    body = "\n".join(["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260301T000000Z", "SUMMARY:Private meeting", *lines,
                      "END:VEVENT"])
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//tests//EN\n{zones}{body}\nEND:VCALENDAR\n"


def free_starts(rep, day: str) -> list[str]:
    return [f"{s:%H:%M}" for s in Slot.objects.filter(representative=rep, is_booked=False, starts_at__date=day)
            .order_by("starts_at").values_list("starts_at", flat=True)]


def slots_between(start: str, end: str, *, step: int = 5) -> list[str]:
    first, last = datetime.strptime(start, "%H:%M"), datetime.strptime(end, "%H:%M")
    out = []
    while first < last:
        out.append(f"{first:%H:%M}")
        first += timedelta(minutes=step)
    return out


ALL_DAY_LONDON = slots_between("09:00", "16:59")  # March: London is UTC


# --- connect ---------------------------------------------------------------------------------

def test_connecting_stores_the_password_encrypted_and_audits_it(radicale, now, caplog):
    [rep] = make_reps(1, now=now)
    account = radicale.account()
    caplog.set_level(logging.DEBUG)
    connection = calendar_connect_caldav(representative_id=rep.pk, url=radicale.url, username=account.username,
                                         password=account.password, actor="user:rep", now=now)
    assert unquote(connection.calendar_url) == unquote(account.calendar_url)  # found from the server address
    assert connection.last_good_sync_at == now and not connection.stale
    assert account.password not in connection.secret and connection.secret.startswith("gAAAA")  # Fernet
    assert account.password not in caplog.text
    assert [e.action for e in CalendarAuditEvent.objects.filter(representative=rep)] == ["calendar_connected"]


@pytest.mark.parametrize("case", ["wrong_password", "no_server", "not_found", "tls", "not_a_calendar", "ftp"])
def test_a_failed_connection_says_why_and_stores_nothing(radicale, now, case):
    [rep] = make_reps(1, now=now)
    account = radicale.account(calendar=case != "not_a_calendar")
    url, password = radicale.url, account.password
    expected = {"wrong_password": "calendar_wrong_password", "no_server": "calendar_wrong_url",
                "not_found": "calendar_wrong_url", "tls": "calendar_tls_failed",
                "not_a_calendar": "calendar_not_a_calendar", "ftp": "calendar_wrong_url"}[case]
    if case == "wrong_password":
        password = "not-it"
    elif case == "no_server":
        url = f"http://127.0.0.1:{free_port()}/"
    elif case == "not_found":
        url = f"{radicale.url}{account.username}/no-such-calendar/"
    elif case == "tls":
        url = radicale.url.replace("http://", "https://")  # a server that does not speak TLS there
    elif case == "ftp":
        url = "ftp://example.com/calendar"
    with pytest.raises(CalendarProblem) as problem:
        calendar_connect_caldav(representative_id=rep.pk, url=url, username=account.username, password=password,
                                actor="user:rep", now=now)
    assert problem.value.code == expected
    assert password not in problem.value.detail
    assert not CalendarConnection.objects.exists() and not CalendarAuditEvent.objects.exists()


def test_the_console_connects_with_a_clear_message_and_never_shows_the_password(radicale, now, frozen_clock):
    [rep] = make_reps(1, now=now)
    account = radicale.account()
    browser = Client()
    browser.force_login(rep.user)
    page = browser.post("/console/calendar/connect/", {"caldav-url": radicale.url, "caldav-username": account.username,
                                                       "caldav-password": "wrong"}, follow=True)
    assert "refused the user name or password" in page.content.decode()
    assert not CalendarConnection.objects.exists()
    page = browser.post("/console/calendar/connect/", {"caldav-url": radicale.url, "caldav-username": account.username,
                                                       "caldav-password": account.password}, follow=True)
    html = page.content.decode()
    assert "Connected." in html and "In sync" in html and account.password not in html
    assert CalendarConnection.objects.get(representative=rep).username == account.username


def test_the_command_connects_from_a_password_file(radicale, now, tmp_path, frozen_clock):
    [rep] = make_reps(1, now=now)
    account = radicale.account()
    secret = tmp_path / "password"
    secret.write_text(account.password + "\n")
    call_command("connect_calendar", rep.user.username, "--url", account.calendar_url, "--username",
                 account.username, "--password-file", str(secret))
    assert CalendarConnection.objects.get(representative=rep).calendar_url == account.calendar_url
    with pytest.raises(Exception, match="calendar_wrong_password"):
        call_command("connect_calendar", rep.user.username, "--url", account.calendar_url, "--username",
                     account.username, "--password", "nope")


# --- busy times ------------------------------------------------------------------------------

@pytest.fixture
def connected(radicale, now):
    """A London representative (Mon-Fri 09:00-17:00) with a connected, empty calendar."""
    [rep] = make_reps(1, now=now)
    account = radicale.account()
    calendar_connect_caldav(representative_id=rep.pk, url=account.calendar_url, username=account.username,
                            password=account.password, actor="user:rep", now=now)
    return rep, account


def test_busy_events_block_exactly_the_slots_they_cover(connected, now):
    rep, account = connected
    account.add(ics("plain", "DTSTART:20260303T100000Z", "DTEND:20260303T103000Z"))
    # weekly at 10:00 New York: 15:00 London before the US clocks change (8 March), 14:00 after
    account.add(ics("weekly", "DTSTART;TZID=America/New_York:20260302T100000",
                    "DTEND;TZID=America/New_York:20260302T101000", "RRULE:FREQ=WEEKLY;COUNT=3",
                    "EXDATE;TZID=America/New_York:20260316T100000", zones=NY_ZONE))
    account.add(ics("allday", "DTSTART;VALUE=DATE:20260304", "DTEND;VALUE=DATE:20260305"))
    account.add(ics("cancelled", "DTSTART:20260305T100000Z", "DTEND:20260305T110000Z", "STATUS:CANCELLED"))
    account.add(ics("free", "DTSTART:20260306T100000Z", "DTEND:20260306T110000Z", "TRANSP:TRANSPARENT"))
    account.add(ics("declined", "DTSTART:20260306T130000Z", "DTEND:20260306T140000Z",
                    f"ATTENDEE;PARTSTAT=DECLINED:mailto:{account.username}"))
    CalendarObject.objects.create(connection=CalendarConnection.objects.get(representative=rep), href="/broken.ics",
                                  data=ics("broken", "DURATION:PT1H"))  # no start: skipped, the others count
    assert calendar_sync(representative_id=rep.pk, now=now)

    assert free_starts(rep, "2026-03-03") == [s for s in ALL_DAY_LONDON if not "10:00" <= s < "10:30"]
    assert free_starts(rep, "2026-03-02") == [s for s in ALL_DAY_LONDON if s >= "12:00" and not
                                              "15:00" <= s < "15:10"]
    assert free_starts(rep, "2026-03-09") == [s for s in ALL_DAY_LONDON if not "14:00" <= s < "14:10"]
    assert free_starts(rep, "2026-03-04") == []  # all day
    assert free_starts(rep, "2026-03-05") == ALL_DAY_LONDON  # cancelled
    assert free_starts(rep, "2026-03-06") == ALL_DAY_LONDON  # transparent, declined

    # incremental: the plain meeting moves an hour later, the all-day event is deleted
    account.calendar.event_by_uid("plain").delete()
    account.add(ics("plain", "DTSTART:20260303T110000Z", "DTEND:20260303T113000Z"))
    account.calendar.event_by_uid("allday").delete()
    token = CalendarConnection.objects.get(representative=rep).sync_token
    assert token and calendar_sync(representative_id=rep.pk, now=now)
    assert CalendarConnection.objects.get(representative=rep).sync_token != token
    assert free_starts(rep, "2026-03-03") == [s for s in ALL_DAY_LONDON if not "11:00" <= s < "11:30"]
    assert free_starts(rep, "2026-03-04") == ALL_DAY_LONDON


def test_a_calendar_written_in_another_zone_and_a_dst_change_in_the_reps_own(radicale, settings):
    """A Kolkata-zone weekly event on a London representative, across London's change (29 March)."""
    now = datetime(2026, 3, 23, 8, tzinfo=UTC)
    settings.SLOT_HORIZON_DAYS = 10
    [rep] = make_reps(1, now=now)
    account = radicale.account()
    account.add(ics("kolkata", "DTSTART;TZID=Asia/Kolkata:20260323T160000", "DTEND;TZID=Asia/Kolkata:20260323T163000",
                    "RRULE:FREQ=WEEKLY;COUNT=2"))
    account.add(ics("london", "DTSTART;TZID=Europe/London:20260324T090000",
                    "DTEND;TZID=Europe/London:20260324T093000", "RRULE:FREQ=WEEKLY;COUNT=2"))
    calendar_connect_caldav(representative_id=rep.pk, url=account.calendar_url, username=account.username,
                            password=account.password, actor="user:rep", now=now)
    # 16:00 Kolkata = 10:30 UTC on both Mondays (Kolkata has no DST); 09:00 London = 09:00 UTC, then 08:00 UTC
    assert "10:30" not in free_starts(rep, "2026-03-23") and "10:25" in free_starts(rep, "2026-03-23")
    assert "10:30" not in free_starts(rep, "2026-03-30") and "11:00" in free_starts(rep, "2026-03-30")
    assert "09:00" not in free_starts(rep, "2026-03-24")
    assert "08:00" not in free_starts(rep, "2026-03-31") and "08:30" in free_starts(rep, "2026-03-31")


@pytest.mark.parametrize("failure", ["down", "slow", "garbage"])
def test_a_failing_server_keeps_the_last_busy_times_and_marks_the_calendar_stale(connected, now, ics_server,
                                                                                 settings, failure, frozen_clock,
                                                                                 admin_user):
    rep, account = connected
    account.add(ics("plain", "DTSTART:20260303T100000Z", "DTEND:20260303T103000Z"))
    calendar_sync(representative_id=rep.pk, now=now)
    busy = list(BusyTime.objects.filter(representative=rep).values_list("starts_at", "ends_at"))
    before = free_starts(rep, "2026-03-03")
    settings.CALENDAR_TIMEOUT_SECONDS = 1
    if failure == "down":
        url = f"http://127.0.0.1:{free_port()}/cal/"
    else:
        ics_server.body, ics_server.delay = b"<html>garbage</html>", 3 if failure == "slow" else 0
        url = ics_server.url
    CalendarConnection.objects.filter(representative=rep).update(calendar_url=url)
    later = now + timedelta(minutes=5)

    assert calendar_sync(representative_id=rep.pk, now=later) is False
    connection = CalendarConnection.objects.get(representative=rep)
    assert connection.stale and connection.last_good_sync_at == now and connection.last_sync_at == later
    assert connection.last_error
    assert list(BusyTime.objects.filter(representative=rep).values_list("starts_at", "ends_at")) == busy
    assert free_starts(rep, "2026-03-03") == before
    # booking is unaffected by the stale calendar
    case = CaseFactory()
    response = client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-03T11:00:00Z"}, format="json")
    assert response.status_code == 201
    browser = Client()
    browser.force_login(rep.user)
    assert 'data-test="stale"' in browser.get("/console/calendar/").content.decode()
    browser.force_login(admin_user)
    assert 'data-test="calendars-stale"' in browser.get(reverse("operations-now")).content.decode()
    assert 'data-test="stale-row"' in browser.get("/console/calendar/").content.decode()


def test_a_new_busy_time_over_a_booking_is_a_conflict_handed_over_in_one_click(radicale, now, frozen_clock):
    reps = make_reps(2, now=now)
    case = CaseFactory()
    assert client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-03T11:00:00Z"},
                                 format="json").status_code == 201
    booking = Booking.objects.get(case_ref=case.id)
    mine = booking.representative
    other = next(r for r in reps if r != mine)
    account = radicale.account()
    calendar_connect_caldav(representative_id=mine.pk, url=account.calendar_url, username=account.username,
                            password=account.password, actor="user:rep", now=now)
    account.add(ics("dentist", "DTSTART:20260303T104500Z", "DTEND:20260303T113000Z"))
    calendar_sync(representative_id=mine.pk, now=now)

    booking.refresh_from_db()
    assert booking.status == BookingStatus.ACTIVE and booking.representative == mine  # never silently dropped
    assert calendar_conflicts(now=now, representative_id=mine.pk) == [booking]
    browser = Client()
    browser.force_login(mine.user)
    assert 'data-test="conflict"' in browser.get("/console/calendar/").content.decode()
    page = browser.post(f"/console/calendar/hand-over/{booking.id}/", follow=True)
    assert "Handed over" in page.content.decode()
    booking.refresh_from_db()
    assert booking.representative == other and booking.starts_at == datetime(2026, 3, 3, 11, tzinfo=UTC)
    assert booking.displacement == Displacement.MOVED and booking.sequence == 1
    assert not Slot.objects.filter(representative=mine, starts_at=booking.starts_at).exists()
    assert calendar_conflicts(now=now) == []
    assert CalendarAuditEvent.objects.filter(representative=mine, action="call_handed_over").count() == 1


def test_an_admin_sees_every_conflict_and_hands_it_over_and_another_rep_cannot(radicale, now, frozen_clock,
                                                                              admin_user):
    reps = make_reps(3, now=now)
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-03T11:00:00Z"}, format="json")
    booking = Booking.objects.get(case_ref=case.id)
    mine = booking.representative
    account = radicale.account()
    account.add(ics("dentist", "DTSTART:20260303T104500Z", "DTEND:20260303T113000Z"))
    calendar_connect_caldav(representative_id=mine.pk, url=account.calendar_url, username=account.username,
                            password=account.password, actor="user:rep", now=now)
    stranger = next(r for r in reps if r != mine)
    browser = Client()
    browser.force_login(stranger.user)
    assert 'data-test="conflict"' not in browser.get("/console/calendar/").content.decode()
    browser.post(f"/console/calendar/hand-over/{booking.id}/")
    booking.refresh_from_db()
    assert booking.representative == mine and booking.sequence == 0  # not theirs: nothing changed
    browser.force_login(admin_user)
    assert 'data-test="conflict"' in browser.get("/console/calendar/").content.decode()
    assert "Handed over" in browser.post(f"/console/calendar/hand-over/{booking.id}/", follow=True).content.decode()
    booking.refresh_from_db()
    assert booking.representative != mine and booking.sequence == 1


def test_hand_over_with_nobody_free_changes_nothing(radicale, now, frozen_clock):
    [rep] = make_reps(1, now=now)
    case = CaseFactory()
    client_for(case).post("/api/v1/case/booking", {"starts_at": "2026-03-03T11:00:00Z"}, format="json")
    booking = Booking.objects.get(case_ref=case.id)
    browser = Client()
    browser.force_login(rep.user)
    page = browser.post(f"/console/calendar/hand-over/{booking.id}/", follow=True)
    assert "No other representative is free" in page.content.decode()
    booking.refresh_from_db()
    assert booking.representative == rep and booking.sequence == 0 and not booking.displacement


def test_disconnect_forgets_credentials_and_busy_times_and_gives_the_times_back(connected, now, frozen_clock):
    rep, account = connected
    account.add(ics("plain", "DTSTART:20260303T100000Z", "DTEND:20260303T103000Z"))
    calendar_sync(representative_id=rep.pk, now=now)
    assert BusyTime.objects.filter(representative=rep).exists()
    browser = Client()
    browser.force_login(rep.user)
    assert "Disconnected" in browser.post("/console/calendar/disconnect/", follow=True).content.decode()
    assert not CalendarConnection.objects.exists() and not BusyTime.objects.exists()
    assert free_starts(rep, "2026-03-03") == ALL_DAY_LONDON
    assert [e.action for e in CalendarAuditEvent.objects.filter(representative=rep)] == [
        "calendar_connected", "calendar_disconnected"]
    assert calendar_disconnect(representative_id=rep.pk, actor="user:rep", now=now) is False


def test_sync_calendars_command_and_beat_schedule(connected, now, settings, frozen_clock):
    rep, account = connected
    account.add(ics("plain", "DTSTART:20260303T100000Z", "DTEND:20260303T103000Z"))
    call_command("sync_calendars")
    assert free_starts(rep, "2026-03-03") == [s for s in ALL_DAY_LONDON if not "10:00" <= s < "10:30"]
    schedule = settings.CELERY_BEAT_SCHEDULE["calendars-sync"]
    assert schedule["task"] == "scheduling.tasks.calendars_sync_all"
    assert schedule["schedule"] == settings.CALENDAR_SYNC_SECONDS == 300


def test_a_sync_with_nothing_changed_keeps_the_busy_times_until_the_window_rolls(connected, now):
    rep, account = connected
    account.add(ics("plain", "DTSTART:20260303T100000Z", "DTEND:20260303T103000Z"))
    calendar_sync(representative_id=rep.pk, now=now)
    ids = list(BusyTime.objects.filter(representative=rep).values_list("pk", flat=True))
    assert calendar_sync(representative_id=rep.pk, now=now + timedelta(minutes=5))
    assert list(BusyTime.objects.filter(representative=rep).values_list("pk", flat=True)) == ids  # not rewritten
    connection = CalendarConnection.objects.get(representative=rep)
    assert connection.last_good_sync_at == now + timedelta(minutes=5)
    calendar_sync(representative_id=rep.pk, now=now + timedelta(hours=13))  # the window rolled: recomputed
    assert set(BusyTime.objects.filter(representative=rep).values_list("pk", flat=True)).isdisjoint(ids)
    assert BusyTime.objects.filter(representative=rep).count() == 1


def test_without_a_key_nothing_is_stored_and_a_changed_key_makes_the_calendar_stale(radicale, now, settings):
    [rep] = make_reps(1, now=now)
    account = radicale.account()
    settings.CALENDAR_CREDENTIALS_KEY = ""
    with pytest.raises(CalendarProblem) as problem:
        calendar_connect_caldav(representative_id=rep.pk, url=account.calendar_url, username=account.username,
                                password=account.password, actor="user:rep", now=now)
    assert problem.value.code == "calendar_key_missing" and not CalendarConnection.objects.exists()

    settings.CALENDAR_CREDENTIALS_KEY = "a" * 43 + "="
    calendar_connect_caldav(representative_id=rep.pk, url=account.calendar_url, username=account.username,
                            password=account.password, actor="user:rep", now=now)
    settings.CALENDAR_CREDENTIALS_KEY = "b" * 43 + "="
    assert calendar_sync(representative_id=rep.pk, now=now) is False
    connection = CalendarConnection.objects.get(representative=rep)
    assert connection.stale and "key changed" in connection.last_error


def test_a_server_without_sync_tokens_is_followed_by_etags_deletions_included(connected, now, monkeypatch):
    """The caldav library emulates sync with ETags (a "fake-" token) where a server has no
    sync-collection; everything it then lists is all there is, so a deleted event stops blocking."""
    import caldav

    monkeypatch.setattr(caldav.Calendar, "_should_use_sync_token", lambda self, *args, **kwargs: False)
    rep, account = connected
    account.add(ics("first", "DTSTART:20260303T100000Z", "DTEND:20260303T103000Z"))
    account.add(ics("second", "DTSTART:20260303T140000Z", "DTEND:20260303T143000Z"))
    assert calendar_sync(representative_id=rep.pk, now=now)
    assert CalendarConnection.objects.get(representative=rep).sync_token.startswith("fake-")
    assert "10:00" not in free_starts(rep, "2026-03-03") and "14:00" not in free_starts(rep, "2026-03-03")
    account.calendar.event_by_uid("first").delete()
    assert calendar_sync(representative_id=rep.pk, now=now)
    assert "10:00" in free_starts(rep, "2026-03-03") and "14:00" not in free_starts(rep, "2026-03-03")


@pytest.mark.parametrize("url", ["RADICALE", "https://10.0.0.8/dav/", "https://169.254.169.254/", "http://10.0.0.8/"])
def test_outside_debug_caldav_on_private_addresses_needs_the_setting(radicale, now, settings, url):
    settings.DEBUG, settings.CALENDAR_CALDAV_ALLOW_PRIVATE = False, False
    [rep] = make_reps(1, now=now)
    account = radicale.account()
    with pytest.raises(CalendarProblem) as problem:
        calendar_connect_caldav(representative_id=rep.pk, url=radicale.url if url == "RADICALE" else url,
                                username=account.username, password=account.password, actor="user:rep", now=now)
    assert problem.value.code == ("calendar_wrong_url" if url.startswith("http://10") else "calendar_address_refused")
    assert not CalendarConnection.objects.exists()
