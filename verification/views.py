"""The freelancer's pages, reached through the signed link (no password). Thin: each view parses
the form, makes one call into a service or selector, and renders."""

import zoneinfo
from functools import partial, wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from notifications.timefmt import local_time
from scheduling.errors import DomainError, SlotTaken
from scheduling.ics import booking_invite, invite_method, join_url, phone_route
from scheduling.selectors import booking_latest_for, languages_offered
from verification import booking_page, selectors
from verification.deadlines.services import case_extension_request
from verification.errors import EarlierOfferNotFound, EarlierTimeTaken
from verification.languages import case_language, language_choices, language_name, speaks
from verification.links import LinkExpired, LinkInvalid, case_from_token, link_case_ref
from verification.models import AccommodationNeed, RequestKind
from verification.services.bookings import (
    case_booking_cancel,
    case_booking_choose,
    case_earlier_time_accept,
    case_earlier_times_set,
)
from verification.services.cases import case_link_renew
from verification.services.languages import case_language_choose
from verification.services.requests import case_request_create
from verification.services.reviews import case_appeal

# Canonical place names for the zone picker (no aliases such as US/... or Etc/GMT+3).
ZONES = sorted(z for z in zoneinfo.available_timezones()
               if "/" in z and not z.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/", "Canada/", "Brazil/",
                                                 "Chile/", "Mexico/"))) + ["UTC"]


def with_case(view):
    """Open the case behind the link, in the freelancer's language (`verification.languages`); a
    tampered, revoked or expired link gets a friendly page in the browser's language."""

    @wraps(view)
    def wrapper(request, token: str, *args, **kwargs):
        try:
            case = case_from_token(token, now=timezone.now())
        except (LinkExpired, LinkInvalid) as problem:
            return _link_problem(request, problem, token)
        # LocaleMiddleware picked the browser's language; the case's order of choice wins. It stays
        # active until the response leaves, so Content-Language says the same.
        translation.activate(case_language(case, accept_language=request.headers.get("Accept-Language", "")))
        request.LANGUAGE_CODE = translation.get_language()
        return view(request, case, token, *args, **kwargs)

    return wrapper


def _link_problem(request, problem: LinkExpired | LinkInvalid, token: str, *, status: int | None = None):
    expired = isinstance(problem, LinkExpired)
    if expired:  # the case is known: its page speaks the case's language
        translation.activate(case_language(problem.case, accept_language=request.headers.get("Accept-Language", "")))
    return render(request, "verification/freelancer/link_problem.html", {
        "expired": expired, "renewable": expired and problem.renewable, "token": token,
    }, status=status or (410 if expired else 404))


def _renewal_rate(group, request) -> str:
    return settings.LINK_RENEWAL_RATE


def _renewal_rate_per_address(group, request) -> str:
    return settings.LINK_RENEWAL_RATE_PER_ADDRESS


def _renewal_case(group, request) -> str:
    return link_case_ref(request.resolver_match.kwargs["token"])


@require_POST
@ratelimit(group="link-renewal:case", key=_renewal_case, rate=_renewal_rate, method="POST", block=False)
@ratelimit(group="link-renewal:address", key="ip", rate=_renewal_rate_per_address, method="POST", block=False)
def link_renew(request, token):
    """The expired-link page's button: mail a fresh link to the address on record (rate-limited
    per case and per address, counted in the cache)."""
    if request.limited:
        response = render(request, "verification/freelancer/link_problem.html",
                          {"expired": True, "limited": True, "token": token}, status=429)
        response["Retry-After"] = "3600"
        return response
    try:
        case_link_renew(token=token, now=timezone.now())
    except (LinkExpired, LinkInvalid) as problem:
        return _link_problem(request, problem, token)
    return render(request, "verification/freelancer/link_problem.html", {"expired": True, "renewed": True})


