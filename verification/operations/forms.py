"""Forms of the Operations pages: the period and zone (bad input is a message on the page, never a
500), and the grace-policy form that edits offsets as lists a person types ("72, 24")."""

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import available_timezones

from django import forms
from django.core.exceptions import ValidationError

from scheduling.models import validate_timezone
from verification.models import GracePolicy
from verification.operations.period import DEFAULT_DAYS, MAX_DAYS, PERIODS, Period

EARLIEST = date(2000, 1, 1)
ZONES = sorted(available_timezones() - {"localtime"})


class PeriodForm(forms.Form):
    days = forms.TypedChoiceField(
        label="Period", coerce=int, required=False, empty_value=DEFAULT_DAYS,
        choices=[(str(d), f"Last {d} days") for d in PERIODS],
        error_messages={"invalid_choice": "“%(value)s” is not a period on offer: pick the last 7, 14, 30 or 90 "
                                          "days, or give two dates."},
    )
    since = forms.DateField(label="Or from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="to (included)", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    zone = forms.CharField(label="Time zone (days and times)", required=False, max_length=64,
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
            raise ValidationError("Give both dates (from and to), or leave both empty and pick a period.")
        if since and until:
            latest = self.now.date() + timedelta(days=366)
            if not (EARLIEST <= since <= latest and EARLIEST <= until <= latest):
                raise ValidationError(f"Pick dates between {EARLIEST:%Y} and a year from today.")
            if since > until:
                raise ValidationError("The first date is after the second: swap them.")
            if (until - since).days + 1 > MAX_DAYS:
                raise ValidationError(f"That range is {(until - since).days + 1} days: pick at most {MAX_DAYS} "
                                      "days, so the page stays quick for everyone.")
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
                raise ValidationError(f"“{part}” is not a whole number of {self.unit}. Type numbers separated by "
                                      "commas, e.g. 72, 24.", code="not_a_number")
            numbers.append(int(part))
        return numbers

    def validate(self, value: list[int]) -> None:
        if not value and self.required:
            raise ValidationError(f"Give at least one time, in {self.unit}.", code="required")
        for number in value:
            if number <= 0:
                raise ValidationError(f"{number} is not more than 0: each must be a positive number of {self.unit}.",
                                      code="not_positive")
            if self.maximum is not None and number > self.maximum:
                raise ValidationError(f"{number} {self.unit} is more than the most allowed ({self.maximum}).",
                                      code="too_large")
        repeated = sorted({n for n in value if value.count(n) > 1})
        if repeated:
            raise ValidationError(f"{', '.join(map(str, repeated))} is listed twice: give each time once.",
                                  code="duplicate")
        if value != sorted(value, reverse=True):
            raise ValidationError(f"List them from the largest to the smallest: "
                                  f"{', '.join(map(str, sorted(value, reverse=True)))}.", code="not_sorted")


class GracePolicyForm(forms.ModelForm):
    warning_offsets_hours = OffsetsField(
        unit="hours", label="Warnings before the deadline (hours)",
        help_text="Largest first, separated by commas, e.g. 72, 24. Each inside the grace period; the last at least "
                  "the minimum warning lead before the deadline.")
    reminder_offsets_minutes = OffsetsField(
        unit="minutes", maximum=7 * 24 * 60, label="Reminders before a booked call (minutes)",
        help_text="Largest first, separated by commas, e.g. 1440, 60, 10 (a day, an hour, ten minutes before).")

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
                self.add_error("warning_offsets_hours", f"{', '.join(map(str, outside))} h is not inside the grace "
                               f"period ({grace_days} days = {grace_days * 24} h).")
        if warnings and lead is not None and min(warnings) < lead:
            self.add_error("warning_offsets_hours", f"The last warning ({min(warnings)} h before the deadline) must "
                           f"be at least the minimum warning lead ({lead} h) before it: the freeze guard would never "
                           "count it, and every deadline would be extended.")
        return data
