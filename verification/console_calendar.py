"""The console's Calendar page: a representative connects their own calendar (CalDAV or a private
iCal address), sees whether it is in sync, and hands a call their calendar now blocks to a
colleague; an admin sees every stale calendar and every conflict. Each view makes one call."""

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from notifications.timefmt import local_time
from scheduling import selectors
from scheduling.errors import DomainError
from scheduling.services import calendars
from verification import console_selectors
from verification.console_views import own_representative
from verification.services.calendars import representative_calendar_connect


class CaldavForm(forms.Form):
    url = forms.CharField(label=_("Server address"), max_length=500,
                          widget=forms.URLInput(attrs={"placeholder": "https://caldav.fastmail.com/"}))
    username = forms.CharField(label=_("User name"), max_length=200)
    password = forms.CharField(label=_("App password"), max_length=500, widget=forms.PasswordInput(render_value=False))


class IcalForm(forms.Form):
    ical_url = forms.CharField(label=_("Private iCal address"), max_length=2000,
                               widget=forms.PasswordInput(render_value=False))


def _admin(user) -> bool:
    return user.has_perm("verification.view_operations")


def may_use_calendar_page(user) -> bool:
    """Representatives (their own calendar) and admins (every representative's conflicts)."""
    return _admin(user) or console_selectors.representative_of(user) is not None


@staff_member_required
def calendar_page(request):
    if not may_use_calendar_page(request.user):
        raise PermissionDenied(_("The calendar page is for representatives and admins: your login is neither."))
    rep = console_selectors.representative_of(request.user)
    now = timezone.now()
    connection = selectors.calendar_connection_of(representative_id=rep.pk) if rep else None
    admin = _admin(request.user)
    conflicts = selectors.calendar_conflicts(now=now, representative_id=None if admin or rep is None else rep.pk)
    return render(request, "verification/console/calendar.html", {
        "rep": rep, "connection": connection, "caldav_form": CaldavForm(prefix="caldav"),
        "ical_form": IcalForm(prefix="ical"),
        "conflicts": [{"booking": b, "local": local_time(b.starts_at, b.representative.timezone)} for b in conflicts],
        "stale": selectors.calendar_connections_stale() if admin else [],
    })


def _change(request, change, success) -> object:
    rep = console_selectors.representative_of(request.user)
    try:
        change(rep, timezone.now())
        messages.success(request, success)
    except DomainError as problem:
        messages.error(request, problem.detail)
    return redirect("console-calendar")


@require_POST
@staff_member_required
def calendar_connect(request):
    rep, actor = own_representative(request), f"user:{request.user.get_username()}"

    def change(_rep, now):
        if "ical-ical_url" in request.POST:
            form = IcalForm(request.POST, prefix="ical")
            if not form.is_valid():
                raise calendars.CalendarProblem("calendar_wrong_url", "Give the private iCal address.")
            calendars.calendar_connect_ical(representative_id=rep.pk, url=form.cleaned_data["ical_url"], actor=actor,
                                            now=now)
            return
        form = CaldavForm(request.POST, prefix="caldav")
        if not form.is_valid():
            raise calendars.CalendarProblem("calendar_wrong_url",
                                            "Give the server address, user name and app password.")
        representative_calendar_connect(representative_id=rep.pk, actor=actor, now=now, **form.cleaned_data)

    return _change(request, change, _("Connected. Your calendar's busy times now block your bookable times."))


@require_POST
@staff_member_required
def calendar_disconnect(request):
    rep = own_representative(request)
    return _change(request, lambda _rep, now: calendars.calendar_disconnect(
        representative_id=rep.pk, actor=f"user:{request.user.get_username()}", now=now),
        _("Disconnected. Your calendar's password and busy times were deleted."))


@require_POST
@staff_member_required
def calendar_hand_over(request, booking_id):
    rep, admin = console_selectors.representative_of(request.user), _admin(request.user)
    if rep is None and not admin:
        raise Http404("No such call.")
    return _change(request, lambda _rep, now: calendars.booking_hand_over(
        booking_id=booking_id, representative_id=None if admin else rep.pk,
        actor=f"user:{request.user.get_username()}", now=now),
        _("Handed over: a colleague takes the call at the same time, and the freelancer is told."))
