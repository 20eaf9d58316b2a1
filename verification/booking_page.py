"""What the "Pick a time" page shows: the case's free times turned into a short choice a person can
make on a phone in three taps (a day, a time, confirm).

- the soonest free time (and, when that one is at night, the soonest one outside the night);
- a chip for each day up to the deadline, with how many times it has;
- the chosen day's times by part of the day in the page's zone (night, morning, afternoon,
  evening), parts without times left out, the night folded away unless it is the only choice;
- within a part, the earliest free start of each quarter of an hour, and every other free start
  under "more times": nothing free is ever dropped, only folded.

`booking_page` is pure (plain data in, plain data out: no database, no clock), so the rules are
tested on their own; `case_booking_page` feeds it the case's availability.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from notifications.timefmt import wall_clock
from verification.models import Case
from verification.selectors import case_availability_json, iso

STEP_MINUTES = 15  # the readable step within a part of the day; the 5-minute starts between go under "more"

# key, name, first hour, last hour (exclusive), in the page's zone
PARTS: tuple[tuple[str, Promise, int, int], ...] = (
    ("night", gettext_lazy("Night"), 0, 6),
    ("morning", gettext_lazy("Morning"), 6, 12),
    ("afternoon", gettext_lazy("Afternoon"), 12, 18),
    ("evening", gettext_lazy("Evening"), 18, 24),
)

PART_NAMES = {key: name for key, name, *_ in PARTS}


@dataclass(frozen=True)
class Choice:
    """One free start: `starts_at` is the form's value (UTC, ISO 8601), `label` the wall clock in
    the page's zone ("14:15"; "01:30 EDT" for a time that happens twice on a fall-back night)."""

    starts_at: str
    label: str
    day: date
    part: str  # night | morning | afternoon | evening

    @property
    def part_name(self) -> Promise:
        return PART_NAMES[self.part]


@dataclass(frozen=True)
class DayPart:
    key: str  # night | morning | afternoon | evening
    name: Promise
    first_hour: int
    end_hour: int
    times: tuple[Choice, ...]  # the earliest free start in each quarter of an hour
    more: tuple[Choice, ...]  # every other free start of the part
    collapsed: bool  # the night, unless it is the day's only choice

    @property
    def count(self) -> int:
        return len(self.times) + len(self.more)

    @property
    def span(self) -> str:
        return f"{self.first_hour:02d}:00–{self.end_hour:02d}:00"


@dataclass(frozen=True)
class Day:
    date: date
    count: int


@dataclass(frozen=True)
class BookingPage:
    zone: str
    days: tuple[Day, ...]
    day: Day | None  # the day whose times are shown
    parts: tuple[DayPart, ...]
    soonest: tuple[Choice, ...]  # the soonest time; and the soonest outside the night when that one is at night
    alternatives: tuple[Choice, ...]  # after a taken time: free times soon after it
    query: str  # the filters as a query string, for the day links and the form's action

    @property
    def zone_city(self) -> str:
        """`America/Sao_Paulo` -> `Sao Paulo`: how the zone is named in a sentence."""
        return self.zone.rsplit("/", 1)[-1].replace("_", " ")


def _part_of(hour: int) -> str:
    return PARTS[hour // 6][0]


def _choice(starts_at: str, zone: ZoneInfo, label: str | None = None) -> tuple[Choice, datetime]:
    local = datetime.fromisoformat(starts_at.replace("Z", "+00:00")).astimezone(zone)
    return Choice(starts_at=starts_at, label=label or wall_clock(local, zone.key), day=local.date(),
                  part=_part_of(local.hour)), local


def day_parts(times: Iterable[dict[str, str]], zone: ZoneInfo) -> tuple[DayPart, ...]:
    """One day's free times (earliest first, as `case_availability` lists them) by part of the day.

    A quarter of an hour is told by the wall clock and, on a fall-back night, by which of the two
    occurrences it is (`fold`), so 01:00 EDT and 01:00 EST each head their own quarter."""
    shown: dict[str, list[Choice]] = {key: [] for key, *_ in PARTS}
    more: dict[str, list[Choice]] = {key: [] for key, *_ in PARTS}
    quarters: set[tuple[int, int, int]] = set()
    for time in times:
        choice, local = _choice(time["starts_at"], zone, time["local_time"])
        quarter = (local.hour, local.minute // STEP_MINUTES, local.fold)
        (more if quarter in quarters else shown)[choice.part].append(choice)
        quarters.add(quarter)
    filled = [key for key, *_ in PARTS if shown[key]]
    return tuple(
        DayPart(key=key, name=name, first_hour=first, end_hour=end, times=tuple(shown[key]),
                more=tuple(more[key]), collapsed=key == "night" and len(filled) > 1)
        for key, name, first, end in PARTS if key in filled
    )


def _soonest(days: Sequence[dict[str, Any]], zone: ZoneInfo) -> tuple[Choice, ...]:
    first = None
    for day in days:
        for time in day["times"]:
            choice = _choice(time["starts_at"], zone, time["local_time"])[0]
            if first is None:
                first = choice
                if choice.part != "night":
                    return (first,)
            elif choice.part != "night":
                return first, choice
    return (first,) if first else ()


def booking_page(*, availability: dict[str, Any], day: str | None = None, next_free: Iterable[datetime] = (),
                 language: str = "", phone: bool = False) -> BookingPage:
    """The page's model from `case_availability`'s answer. `day` (ISO date) picks the day whose
    times are shown; an unknown or missing one shows the first day. `next_free`: the free times
    soon after a time that was just taken."""
    zone = ZoneInfo(availability["timezone"])
    days = tuple(Day(date=date.fromisoformat(d["date"]), count=len(d["times"])) for d in availability["days"])
    chosen = next((d for d in availability["days"] if d["date"] == day), None) or next(iter(availability["days"]), None)
    filters = {"timezone": zone.key, "language": language, **({"phone": "on"} if phone else {})}
    return BookingPage(
        zone=zone.key,
        days=days,
        day=next((d for d in days if chosen and d.date.isoformat() == chosen["date"]), None),
        parts=day_parts(chosen["times"], zone) if chosen else (),
        soonest=_soonest(availability["days"], zone),
        alternatives=tuple(_choice(iso(moment), zone)[0] for moment in next_free),
        query=urlencode(filters),
    )


def case_booking_page(*, case: Case, now: datetime, zone_name: str, language: str = "", phone: bool = False,
                      day: str | None = None, next_free: Iterable[datetime] = ()) -> BookingPage:
    """The "Pick a time" page for this case: its free times up to the deadline, in `zone_name`."""
    availability = json.loads(case_availability_json(case=case, now=now, language=language, phone=phone,
                                                     zone_name=zone_name))  # the API's answer, mostly cached
    return booking_page(availability=availability, day=day, next_free=next_free, language=language, phone=phone)
