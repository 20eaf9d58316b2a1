"""The "Pick a time" page on a 360 x 780 phone with the demo data (`seed_demo`) and a freelancer in
America/Sao_Paulo: from the page to a booked call in three taps (a day, a time, confirm), with
JavaScript and without it; every free start reachable; keyboard and screen-reader semantics."""

import io
import re
from datetime import date, datetime

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from scheduling.models import Booking, BookingStatus
from tests.browser.conftest import ARTIFACTS, LAPTOP, assert_accessible, assert_fits_the_phone, screenshot
from tests.browser.test_freelancer_journey import flag_through_the_api, send_outbox
from tests.helpers import client_for
from verification.links import freelancer_url
from verification.models import Case

pytestmark = [pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 780}
SCREENS = 3  # the page before a time is chosen is at most this many phone screens tall


@pytest.fixture
def demo_case(live_server, settings, api_key) -> Case:
    """The demo data, and a freelancer in São Paulo flagged through the API (notice sent: deadline set)."""
    settings.PUBLIC_BASE_URL = live_server.url
    settings.DEBUG = True  # seed_demo runs only with DEBUG on (its demo passwords)
    call_command("seed_demo", stdout=io.StringIO())
    settings.DEBUG = False
    case_id = flag_through_the_api(api_key)
    send_outbox()
    return Case.objects.get(pk=case_id)


@pytest.fixture
def phone(browser):
    contexts = []

    def open_page(*, javascript: bool = True):
        context = browser.new_context(viewport=PHONE, locale="en-GB", has_touch=True, java_script_enabled=javascript)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


class Taps:
    """Counts the taps of a journey."""

    def __init__(self):
        self.count = 0

    def __call__(self, locator) -> None:
        locator.tap()
        self.count += 1


def page_height(page) -> int:
    return page.evaluate("document.documentElement.scrollHeight")


def in_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    return box is not None and 0 <= box["y"] and box["y"] + box["height"] <= PHONE["height"]


def assert_touch_targets(page) -> None:
    """Every time, day chip, fold and button on the page is at least 44 x 44 px."""
    small = page.evaluate("""() => [...document.querySelectorAll(
            'main label.time, main .days a, main summary, main button')]
        .filter(e => e.checkVisibility())
        .map(e => [e.textContent.trim().slice(0, 30), e.getBoundingClientRect()])
        .filter(([, r]) => r.width < 44 || r.height < 44)
        .map(([text, r]) => [text, Math.round(r.width), Math.round(r.height)])""")
    assert small == []


def api_times(case, day: str, zone: str) -> set[str]:
    body = client_for(case).get("/api/v1/case/availability", {"from": day, "to": day, "timezone": zone}).json()
    return {time["starts_at"] for listed in body["days"] for time in listed["times"]}


