"""The representative's console and the reviewers' queue (staff login). A representative sees and
acts only on their own calls, a reviewer only on their queue, admins on all (`verification.access`).
A page of a role the user does not have answers 403; someone else's call or review answers 404.
Each view parses, makes one call into a selector or service, renders."""

from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from notifications.timefmt import local_time
from scheduling.errors import DomainError, HoursInvalid
from scheduling.ics import join_url, phone_route, presence_code
from scheduling.models import Booking, Weekday
from scheduling.services.feeds import calendar_feed_revoke, calendar_feed_rotate
from scheduling.services.hours import time_off_add, time_off_remove, working_hours_add, working_hours_remove
from verification import console_selectors
from verification.access import is_admin, may_review
from verification.errors import DeciderNotIndependent
from verification.models import AccommodationNeed, NotVerifiedReason, Outcome
from verification.services.calls import call_record, call_start
from verification.services.earlier import representative_hours_change
from verification.services.reviews import review_assign, review_decide

NOT_A_REPRESENTATIVE = _("These pages are for representatives: your login is not set up as one.")
NOT_A_REVIEWER = _("The review pages are for reviewers and admins: your login is in neither group.")


def _representative_pages(request) -> None:
    """The call and hours pages are for representatives (and admins, who may run a call for one)."""
    if not is_admin(request.user) and console_selectors.representative_of(request.user) is None:
        raise PermissionDenied(NOT_A_REPRESENTATIVE)


def _review_pages(request) -> None:
    if not may_review(request.user):
        raise PermissionDenied(NOT_A_REVIEWER)


def _booking_for(request, booking_id) -> Booking:
    _representative_pages(request)
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
    if rep is None:  # admins start at Operations, reviewers at the review queue, anyone else is refused
        if request.user.has_perm("verification.view_operations"):
            return redirect("operations-now")
        _review_pages(request)
        return redirect("console-reviews")
    day = console_selectors.representative_today(rep=rep, user=request.user, now=timezone.now())
    return render(request, "verification/console/today.html", {
        "rep": rep, "rows": day.rows, "next": day.next, "time_off": day.time_off, "reviews": day.reviews,
        "hours": rep.working_hours.order_by("weekday", "starts"),
        "hours_form": HoursForm(prefix="hours"), "time_off_form": TimeOffForm(prefix="off"),
        "feed_since": day.feed_since,
    })


def _hours_change(request, change) -> HttpResponse:
    """Run one change of the representative's own hours or time off and go back to Today with what
    happened (a busy or invalid change is a message, never a 500)."""
    rep = console_selectors.representative_of(request.user)
    if rep is None:
        raise PermissionDenied(NOT_A_REPRESENTATIVE)
    try:
        now = timezone.now()
        representative_hours_change(change=lambda: change(rep, now), now=now)
        messages.success(request, _("Saved. Your bookable times were updated."))
    except DomainError as problem:
        messages.error(request, problem.detail)
    return redirect("console-today")


def _listed_id(request, problem: str) -> int:
    value = request.POST.get("remove", "")
    if not (value.isascii() and value.isdigit()) or len(value) > 18:  # not '²', which int() refuses
        raise HoursInvalid(problem)
    return int(value)


@require_POST
@staff_member_required
def hours_add(request):
    def change(rep, now):
        form = HoursForm(request.POST, prefix="hours")
        if not form.is_valid():
            raise HoursInvalid(_("Pick a day and both times."))
        return working_hours_add(representative_id=rep.pk, now=now, **form.cleaned_data)

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
        return time_off_add(representative_id=rep.pk, note=data["note"], now=now,
                     starts_at=data["starts"].replace(tzinfo=None).replace(tzinfo=zone),
                     ends_at=data["ends"].replace(tzinfo=None).replace(tzinfo=zone))

    return _hours_change(request, change)


@require_POST
@staff_member_required
def time_off_remove_page(request):
    return _hours_change(request, lambda rep, now: time_off_remove(
        representative_id=rep.pk, time_off_id=_listed_id(request, _("Pick the time off to remove from the list.")),
        now=now))


def own_representative(request):
    """The signed-in representative (the calendar feed's and calendar's own actions), else 404."""
    rep = console_selectors.representative_of(request.user)
    if rep is None:
        raise Http404("You are not set up as a representative.")
    return rep


