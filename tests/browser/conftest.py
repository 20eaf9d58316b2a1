"""Real browser tests: Playwright for Python driving Debian's Chromium (never a downloaded browser),
headless, against a live server on loopback. Skipped locally without /usr/bin/chromium; in CI
(where .ci/run installs it) they fail instead."""

import os
from pathlib import Path

import pytest

from tests.conftest import _missing

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE, LAPTOP = {"width": 360, "height": 740}, {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        _missing("Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in the test thread, and Django would then
    # refuse ORM calls from the test itself. The live server runs in its own thread, so allowing it
    # is safe here; it is set only while the browser is open and never leaks to other tests.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _launch(sync_playwright)
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _launch(sync_playwright):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"],
        )
        yield browser
        browser.close()


CSP_WORDS = ("Content Security Policy", "Content-Security-Policy")


def _is_csp_violation(text: str) -> bool:
    """Chromium reports each violation in the console: "Refused to load ... because it violates the
    following Content Security Policy directive", "Applying inline style violates ...")."""
    return any(word in text for word in CSP_WORDS)


def csp_violations_collect(target) -> list[str]:
    """The CSP violations of a page or a whole browser context, collected into the returned list
    as they come (a context's list covers all its pages and popups)."""
    found: list[str] = []
    target.on("console", lambda msg: found.append(msg.text) if _is_csp_violation(msg.text) else None)
    return found


@pytest.fixture(autouse=True)
def _csp_enforced(request):
    """Every browser test runs with the policy enforced: a CSP violation reported in any page of
    any context the test opens fails it (unless marked `csp_violations_expected`)."""
    if "browser" not in request.fixturenames or request.node.get_closest_marker("csp_violations_expected"):
        yield
        return
    browser = request.getfixturevalue("browser")
    found: list[str] = []
    original = browser.new_context

    def new_context(*args, **kwargs):
        context = original(*args, **kwargs)
        context.on("console", lambda msg: found.append(f"{msg.page.url if msg.page else '?'}: {msg.text}")
                   if _is_csp_violation(msg.text) else None)
        return context

    browser.new_context = new_context
    try:
        yield
    finally:
        browser.new_context = original
    if found:
        pytest.fail(f"Content-Security-Policy violations: {found}")


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=PHONE, accept_downloads=True, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def screenshot(page, name: str) -> None:
    """Save the page at phone and laptop width (test-artifacts/screenshots/)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("phone", PHONE), ("laptop", LAPTOP)):
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(PHONE)


def assert_accessible(page) -> None:
    """axe-core (bundled with axe-playwright-python): no serious or critical violations."""
    from axe_playwright_python.sync_playwright import Axe

    violations = [v for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    assert not violations, [(v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
                            for v in violations]


def assert_fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "horizontal scrolling"
