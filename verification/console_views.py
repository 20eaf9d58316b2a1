"""The representative's console and the reviewers' queue (staff login). A representative sees and
acts only on their own calls, a reviewer only on their queue, admins on all; anything else is a
404 (`verification.access`). Each view parses, makes one call into a selector or service, renders."""

from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from notifications.timefmt import local_time
from scheduling.errors import DomainError, HoursInvalid
from scheduling.ics import join_url, phone_route, presence_code
from scheduling.models import Booking, Weekday
from scheduling.services.hours import time_off_add, time_off_remove, working_hours_add, working_hours_remove
from verification import console_selectors
from verification.models import AccommodationNeed, NotVerifiedReason, Outcome
from verification.services.calls import call_record, call_start
from verification.services.reviews import review_decide


def _booking_for(request, booking_id) -> Booking:
    booking = console_selectors.booking_for_staff(user=request.user, booking_id=booking_id)
    if booking is None:
        raise Http404("No such call.")
    return booking


class HoursForm(forms.Form):
    weekday = forms.TypedChoiceField(label=_("Day"), choices=Weekday.choices, coerce=int)
    starts = forms.TimeField(label=_("From (your local time)"), widget=forms.TimeInput(attrs={"type": "time"}))
    ends = forms.TimeField(label=_("To (your local time)"), widget=forms.TimeInput(attrs={"type": "time"}))


class TimeOffForm(forms.Form):
    starts = forms.DateTimeField(label=_("From (your local time)"),
                                 widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends = forms.DateTimeField(label=_("To (your local time)"),
                               widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    note = forms.CharField(label=_("Note (optional)"), max_length=200, required=False)


@staff_member_required
def today(request):
    rep = console_selectors.representative_of(request.user)
    if rep is None:  # admins start at Operations; reviewers (and staff without calls) at the review queue
        admin = request.user.has_perm("verification.view_operations")
        return redirect("operations-now" if admin else "console-reviews")
    day = console_selectors.representative_today(rep=rep, user=request.user, now=timezone.now())
    return render(request, "verification/console/today.html", {
        "rep": rep, "rows": day.rows, "next": day.next, "time_off": day.time_off, "reviews": day.reviews,
        "hours": rep.working_hours.order_by("weekday", "starts"),
        "hours_form": HoursForm(prefix="hours"), "time_off_form": TimeOffForm(prefix="off"),
    })


def _hours_change(request, change) -> HttpResponse:
    """Run one change of the representative's own hours or time off and go back to Today with what
    happened (a busy or invalid change is a message, never a 500)."""
    rep = console_selectors.representative_of(request.user)
    if rep is None:
        raise Http404("You are not set up as a representative.")
    try:
        change(rep, timezone.now())
        messages.success(request, _("Saved. Your bookable times were updated."))
    except DomainError as problem:
        messages.error(request, problem.detail)
    return redirect("console-today")


def _listed_id(request, problem: str) -> int:
    value = request.POST.get("remove", "")
    if not value.isdigit() or len(value) > 18:
        raise HoursInvalid(problem)
    return int(value)


@require_POST
@staff_member_required
def hours_add(request):
    def change(rep, now):
        form = HoursForm(request.POST, prefix="hours")
        if not form.is_valid():
            raise HoursInvalid(_("Pick a day and both times."))
        working_hours_add(representative_id=rep.pk, now=now, **form.cleaned_data)

    return _hours_change(request, change)


@require_POST
@staff_member_required
def hours_remove(request):
    return _hours_change(request, lambda rep, now: working_hours_remove(
        representative_id=rep.pk, hours_id=_listed_id(request, _("Pick the hours to remove from the list.")), now=now))


@require_POST
@staff_member_required
def time_off_add_page(request):
    def change(rep, now):
        form = TimeOffForm(request.POST, prefix="off")
        if not form.is_valid():
            raise HoursInvalid(_("Give when the time off starts and ends."))
        data, zone = form.cleaned_data, ZoneInfo(rep.timezone)
        time_off_add(representative_id=rep.pk, note=data["note"], now=now,
                     starts_at=data["starts"].replace(tzinfo=None).replace(tzinfo=zone),
                     ends_at=data["ends"].replace(tzinfo=None).replace(tzinfo=zone))

    return _hours_change(request, change)


@require_POST
@staff_member_required
def time_off_remove_page(request):
    return _hours_change(request, lambda rep, now: time_off_remove(
        representative_id=rep.pk, time_off_id=_listed_id(request, _("Pick the time off to remove from the list.")),
        now=now))


@staff_member_required
def call_page(request, booking_id):
    booking = _booking_for(request, booking_id)
    page = console_selectors.call_page_data(booking=booking, now=timezone.now())
    zone = booking.representative.timezone
    return render(request, "verification/console/call.html", {
        "booking": booking, "case": page.case, "call": page.call, "questions": page.questions,
        "outcomes": page.outcomes, "no_show_from": local_time(page.no_show_from, zone),
        "join_url": join_url(booking), "phone": phone_route(booking), "presence_code": presence_code(booking),
        "local": local_time(booking.starts_at, zone), "needs": AccommodationNeed.choices,
    })


@require_POST
@staff_member_required
def call_action(request, booking_id):
    booking = _booking_for(request, booking_id)
    try:
        if "start" in request.POST:
            call_start(booking_id=booking.id, user=request.user, now=timezone.now())
        else:
            answers = {key[7:]: value for key, value in request.POST.items() if key.startswith("answer:")}
            call = call_record(booking_id=booking.id, user=request.user, answers=answers, now=timezone.now(),
                               outcome=request.POST.get("outcome", ""), note=request.POST.get("note", "").strip(),
                               need=request.POST.get("need", ""))
            if call.outcome:
                messages.success(request, _("Outcome recorded. The case was updated."))
    except DomainError as problem:
        messages.error(request, problem.detail)
    return redirect("console-call", booking_id=booking.id)


@staff_member_required
def reviews(request):
    return render(request, "verification/console/reviews.html",
                  {"queue": console_selectors.review_queue(user=request.user)})


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), widget=forms.RadioSelect,
                                 choices=[(Outcome.VERIFIED, _("Verified")), (Outcome.NOT_VERIFIED, _("Not verified"))])
    reason_code = forms.ChoiceField(label=_("Reason (if not verified)"), required=False,
                                    choices=[("", "—"), *NotVerifiedReason.choices])
    statement = forms.CharField(label=_("Statement of reasons the freelancer will see"), max_length=1000,
                                required=False, widget=forms.Textarea(attrs={"rows": 4}))


@staff_member_required
def review_page(request, review_id):
    review = console_selectors.review_for_staff(user=request.user, review_id=review_id)
    if review is None:
        raise Http404("No such review.")
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            review_decide(review_id=review.pk, user=request.user, now=timezone.now(), **form.cleaned_data)
            messages.success(request, _("Decision recorded."))
            return redirect("console-reviews")
        except DomainError as problem:
            form.add_error(None, problem.detail)
    answers = review.call.answers if review.call else {}
    return render(request, "verification/console/review.html", {"review": review, "form": form, "answers": answers},
                  status=400 if form.errors else 200)
