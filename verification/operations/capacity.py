"""Capacity forecast: for each of the next days (in the zone the admin picks), free slots against
the calls we expect to be asked for, overall, per language and for the phone route.

Demand. Every OPEN case (no call booked, notice sent) needs one call on some day from today to
its deadline. How the calls spread over those days is learned from the last 30 days: for each
call held (or started) in that window, how many days before its case's deadline it fell (its
*lead*). A case due in D days puts on day d the share
P(lead = D - d) / P(lead <= D). With fewer than `MIN_HISTORY` such calls there is too little to
learn from, and each case is spread evenly from today to its deadline. A case already past its
deadline (the sweep is about to extend it) counts as due today.

Language: a case needs a representative who speaks the freelancer's language (tags compared as
booking compares them). Phone: a case whose freelancer asked for no camera or phone only needs
the phone route; any other case counts with the share of the last 30 days' bookings (not
cancelled) that asked for it. Supply: free slots of active representatives from the earliest bookable time; a slot
counts for each language its representative speaks, and for the phone route if they take calls
by phone. A day where demand exceeds supply by at least half a call (`SHORT_CALLS`: less is the
noise of fractional expectations) is short by (demand - supply) calls; at one call per slot, that
is (short / slots per hour) representative-hours.

Every figure is a fixed number of grouped queries (days x languages rows), whatever the number
of cases or representatives.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Q
from django.db.models.functions import TruncDate

from scheduling.models import Booking, BookingStatus, RepresentativeLanguage, Slot
from verification.models import (
    AccommodationNeed,
    CallRecord,
    Case,
    CaseRequest,
    CaseStatus,
    RequestKind,
    RequestStatus,
)
from verification.operations.period import FORECAST_DAYS

HISTORY_DAYS = 30
MIN_HISTORY = 30  # calls; below this the lead distribution is not trusted
PHONE_NEEDS = [AccommodationNeed.NO_CAMERA, AccommodationNeed.PHONE_ONLY]
SHORT_CALLS = 0.5  # a day is flagged when at least half a call (it rounds to one) has no free slot


def day_shares(*, days_left: int, leads: dict[int, int] | None) -> list[float]:
    """How one case due in `days_left` days (0 = today) spreads over days 0..days_left: by the lead
    distribution (calls per number of days before the deadline), else evenly."""
    days_left = max(days_left, 0)
    weights = [float(leads.get(days_left - day, 0)) for day in range(days_left + 1)] if leads else []
    total = sum(weights)
    if total <= 0:
        return [1.0 / (days_left + 1)] * (days_left + 1)
    return [w / total for w in weights]


def spread_demand(*, due: dict[int, float], leads: dict[int, int] | None, horizon: int) -> list[float]:
    """Expected calls per day 0..horizon-1, from cases per deadline day (index from today)."""
    demand = [0.0] * horizon
    for days_left, count in due.items():
        for day, share in enumerate(day_shares(days_left=days_left, leads=leads)[:horizon]):
            demand[day] += count * share
    return demand


def rep_hours(short: float) -> float:
    """Representative-hours that close a gap of `short` calls, rounded up to a tenth."""
    slot_minutes = settings.CALL_MINUTES + settings.CALL_BUFFER_MINUTES
    return math.ceil(short * slot_minutes / 60 * 10) / 10


@dataclass
class Line:
    """One route (all calls, a language, the phone) on one day."""

    supply: int = 0
    demand: float = 0.0

    @property
    def short(self) -> float:
        return max(0.0, self.demand - self.supply)

    @property
    def flagged(self) -> bool:
        return self.demand - self.supply >= SHORT_CALLS

    @property
    def rep_hours(self) -> float:
        return rep_hours(self.short) if self.flagged else 0.0


@dataclass
class ForecastDay:
    day: date
    total: Line = field(default_factory=Line)
    phone: Line = field(default_factory=Line)
    languages: dict[str, Line] = field(default_factory=dict)

    @property
    def flagged_routes(self) -> list[str]:
        routes = ["all calls"] if self.total.flagged else []
        routes += [f"language {code}" for code, line in sorted(self.languages.items()) if line.flagged]
        return routes + (["phone"] if self.phone.flagged else [])


@dataclass
class Forecast:
    zone_name: str
    days: list[ForecastDay]
    languages: list[str]
    history_calls: int
    method: str  # "observed" or "uniform"
    phone_share: float
    open_cases: int


def _day_index(today: date, day: date | None) -> int:
    return 0 if day is None else (day - today).days


def forecast(*, now: datetime, zone_name: str, horizon: int = FORECAST_DAYS) -> Forecast:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(zone_name)
    today = now.astimezone(zone).date()
    window_end = datetime.combine(today + timedelta(days=horizon), time.min, tzinfo=zone)
    earliest = now + timedelta(minutes=settings.BOOKING_MIN_NOTICE_MINUTES)

    # history: calls of the last 30 days, by days before their case's deadline (a join on the case),
    # and the share of the bookings of those days that asked for the phone route
    since = now - timedelta(days=HISTORY_DAYS)
    history_rows = (
        CallRecord.objects.filter(outcome_at__gte=since, outcome_at__lt=now, started_at__isnull=False)
        .annotate(call_day=TruncDate("started_at", tzinfo=zone), deadline_day=TruncDate("case__deadline_at",
                                                                                         tzinfo=zone))
        .values("call_day", "deadline_day").annotate(n=Count("pk")).order_by()
    )
    leads: dict[int, int] = defaultdict(int)
    for row in history_rows:
        if row["deadline_day"] is not None and row["deadline_day"] >= row["call_day"]:
            leads[(row["deadline_day"] - row["call_day"]).days] += row["n"]
    booked = (Booking.objects.filter(starts_at__gte=since, starts_at__lt=now).exclude(status=BookingStatus.CANCELLED)
              .aggregate(n=Count("pk"), phone=Count("pk", filter=Q(phone=True))))
    trusted = sum(leads.values()) >= MIN_HISTORY
    phone_share = booked["phone"] / booked["n"] if booked["n"] else 0.0

    # demand: open cases by deadline day, language and whether they need the phone route
    phone_need = ExpressionWrapper(
        Q(pk__in=CaseRequest.objects.filter(kind=RequestKind.ACCOMMODATION, need__in=PHONE_NEEDS)
          .exclude(status=RequestStatus.DECLINED).values("case_id")),
        output_field=BooleanField())
    demand_rows = (
        Case.objects.filter(status=CaseStatus.OPEN, deadline_at__isnull=False)
        .annotate(deadline_day=TruncDate("deadline_at", tzinfo=zone), language=F("freelancer__language"),
                  needs_phone=phone_need)
        .values("deadline_day", "language", "needs_phone").annotate(n=Count("pk")).order_by()
    )
    due_all: dict[int, float] = defaultdict(float)
    due_phone: dict[int, float] = defaultdict(float)
    due_language: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    open_cases = 0
    for row in demand_rows:
        days_left = max(0, _day_index(today, row["deadline_day"]))
        open_cases += row["n"]
        due_all[days_left] += row["n"]
        due_phone[days_left] += row["n"] if row["needs_phone"] else row["n"] * phone_share
        due_language[row["language"]][days_left] += row["n"]

    # supply: one pass over the free slots, counted per day and representative; their languages apply after
    free = (Slot.objects.filter(is_booked=False, representative__active=True, starts_at__gte=earliest,
                                starts_at__lt=window_end)
            .annotate(day=TruncDate("starts_at", tzinfo=zone))
            .values("day", "representative_id", "representative__can_take_phone_calls").annotate(n=Count("pk"))
            .order_by())
    speaks: dict[int, list[str]] = defaultdict(list)
    for rep_id, code in RepresentativeLanguage.objects.filter(representative__active=True).values_list(
            "representative_id", "code"):
        speaks[rep_id].append(code)
    days = [ForecastDay(day=today + timedelta(days=i)) for i in range(horizon)]
    supply_language: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in free:
        index = _day_index(today, row["day"])
        if not 0 <= index < horizon:
            continue
        days[index].total.supply += row["n"]
        if row["representative__can_take_phone_calls"]:
            days[index].phone.supply += row["n"]
        for code in speaks[row["representative_id"]]:
            supply_language[code][index] += row["n"]

    used = leads if trusted else None
    for index, value in enumerate(spread_demand(due=due_all, leads=used, horizon=horizon)):
        days[index].total.demand = value
    for index, value in enumerate(spread_demand(due=due_phone, leads=used, horizon=horizon)):
        days[index].phone.demand = value
    languages = sorted(set(due_language) | set(supply_language))
    for code in languages:
        spread = spread_demand(due=due_language.get(code, {}), leads=used, horizon=horizon)
        for index in range(horizon):
            days[index].languages[code] = Line(supply=supply_language.get(code, {}).get(index, 0),
                                               demand=spread[index])
    return Forecast(zone_name=zone_name, days=days, languages=languages, history_calls=sum(leads.values()),
                    method="observed" if trusted else "uniform", phone_share=phone_share, open_cases=open_cases)