def _base_context(case, token: str) -> dict:
    """What every freelancer page shows: the case overview (one selector), in the freelancer's zone."""
    overview = selectors.case_overview(case=case, now=timezone.now())
    zone, booking = overview.zone, overview.booking
    return {
        "case": case, "token": token, "zone": zone, "now": overview.now, "languages": language_choices(),
        "deadline_local": local_time(case.deadline_at, zone) if case.deadline_at else None,
        "can_submit": overview.can_submit_proposals,
        "can_book": overview.can_book,
        "changes_used_up": overview.changes_used_up,
        "booking": booking,
        "booking_local": local_time(booking.starts_at, zone) if booking else None,
        "booking_join_url": join_url(booking) if booking else None,
        "booking_phone": phone_route(booking) if booking else None,
        "presence_code": overview.presence_code,
        "reschedules_left": overview.reschedules_left,
        "pending": overview.pending_requests,
        "accommodation_pending": overview.accommodation_pending,
        "extension_available": overview.extension_available,
        "self_extension_days": case.policy.self_extension_days,
        "refusal": overview.refusal,
        "review_by": local_time(overview.review_by, zone),
        "retention_days": settings.PRIVACY_RETENTION_DAYS,
    }


@with_case
def case_page(request, case, token):
    return render(request, "verification/freelancer/case.html", _base_context(case, token))


class BookForm(forms.Form):
    starts_at = forms.DateTimeField(
        label=gettext_lazy("Time"), error_messages={"required": gettext_lazy("Pick one of the times above.")}
    )


@with_case
def book_page(request, case, token):
    zone = request.GET.get("timezone") or case.freelancer.timezone
    if zone not in zoneinfo.available_timezones():
        zone = case.freelancer.timezone
    language = request.GET.get("language", "")[:16]
    phone = request.GET.get("phone") == "on"
    error, taken, next_free = None, False, []
    if request.method == "POST":
        form = BookForm(request.POST)
        if form.is_valid():
            try:
                case_booking_choose(case_id=case.id, starts_at=form.cleaned_data["starts_at"], language=language,
                                    phone=phone, actor="freelancer", now=timezone.now())
                return redirect("freelancer-booked", token=token)
            except DomainError as problem:
                error = problem.detail
                if isinstance(problem, SlotTaken):
                    taken, next_free = True, problem.next_free_times
        else:
            error = form.errors["starts_at"][0]
    book = booking_page.case_booking_page(case=case, now=timezone.now(), zone_name=zone, language=language,
                                          phone=phone, day=request.GET.get("day"), next_free=next_free)
    offered = languages_offered()
    page_language = translation.get_language()
    context = {
        **_base_context(case, token), "book": book, "picker_zone": zone, "language": language, "phone": phone,
        "language_name": language_name(language) if language else "", "error": error, "zones": ZONES,
        "language_choices": [(code, language_name(code)) for code in offered],
        # Nobody holds calls in the freelancer's language: say so, and offer an interpreter.
        "unspoken_language": language_name(page_language) if not speaks(offered, page_language) else "",
    }
    partial = request.htmx and not request.htmx.history_restore_request  # htmx swaps the times in
    template = "verification/freelancer/_times.html" if partial else "verification/freelancer/book.html"
    return render(request, template, context, status=409 if taken else 400 if error else 200)


@with_case
def booked_page(request, case, token):
    """The confirmation after booking or moving: the time, how to join, add to calendar."""
    context = _base_context(case, token)
    if context["booking"] is None:
        return redirect("freelancer-case", token=token)
    return render(request, "verification/freelancer/booked.html", context)


@require_POST
@with_case
def language(request, case, token):
    """The language switcher: remembered on the case (pages and emails follow it), then back to
    the page the freelancer was on."""
    back = request.POST.get("next", "")
    if not (back.startswith(f"/c/{token}/") and url_has_allowed_host_and_scheme(back, allowed_hosts=None)):
        back = reverse("freelancer-case", kwargs={"token": token})
    try:
        case_language_choose(case_id=case.id, language=request.POST.get("language", ""), actor="freelancer",
                             now=timezone.now())
    except DomainError as problem:
        messages.error(request, problem.detail)
    return redirect(back)


def _act(request, token, service, case, success: str):
    """Run one service for the freelancer and go back to their case page with what happened."""
    try:
        service(case_id=case.id, actor="freelancer", now=timezone.now())
        messages.success(request, success)
    except DomainError as problem:
        messages.error(request, problem.detail)
    return redirect("freelancer-case", token=token)


@require_POST
@with_case
def cancel(request, case, token):
    return _act(request, token, case_booking_cancel, case,
                _("Your call is cancelled. Please book a new time before your deadline."))


@require_POST
@with_case
def earlier_times(request, case, token):
    """Turn "tell me if an earlier time opens" on or off."""
    wanted = request.POST.get("wanted") == "on"
    return _act(request, token, partial(case_earlier_times_set, wanted=wanted), case,
                _("We will email you if an earlier time opens.") if wanted
                else _("You will get no more emails about earlier times."))


