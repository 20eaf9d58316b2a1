"""The Content-Security-Policy in a real browser (issue 18): the fixture's violation check works,
the Swagger UI renders under its own narrower policy with no violation, and no page (not even one
of ours, so never another site's) can frame a page of ours."""

import pytest
from django.test import override_settings
from playwright.sync_api import expect

from tests.browser.conftest import csp_violations_collect

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.mark.csp_violations_expected
def test_the_check_sees_a_violation(browser):
    """Without this, a silent check would pass every page: a page with an inline script and style
    under a self-only policy is reported, as the check (`_csp_enforced`) hears it."""
    context = browser.new_context()
    page = context.new_page()
    found = csp_violations_collect(context)
    page.route("http://127.0.0.1:9/probe", lambda route: route.fulfill(
        status=200, content_type="text/html",
        headers={"Content-Security-Policy": "script-src 'self'; style-src 'self'"},
        body="<html><head><style>p{color:red}</style></head><body><p>x</p>"
             "<script>document.title='ran'</script></body></html>"))
    page.goto("http://127.0.0.1:9/probe")
    page.wait_for_load_state("load")
    title = page.title()
    context.close()
    assert title != "ran"
    assert any("script" in text for text in found) and any("style" in text for text in found), found


def test_swagger_ui_renders_under_its_own_policy(live_server, page):
    with override_settings(API_DOCS_PUBLIC=True):
        page.goto(f"{live_server.url}/api/docs/")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Verification-call scheduler API")
        expect(page.locator(".opblock-summary-path").first).to_be_visible()  # the schema was fetched and drawn


@pytest.mark.csp_violations_expected
def test_no_page_of_ours_can_be_framed(live_server, browser):
    """frame-ancestors 'none': not even by a page of this site (so never by another site)."""
    context = browser.new_context()
    page = context.new_page()
    found = csp_violations_collect(context)
    page.goto(f"{live_server.url}/")
    page.evaluate("""() => new Promise(done => { const f = document.createElement('iframe');
        f.src = '/'; f.onload = done; document.body.append(f); setTimeout(done, 3000); })""")
    page.wait_for_timeout(300)
    frame_text = [f.evaluate("document.body ? document.body.innerText : ''") for f in page.frames[1:]]
    context.close()
    assert any("frame-ancestors 'none'" in text for text in found), found
    assert not any("Identity check" in text for text in frame_text), frame_text


def test_the_admin_and_console_pages_run_under_the_policy(live_server, page, now):
    """Django's own admin pages, the console's review pages and Operations: no violation (the
    autouse check fails the test on any)."""
    from django.contrib.auth.models import User

    from tests.factories import CaseFactory
    from verification.models import Review

    User.objects.create_superuser("boss", "boss@example.com", "boss-pass-1")
    case = CaseFactory()
    review = Review.objects.create(case=case, kind="ESCALATION", created_at=now)
    base = live_server.url
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill("boss-pass-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    for path, text in ((f"/admin/verification/case/{case.pk}/change/", "Change case"),
                       ("/admin/verification/case/", "Select case"),
                       (f"/admin/verification/review/{review.pk}/change/", "Change review"),
                       ("/console/reviews/", "unassigned"),
                       (f"/console/reviews/{review.pk}/", "Unassigned: no reviewer is eligible"),
                       ("/console/operations/", "Operations")):
        page.goto(f"{base}{path}")
        expect(page.locator("body")).to_contain_text(text)