@require_POST
@staff_member_required
def calendar_feed_rotate_page(request):
    """Make a new calendar feed link (the old one stops working) and show it, this once: only its
    hash is kept, so the page is not cached and the link is not put in a message or the session."""
    rep = own_representative(request)
    token = calendar_feed_rotate(representative_id=rep.pk, actor=f"user:{request.user.get_username()}",
                                 now=timezone.now())
    url = settings.PUBLIC_BASE_URL + reverse("calendar-feed", kwargs={"token": token})
    response = render(request, "verification/console/calendar_feed.html", {"rep": rep, "feed_url": url})
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@staff_member_required
def calendar_feed_revoke_page(request):
    rep = own_representative(request)
    if calendar_feed_revoke(representative_id=rep.pk, actor=f"user:{request.user.get_username()}",
                            now=timezone.now()):
        messages.success(request, _("Your calendar feed link was turned off. Calendars subscribed to it get "
                                    "no more updates."))
    return redirect("console-today")


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
    _review_pages(request)
    return render(request, "verification/console/reviews.html",
                  {"queue": console_selectors.review_queue(user=request.user)})


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), widget=forms.RadioSelect,
                                 choices=[(Outcome.VERIFIED, _("Verified")), (Outcome.NOT_VERIFIED, _("Not verified"))])
    reason_code = forms.ChoiceField(label=_("Reason (if not verified)"), required=False,
                                    choices=[("", "—"), *NotVerifiedReason.choices])
    statement = forms.CharField(label=_("Statement of reasons the freelancer will see"), max_length=1000,
                                required=False, widget=forms.Textarea(attrs={"rows": 4}))


class AssignForm(forms.Form):
    assignee = forms.TypedChoiceField(label=_("Assign to"), coerce=int)

    def __init__(self, *args, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [
            (u.pk, f"{u.get_username()} ({_('reviewer') if u.reviewer else _('staff')}, "
                   f"{u.open_reviews} {_('open')})") for u in people]


def _review_for(request, review_id):
    _review_pages(request)
    review = console_selectors.review_for_staff(user=request.user, review_id=review_id)
    if review is None:
        raise Http404("No such review.")
    return review


def _review_render(request, review, form, *, status=200, assign_form=None):
    admin = is_admin(request.user) and review.decided_at is None  # only an open review can be reassigned
    if admin and assign_form is None:
        assign_form = AssignForm(people=console_selectors.review_assignable_users(review))
    answers = review.call.answers if review.call else {}
    return render(request, "verification/console/review.html", {
        "review": review, "form": form, "answers": answers, "assign_form": assign_form if admin else None,
    }, status=status)


@staff_member_required
def review_page(request, review_id):
    review = _review_for(request, review_id)
    form = DecisionForm(request.POST or None)
    status = 400
    if request.method == "POST" and form.is_valid():
        try:
            review_decide(review_id=review.pk, user=request.user, now=timezone.now(), **form.cleaned_data)
            messages.success(request, _("Decision recorded."))
            return redirect("console-reviews")
        except DomainError as problem:
            form.add_error(None, problem.detail)
            status = 403 if isinstance(problem, DeciderNotIndependent) else 400
    return _review_render(request, review, form, status=status if form.errors else 200)


@require_POST
@staff_member_required
def review_assign_page(request, review_id):
    """An admin gives an open review (an appeal nobody eligible could take) to another person."""
    review = _review_for(request, review_id)
    if not is_admin(request.user):
        raise PermissionDenied(_("Only an admin can assign a review."))
    form = AssignForm(request.POST, people=console_selectors.review_assignable_users(review))
    if form.is_valid():
        try:
            review_assign(review_id=review.pk, user=request.user, assignee_id=form.cleaned_data["assignee"],
                          now=timezone.now())
            messages.success(request, _("Assigned."))
            return redirect("console-review", review_id=review.pk)
        except DomainError as problem:
            form.add_error(None, problem.detail)
    else:
        form.add_error(None, _("Pick someone from the list: people who were on the case are not listed."))
    return _review_render(request, review, DecisionForm(), status=400, assign_form=form)
