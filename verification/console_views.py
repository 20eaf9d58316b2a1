"""The representative's console and the reviewers' queue (staff login). A representative sees and
acts only on their own calls, a reviewer only on their queue, admins on all; anything else is a 404."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from notifications.timefmt import local_time
from scheduling import services as scheduling_services
from scheduling.ics import join_url, phone_route, presence_code
from scheduling.models import Booking, BookingStatus, Representative, Weekday
from verification import calls
from verification.models import (
    ON_A_CALL,
    AccommodationNeed,
    CallRecord,
    Case,
    NotVerifiedReason,
    Outcome,
    Review,
)
from verify_site.errors import DomainError


def _representative(request) -> Representative | None:
    return Representative.objects.filter(user=request.user).first()


def _booking_for(request, booking_id) -> Booking:
    booking = Booking.objects.select_related("representative").filter(pk=booking_id).first()
    if booking is None or (booking.representative.user_id != request.user.pk and not request.user.is_superuser):
        raise Http404("No such call.")
    return booking


@staff_member_required
def today(request):
    rep = _representative(request)
    if rep is None:  # admins start at Operations; reviewers (and staff without calls) at the review queue
        admin = request.user.has_perm("verification.view_operations")
        return redirect("operations-now" if admin else "console-reviews")
    zone = ZoneInfo(rep.timezone)
    now = timezone.now()
    day_start = datetime.combine(now.astimezone(zone).date(), time.min, tzinfo=zone)
    bookings = list(Booking.objects.filter(representative=rep, starts_at__gte=day_start,
                                           starts_at__lt=day_start + timedelta(days=1))
                    .exclude(status=BookingStatus.CANCELLED).order_by("starts_at"))
    outcomes = dict(CallRecord.objects.filter(booking_id__in=[b.id for b in bookings])
                    .values_list("booking_id", "outcome"))
    rows = [{"booking": b, "local": local_time(b.starts_at, rep.timezone), "outcome": outcomes.get(b.id, ""),
             "first_name": b.attendee_name.split()[0]} for b in bookings]
    upcoming = [r for r in rows if r["booking"].status == BookingStatus.ACTIVE and r["booking"].ends_at > now]
    return render(request, "verification/console/today.html", {
        "rep": rep, "rows": rows, "next": upcoming[0] if upcoming else None,
        "hours": rep.working_hours.order_by("weekday", "starts"),
        "time_off": [{"pk": off.pk, "note": off.note, "label": f"{local_time(off.starts_at, rep.timezone)} – "
                                                              f"{local_time(off.ends_at, rep.timezone)}"}
                     for off in rep.time_off.filter(ends_at__gt=now).order_by("starts_at")],
        "hours_form": HoursForm(prefix="hours"), "time_off_form": TimeOffForm(prefix="off"),
        "reviews": Review.objects.filter(assigned_to=request.user, decided_at__isnull=True).count(),
    })


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


@require_POST
@staff_member_required
def hours_change(request):
    rep = _representative(request)
    if rep is None:
        raise Http404("You are not set up as a representative.")
    now, zone = timezone.now(), ZoneInfo(rep.timezone)
    try:
        if "remove" in request.POST:
            if not request.POST["remove"].isdigit():
                raise scheduling_services.HoursInvalid("Pick the hours to remove from the list.")
            scheduling_services.working_hours_remove(representative_id=rep.pk, hours_id=int(request.POST["remove"]),
                                                     now=now)
        elif "remove_off" in request.POST:
            if not request.POST["remove_off"].isdigit():
                raise scheduling_services.HoursInvalid("Pick the time off to remove from the list.")
            scheduling_services.time_off_remove(representative_id=rep.pk, time_off_id=int(request.POST["remove_off"]),
                                                now=now)
        elif "hours-weekday" in request.POST:
            form = HoursForm(request.POST, prefix="hours")
            if not form.is_valid():
                raise scheduling_services.HoursInvalid("Pick a day and both times.")
            scheduling_services.working_hours_add(representative_id=rep.pk, now=now, **form.cleaned_data)
        else:
            form = TimeOffForm(request.POST, prefix="off")
            if not form.is_valid():
                raise scheduling_services.HoursInvalid("Give when the time off starts and ends.")
            data = form.cleaned_data
            scheduling_services.time_off_add(
                representative_id=rep.pk, note=data["note"], now=now,
                starts_at=data["starts"].replace(tzinfo=None).replace(tzinfo=zone),
                ends_at=data["ends"].replace(tzinfo=None).replace(tzinfo=zone))
        messages.success(request, _("Saved. Your bookable times were updated."))
    except DomainError as problem:
        messages.error(request, problem.detail)
    return redirect("console-today")


@staff_member_required
def call_page(request, booking_id):
    booking = _booking_for(request, booking_id)
    case = Case.objects.select_related("freelancer").get(pk=booking.case_ref)
    call = CallRecord.objects.select_related("checklist").filter(booking_id=booking.id).first()
    now = timezone.now()
    no_show_from = calls.no_show_allowed_from(case=case, booking=booking)
    return render(request, "verification/console/call.html", {
        "booking": booking, "case": case, "call": call, "join_url": join_url(booking), "phone": phone_route(booking),
        "presence_code": presence_code(booking),
        "local": local_time(booking.starts_at, booking.representative.timezone),
        "questions": calls.checklist_questions(call) if call else [],
        "no_show_allowed": now >= no_show_from, "no_show_from": local_time(no_show_from,
                                                                           booking.representative.timezone),
        "outcomes": [(outcome, Outcome(outcome).label) for outcome in ON_A_CALL],
        "needs": AccommodationNeed.choices,
    })


@require_POST
@staff_member_required
def call_action(request, booking_id):
    booking = _booking_for(request, booking_id)
    now, user = timezone.now(), request.user
    try:
        if "start" in request.POST:
            calls.call_start(booking_id=booking.id, user=user, now=now)
        elif "outcome" in request.POST:
            for key, value in request.POST.items():
                if key.startswith("answer:"):
                    calls.call_answer(booking_id=booking.id, user=user, key=key[7:], choice=value, now=now)
            if request.POST["outcome"]:
                calls.call_outcome(booking_id=booking.id, user=user, outcome=request.POST["outcome"], now=now,
                                   note=request.POST.get("note", "").strip(),
                                   need=request.POST.get("need", ""))
                messages.success(request, _("Outcome recorded. The case was updated."))
    except DomainError as problem:
        messages.error(request, problem.detail)
    return redirect("console-call", booking_id=booking.id)


@staff_member_required
def reviews(request):
    queue = Review.objects.select_related("case", "case__freelancer").filter(decided_at__isnull=True)
    if not request.user.is_superuser:
        queue = queue.filter(assigned_to=request.user)
    return render(request, "verification/console/reviews.html", {"queue": queue.order_by("created_at")})


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), widget=forms.RadioSelect,
                                 choices=[(Outcome.VERIFIED, _("Verified")), (Outcome.NOT_VERIFIED, _("Not verified"))])
    reason_code = forms.ChoiceField(label=_("Reason (if not verified)"), required=False,
                                    choices=[("", "—"), *NotVerifiedReason.choices])
    statement = forms.CharField(label=_("Statement of reasons the freelancer will see"), max_length=1000,
                                required=False, widget=forms.Textarea(attrs={"rows": 4}))


@staff_member_required
def review_page(request, review_id):
    review = Review.objects.select_related("case", "case__freelancer", "call").filter(pk=review_id).first()
    if review is None or (review.assigned_to_id != request.user.pk and not request.user.is_superuser):
        raise Http404("No such review.")
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            calls.review_decide(review_id=review.pk, user=request.user, now=timezone.now(), **form.cleaned_data)
            messages.success(request, _("Decision recorded."))
            return redirect("console-reviews")
        except DomainError as problem:
            form.add_error(None, problem.detail)
    answers = review.call.answers if review.call else {}
    return render(request, "verification/console/review.html", {"review": review, "form": form, "answers": answers},
                  status=400 if form.errors else 200)