@with_case
def earlier_offer(request, case, token, offer_id: int):
    """The link in an "earlier time opened" email. GET shows the time and one button (a link
    alone never moves a call: mail scanners open links); POST moves the call there, or says
    clearly that the time was taken, the booked call unchanged."""
    status, error = 200, None
    if request.method == "POST":
        try:
            case_earlier_time_accept(case_id=case.id, offer_id=offer_id, actor="freelancer", now=timezone.now())
            messages.success(request, _("Your call was moved to the earlier time."))
            return redirect("freelancer-booked", token=token)
        except EarlierOfferNotFound:
            pass  # shown as an unknown offer below
        except EarlierTimeTaken:
            status = 409
        except DomainError as problem:
            status, error = 409, problem.detail
    view = selectors.earlier_offer_view(case=case, offer_id=offer_id, now=timezone.now())
    if view is None:
        return render(request, "verification/freelancer/link_problem.html", {"expired": False}, status=404)
    if status == 409 and error is None and view.state == "open":
        view = selectors.EarlierOfferView(offer=view.offer, state="taken", booking=view.booking)
    zone = case.freelancer.timezone
    return render(request, "verification/freelancer/earlier.html", {
        **_base_context(case, token), "offer": view.offer, "state": view.state, "error": error,
        "offer_local": local_time(view.offer.starts_at, zone),
    }, status=status if status != 200 else (200 if view.state in ("open", "accepted") else 410))


@with_case
def invite(request, case, token):
    booking = booking_latest_for(case_ref=case.id)
    if booking is None:
        return render(request, "verification/freelancer/link_problem.html", {"no_booking": True}, status=404)
    response = HttpResponse(booking_invite(booking),
                            content_type=f"text/calendar; charset=utf-8; method={invite_method(booking)}")
    response["Content-Disposition"] = 'attachment; filename="verification-call.ics"'
    return response


@require_POST
@with_case
def extension(request, case, token):
    return _act(request, token, case_extension_request, case, _("Your deadline was extended."))


class AccommodationForm(forms.Form):
    """`?need=interpreter` (from the booking page when nobody speaks the freelancer's language)
    preselects that need."""

    need = forms.ChoiceField(label=gettext_lazy("What do you need?"), choices=AccommodationNeed.choices,
                             widget=forms.RadioSelect,
                             error_messages={"required": gettext_lazy("Choose what you need.")})
    note = forms.CharField(label=gettext_lazy("Anything we should know (optional)"), max_length=500,
                           required=False, widget=forms.Textarea(attrs={"rows": 3}))


def _form_page(request, case, token, *, form_class, template: str, submit, success: str):
    """A form page: on a valid POST call `submit(cleaned_data)` and go back to the case page; a
    domain error is shown on the form, which says what to change."""
    form = form_class(request.POST or None, initial={key: value[:40] for key, value in request.GET.items()})
    if request.method == "POST" and form.is_valid():
        try:
            submit(form.cleaned_data)
            messages.success(request, success)
            return redirect("freelancer-case", token=token)
        except DomainError as problem:
            form.add_error(None, problem.detail)
    return render(request, template, {**_base_context(case, token), "form": form}, status=400 if form.errors else 200)


@with_case
def accommodation(request, case, token):
    return _form_page(
        request, case, token, form_class=AccommodationForm, template="verification/freelancer/accommodation.html",
        success=_("Thank you. Staff will contact you. Until they have, submitting proposals will not be paused."),
        submit=lambda data: case_request_create(case_id=case.id, kind=RequestKind.ACCOMMODATION,
                                                actor="freelancer", now=timezone.now(), **data),
    )


class AppealForm(forms.Form):
    statement = forms.CharField(label=gettext_lazy("Why should the decision be looked at again?"), max_length=1000,
                                widget=forms.Textarea(attrs={"rows": 5}),
                                error_messages={"required": gettext_lazy("Write a short statement.")})


@with_case
def appeal(request, case, token):
    return _form_page(
        request, case, token, form_class=AppealForm, template="verification/freelancer/appeal.html",
        success=_("Your appeal was sent. A reviewer who was not on your call will decide."),
        submit=lambda data: case_appeal(case_id=case.id, actor="freelancer", now=timezone.now(), **data),
    )
