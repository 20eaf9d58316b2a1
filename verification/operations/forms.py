"""Forms of the Operations pages: the period and zone (bad input is a message on the page, never a
500), and the grace-policy form that edits offsets as lists a person types ("72, 24")."""

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import available_timezones

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from scheduling.models import validate_timezone
from verification.models import GracePolicy
from verification.operations.period import DEFAULT_DAYS, MAX_DAYS, PERIODS, Period

EARLIEST = date(2000, 1, 1)
ZONES = sorted(available_timezones() - {"localtime"})


class PeriodForm(forms.Form):
    days = forms.TypedChoiceField(
        label=_("Period"), coerce=int, required=False, empty_value=DEFAULT_DAYS,
        choices=[(str(d), format_lazy(_("Last {days} days"), days=d)) for d in PERIODS],
        error_messages={"invalid_choice": _("“%(value)s” is not a period on offer: pick the last 7, 14, 30 or 90 "
                                            "days, or give two dates.")},
    )
    since = forms.DateField(label=_("Or from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("to (included)"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    zone = forms.CharField(label=_("Time zone (days and times)"), required=False, max_length=64,
                           validators=[validate_timezone],
                           widget=forms.Select(choices=[(z, z) for z in ZONES]))

    def __init__(self, data, *, now: datetime, **kwargs):
        data = data.copy()  # empty fields show (and mean) the defaults
        for key, default in (("days", str(DEFAULT_DAYS)), ("zone", "UTC")):
            if not data.get(key):
                data[key] = default
        super().__init__(data, **kwargs)
        self.now = now

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if "since" in self.errors or "until" in self.errors:
            return data
        if bool(since) != bool(until):
            raise ValidationError(_("Give both dates (from and to), or leave both empty and pick a period."))
        if since and until:
            latest = self.now.date() + timedelta(days=366)
            if not (EARLIEST <= since <= latest and EARLIEST <= until <= latest):
                raise ValidationError(_("Pick dates between %(year)s and a year from today.") % {"year": EARLIEST.year})
            if since > until:
                raise ValidationError(_("The first date is after the second: swap them."))
            if (until - since).days + 1 > MAX_DAYS:
                raise ValidationError(_("That range is %(days)s days: pick at most %(most)s days, so the page stays "
                                        "quick for everyone.") % {"days": (until - since).days + 1, "most": MAX_DAYS})
        return data

    def period(self) -> Period:
        data = self.cleaned_data
        zone_name = data.get("zone") or "UTC"
        if data.get("since"):
            probe = Period(start=self.now, end=self.now, zone_name=zone_name, days=None, now=self.now)
            start = datetime.combine(data["since"], time.min, tzinfo=probe.zone)
            end = datetime.combine(data["until"] + timedelta(days=1), time.min, tzinfo=probe.zone)
            return Period(start=start, end=end, zone_name=zone_name, days=None, now=self.now)
        days = data.get("days") or DEFAULT_DAYS
        return Period(start=self.now - timedelta(days=days), end=self.now, zone_name=zone_name, days=days,
                      now=self.now)


class OffsetsField(forms.Field):
    """A list of whole numbers a person types, largest first: "72, 24". Stored as a JSON list."""

    widget = forms.TextInput

    def __init__(self, *, unit: str, maximum: int | None = None, **kwargs):
        self.unit, self.maximum = unit, maximum
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value) -> list[int]:
        if isinstance(value, list | tuple):
            return list(value)
        text = (value or "").strip().strip("[]")
        numbers = []
        for part in (p for p in re.split(r"[,;\s]+", text) if p):
            if not re.fullmatch(r"-?\d{1,6}", part):
                raise ValidationError(_("“%(part)s” is not a whole number of %(unit)s. Type numbers separated by "
                                        "commas, e.g. 72, 24.") % {"part": part, "unit": self.unit},
                                      code="not_a_number")
            numbers.append(int(part))
        return numbers

    def validate(self, value: list[int]) -> None:
        if not value and self.required:
            raise ValidationError(_("Give at least one time, in %(unit)s.") % {"unit": self.unit}, code="required")
        for number in value:
            if number <= 0:
                raise ValidationError(_("%(number)s is not more than 0: each must be a positive number of %(unit)s.")
                                      % {"number": number, "unit": self.unit}, code="not_positive")
            if self.maximum is not None and number > self.maximum:
                raise ValidationError(_("%(number)s %(unit)s is more than the most allowed (%(most)s).")
                                      % {"number": number, "unit": self.unit, "most": self.maximum}, code="too_large")
        repeated = sorted({n for n in value if value.count(n) > 1})
        if repeated:
            raise ValidationError(_("%(numbers)s is listed twice: give each time once.")
                                  % {"numbers": ", ".join(map(str, repeated))}, code="duplicate")
        if value != sorted(value, reverse=True):
            raise ValidationError(_("List them from the largest to the smallest: %(numbers)s.")
                                  % {"numbers": ", ".join(map(str, sorted(value, reverse=True)))}, code="not_sorted")


class GracePolicyForm(forms.ModelForm):
    warning_offsets_hours = OffsetsField(
        unit=_("hours"), label=_("Warnings before the deadline (hours)"),
        help_text=_("Largest first, separated by commas, e.g. 72, 24. Each inside the grace period; the last at "
                    "least the minimum warning lead before the deadline."))
    reminder_offsets_minutes = OffsetsField(
        unit=_("minutes"), maximum=7 * 24 * 60, label=_("Reminders before a booked call (minutes)"),
        help_text=_("Largest first, separated by commas, e.g. 1440, 60, 10 (a day, an hour, ten minutes before)."))

    class Meta:
        model = GracePolicy
        fields = [f.name for f in GracePolicy._meta.concrete_fields if f.editable and not f.primary_key]

    def clean(self):
        data = super().clean()
        warnings, grace_days = data.get("warning_offsets_hours"), data.get("grace_days")
        lead = data.get("min_warning_lead_hours")
        if warnings and grace_days:
            outside = [h for h in warnings if h >= grace_days * 24]
            if outside:
                self.add_error("warning_offsets_hours", _(
                    "%(hours)s h is not inside the grace period (%(days)s days = %(total)s h).") % {
                    "hours": ", ".join(map(str, outside)), "days": grace_days, "total": grace_days * 24})
        if warnings and lead is not None and min(warnings) < lead:
            self.add_error("warning_offsets_hours", _(
                "The last warning (%(last)s h before the deadline) must be at least the minimum warning lead "
                "(%(lead)s h) before it: the freeze guard would never count it, and every deadline would be "
                "extended.") % {"last": min(warnings), "lead": lead})
        return data
