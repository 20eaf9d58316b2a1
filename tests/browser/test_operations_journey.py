"""The admin in a real browser: signs in and lands on Operations, walks the four pages (each
accessible and fitting a phone), sees a day flagged in the capacity forecast once most
representatives' hours are gone, downloads a CSV; a representative is refused."""

import csv
import io

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from playwright.sync_api import expect

from scheduling.models import Representative, WorkingHours
from scheduling.services.slots import representatives_slots_sync_all
from tests.browser.conftest import assert_accessible, assert_fits_the_phone, screenshot

pytestmark = [pytest.mark.django_db(transaction=True)]


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/?next=/console/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(username)
    page.get_by_role("button", name="Log in").click()


def check(page, name: str) -> None:
    page.wait_for_function("() => !document.querySelector('canvas[data-chart]') || "
                           "window.Chart && Chart.getChart(document.querySelector('canvas[data-chart]'))")
    assert_accessible(page)
    assert_fits_the_phone(page)
    screenshot(page, name)


def test_the_admin_watches_the_program_and_a_representative_is_refused(live_server, page, browser):
    with override_settings(DEBUG=True, SLOT_HORIZON_DAYS=21):  # the demo's slots, as make run makes them
        call_command("seed_demo", stdout=io.StringIO())  # six weeks of history, one representative standing out
    base = live_server.url

    sign_in(page, base, "admin")
    expect(page).to_have_url(f"{base}/console/operations/")  # the admin lands on Operations
    expect(page.get_by_role("heading", name="About to be frozen")).to_be_visible()
    assert "due within 24 h with no call booked" in page.inner_text("main")
    check(page, "operations-now")

    page.get_by_role("link", name="Funnel and times").click()
    expect(page.get_by_role("heading", name="Times")).to_be_visible()
    check(page, "operations-funnel")

    page.get_by_role("link", name="Representatives").click()
    expect(page.get_by_text("from the rest of the team beyond chance:")).to_be_visible()
    assert "Tom (London)" in page.locator(".card.warn").inner_text()
    check(page, "operations-representatives")

    page.get_by_role("link", name="Capacity").click()
    expect(page.get_by_role("heading", name="How the forecast is made")).to_be_visible()
    assert "all calls" not in page.locator("#panel").inner_text().split("Per language")[0].split("short of")[-1]
    check(page, "operations-capacity")

    # most representatives' hours are removed: the forecast must show days short for all calls
    keep = Representative.objects.order_by("pk").first()
    WorkingHours.objects.exclude(representative=keep).delete()
    WorkingHours.objects.filter(representative=keep).exclude(weekday=timezone.now().weekday()).delete()
    representatives_slots_sync_all(now=timezone.now())
    page.reload()
    warning = page.locator(".card.warn")
    expect(warning).to_contain_text("short of representatives")
    expect(warning).to_contain_text("all calls: short by")
    short_days = page.locator("#table-forecast tr.flagged").count()
    assert short_days >= 5
    check(page, "operations-capacity-short")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV: All calls: free slots against expected calls, per day").click()
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert rows[0][:3] == ["Day (UTC)", "Free slots", "Expected calls"] and len(rows) == 15
    assert sum(row[-1] == "Short" for row in rows[1:]) == short_days

    page.goto(f"{base}/admin/verification/gracepolicy/add/")
    expect(page.get_by_label("Warnings before the deadline (hours)")).to_have_value("72, 24")
    page.get_by_label("Reason code").select_option("payment_details")
    page.get_by_label("Warnings before the deadline (hours)").fill("24, 72")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("List them from the largest to the smallest: 72, 24.")).to_be_visible()
    expect(page.get_by_text("Running cases keep the values they started with")).to_be_visible()
    screenshot(page, "operations-policy")
    page.get_by_label("Warnings before the deadline (hours)").fill("72, 24")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was added successfully")).to_be_visible()

    representative = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    sign_in(representative, base, "rep-nyc")
    response = representative.goto(f"{base}/console/operations/")
    assert response.status == 403
    assert "Can see the Operations pages" in representative.inner_text("main")
    assert "Operations" not in representative.goto(f"{base}/console/").text()
    representative.context.close()