def chosen_instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_three_taps_to_a_booked_call_with_the_confirm_action_next_to_the_time(demo_case, phone):
    page = phone()
    page.goto(freelancer_url(demo_case) + "book/")

    # the first screen: the soonest free time and a chip per day up to the deadline, with its count
    expect(page.get_by_role("radiogroup", name=re.compile("Soonest free time"))).to_be_in_viewport()
    chips = page.get_by_role("navigation", name="Days").get_by_role("link")
    assert chips.count() >= 7
    expect(chips.last).to_be_in_viewport()
    expect(chips.nth(1)).to_have_text(re.compile(r"\d+ times"))
    assert page_height(page) <= SCREENS * PHONE["height"], page_height(page)
    assert_accessible(page)
    assert_fits_the_phone(page)
    assert_touch_targets(page)
    screenshot(page, "book")
    page.set_viewport_size(PHONE)

    tap = Taps()
    tap(chips.nth(1))  # 1: tomorrow, a whole day of times
    day = date.fromisoformat(chips.nth(1).get_attribute("id").removeprefix("day-"))
    day_heading = page.get_by_role("heading", name=re.compile("Times on"))
    expect(day_heading).to_have_text(f"Times on {day:%A} {day.day} {day:%B}")
    expect(day_heading).to_be_focused()  # the reader is taken there
    assert page.get_by_role("link", name=re.compile(f"{day:%a} {day.day} {day:%b}")).get_attribute(
        "aria-current") == "page"
    assert page_height(page) <= SCREENS * PHONE["height"], page_height(page)

    afternoon = page.get_by_role("radiogroup", name=re.compile("^Afternoon"))
    time = afternoon.locator("label.time").nth(9)  # a reasonable hour, not the night
    tap(time)  # 2: the time
    value = time.locator("input").get_attribute("value")
    label = time.inner_text().strip()
    confirm = page.get_by_role("button", name=f"Book {day:%a} {day.day} {day:%b}, {label} (Sao Paulo)")
    expect(confirm).to_be_visible()
    assert in_viewport(page, confirm) and in_viewport(page, time)  # the confirm action is in view next to it
    expect(page.locator("#chosen")).to_have_text(re.compile(f"Chosen: .*{label} .*The button to book it"))
    assert page.locator("form.pick input:checked").count() == 1
    assert_accessible(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "book-chosen-phone.png"))  # the screen as seen: the bar at the bottom
    page.set_viewport_size(LAPTOP)
    page.screenshot(path=str(ARTIFACTS / "book-chosen-laptop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    time.scroll_into_view_if_needed()

    tap(confirm)  # 3: confirm
    expect(page.get_by_role("heading", name="Your call is booked")).to_be_visible()
    assert tap.count == 3
    booking = Booking.objects.get(case_ref=demo_case.id, status=BookingStatus.ACTIVE)
    assert booking.starts_at == chosen_instant(value)

    # the confirmation: the time, the join route, add to calendar
    main = page.inner_text("main")
    assert f"{day:%A} {day.day} {day:%B %Y}, {label} (America/Sao_Paulo" in main
    expect(page.get_by_role("link", name="Join by video")).to_be_in_viewport()
    expect(page.get_by_role("link", name="Add to calendar (.ics)")).to_be_in_viewport()
    assert_accessible(page)
    assert_fits_the_phone(page)
    screenshot(page, "booked")


def test_without_javascript_the_same_three_taps_book_the_call(demo_case, phone):
    page = phone(javascript=False)
    page.goto(freelancer_url(demo_case) + "book/")
    expect(page.locator("html")).not_to_have_class("js")  # book.js did not run
    # every day, before a time is chosen, is at most three screens tall
    heights = {}
    for href in page.get_by_role("navigation", name="Days").get_by_role("link").evaluate_all(
            "links => links.map(a => a.href)"):
        page.goto(href)
        heights[href.split("day=")[1].split("#")[0]] = page_height(page)
    print("page heights at 360 x 780, before a time is chosen (px):", heights)
    assert max(heights.values()) <= SCREENS * PHONE["height"], heights

    page.goto(freelancer_url(demo_case) + "book/")
    tap = Taps()
    tap(page.get_by_role("navigation", name="Days").get_by_role("link").nth(2))  # 1: the day after tomorrow
    expect(page).to_have_url(re.compile(r"day=\d{4}-\d\d-\d\d#day-times$"))
    morning = page.get_by_role("radiogroup", name=re.compile("^Morning"))
    time = morning.locator("label.time").nth(12)
    tap(time)  # 2: the time
    value = time.locator("input").get_attribute("value")
    confirm = morning.locator("xpath=ancestor::form").get_by_role("button", name="Book this time")
    expect(confirm).to_be_visible()
    assert in_viewport(page, confirm) and in_viewport(page, time)
    assert page.get_by_role("button", name="Book this time").count() == 1  # only the chosen group's
    tap(confirm)  # 3: confirm
    expect(page.get_by_role("heading", name="Your call is booked")).to_be_visible()
    assert tap.count == 3
    assert Booking.objects.get(case_ref=demo_case.id, status=BookingStatus.ACTIVE).starts_at == chosen_instant(value)


def test_every_free_start_of_the_day_is_reachable(demo_case, phone):
    page = phone(javascript=False)
    page.goto(freelancer_url(demo_case) + "book/")
    days = page.get_by_role("navigation", name="Days").get_by_role("link").evaluate_all(
        "links => links.map(a => a.href)")
    for href in (days[0], days[1]):  # today (from the minimum notice on) and a whole day
        day = href.split("day=")[1].split("#")[0]
        before = api_times(demo_case, day, "America/Sao_Paulo")
        page.goto(href)
        values = page.locator("#day-times input[name=starts_at]").evaluate_all("inputs => inputs.map(i => i.value)")
        after = api_times(demo_case, day, "America/Sao_Paulo")
        assert len(values) == len(set(values))
        # the same as the API's (which, asked just before and just after, can only lose its first times
        # to the minimum notice meanwhile)
        assert before >= set(values) >= after and after
        if href == days[0]:
            soonest = page.locator("#soonest-legend ~ .times input").first.get_attribute("value")
            assert soonest == min(values)
        else:  # a whole day: most of its times are folded away at first
            assert page.locator("#day-times label.time").evaluate_all(
                "labels => labels.filter(l => !l.checkVisibility()).length") > len(values) / 2
        # what is folded away opens with a tap: then every one of them can be tapped
        for fold in page.locator("#day-times details").all():
            fold.locator("> summary").tap()
        assert page.locator("#day-times label.time").evaluate_all(
            "labels => labels.filter(l => !l.checkVisibility()).length") == 0
    # the night is folded when the day has other times
    assert page.locator("#day-times details.fold > summary", has_text="Night").count() == 1


def test_keyboard_groups_filters_and_moving_the_call(demo_case, phone):
    page = phone()
    page.goto(freelancer_url(demo_case) + "book/")
    chip = page.get_by_role("navigation", name="Days").get_by_role("link").nth(1)
    chip.click()
    expect(page.get_by_role("heading", name=re.compile("Times on"))).to_be_focused()

    # one radio group per part of the day, named; arrow keys move within it
    for part in ("Morning", "Afternoon", "Evening"):
        expect(page.get_by_role("radiogroup", name=re.compile(f"^{part}"))).to_have_count(1)
    morning = page.get_by_role("radiogroup", name=re.compile("^Morning"))
    radios = morning.get_by_role("radio")
    radios.first.focus()
    page.keyboard.press("ArrowRight")
    expect(radios.nth(1)).to_be_focused()
    expect(radios.nth(1)).to_be_checked()
    expect(page.locator("#chosen")).to_have_text(re.compile(radios.nth(1).locator("xpath=..").inner_text().strip()))
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")  # from the first time, round to the group's last shown time, not the next group
    shown_in_morning = morning.locator(":scope > .times input")
    expect(shown_in_morning.last).to_be_focused()
    page.keyboard.press("Tab")  # then "more times", then the confirm button
    expect(morning.locator("details.more > summary")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name=re.compile("^Book "))).to_be_focused()

    # the filters: folded under one control, applied at once with JavaScript (no "Show times" tap)
    expect(page.get_by_label("Time zone")).to_be_hidden()
    page.get_by_text("Change zone, language or phone").click()
    expect(page.get_by_role("button", name="Show times")).to_be_hidden()
    day = page.url.split("day=")[1][:10]
    page.get_by_label("Time zone").select_option("Europe/London")
    expect(page.locator("#filters-now")).to_contain_text("Europe/London")
    expect(page).to_have_url(re.compile("timezone=Europe%2FLondon"))
    expect(page.locator(".days [aria-current=page]")).to_have_id(f"day-{day}")  # the same day, now in London time
    values = page.locator("#day-times input[name=starts_at]").evaluate_all("inputs => inputs.map(i => i.value)")
    assert set(values) == api_times(demo_case, day, "Europe/London")
    page.get_by_label("By phone instead of video").check()
    expect(page.locator("#filters-now")).to_contain_text("by phone")
    assert_accessible(page)

    # the same page moves a booked call
    page.get_by_role("radiogroup", name=re.compile("^Afternoon")).locator("label.time").first.click()
    page.get_by_role("button", name=re.compile("^Book ")).click()
    expect(page.get_by_role("heading", name="Your call is booked")).to_be_visible()
    booking = Booking.objects.get(case_ref=demo_case.id, status=BookingStatus.ACTIVE)
    page.get_by_role("link", name=re.compile("move or cancel")).click()
    page.get_by_role("link", name=re.compile("Move it")).click()
    expect(page.get_by_role("heading", name="Move your call")).to_be_visible()
    assert page_height(page) <= SCREENS * PHONE["height"]
    evening = page.get_by_role("radiogroup", name=re.compile("^Evening"))
    evening.locator("label.time").first.tap()
    move = page.get_by_role("button", name=re.compile(r"^Move to \w{3} \d+ \w{3}, \d\d:\d\d \(Sao Paulo\)$"))
    assert in_viewport(page, move)
    expect(page.locator("#chosen")).to_have_text(re.compile("The button to move your call to it"))
    assert_accessible(page)
    move.tap()
    expect(page.get_by_role("heading", name="Your call was moved")).to_be_visible()
    booking.refresh_from_db()
    assert booking.sequence == 1
