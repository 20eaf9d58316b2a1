"""Every non-trivial read about cases: what the marketplace, the freelancer's pages and API, and
the services ask."""

import functools
import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db.models import Case as SqlCase
from django.db.models import F, IntegerField, Value, When
from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError

from notifications.timefmt import wall_clock
from scheduling.generation import GENERATION_KEY, day_generation_key, slots_generations
from scheduling.ics import call_is_on, presence_code
from scheduling.models import Booking, BookingStatus
from scheduling.process_cache import ProcessCache
from scheduling.selectors import availability_list, booking_active_for, booking_latest_for, time_is_free
from verification.deadlines.guards import can_submit_proposals
from verification.errors import CaseNotFound
from verification.models import (
    BOOKABLE_STATUSES,
    CANCELLED_BY_FREELANCER,
    FINAL_STATUSES,
    Case,
    CaseRequest,
    CaseStatus,
    EarlierTimeOffer,
    GracePolicy,
    RequestKind,
    RequestStatus,
    Review,
)
from verification.policy import DEFAULT_POLICY, Policy

logger = logging.getLogger(__name__)


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, as the API renders every instant."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def case_summary(case: Case) -> dict[str, Any]:
    """The case as an error body carries it (JSON-ready)."""
    return {
        "id": str(case.id),
        "status": case.status,
        "notice_sent_at": iso(case.notice_sent_at),
        "deadline_at": iso(case.deadline_at),
    }


ELIGIBILITY_FIELDS = ("id", "status", "deadline_at", "frozen_at")  # what `can_submit_proposals` reads


def freelancer_current_case(*, external_id: str, fields: tuple[str, ...] = ()) -> Case | None:
    """The open case if there is one, else the most recent one (only `fields` loaded, if given)."""
    open_first = SqlCase(When(status__in=FINAL_STATUSES, then=Value(1)), default=Value(0), output_field=IntegerField())
    cases = Case.objects.filter(freelancer__external_id=external_id)
    return (cases.only(*fields) if fields else cases).order_by(open_first, "-created_at").first()


def freelancer_eligibility(*, external_id: str, now: datetime) -> dict[str, Any]:
    """The marketplace's hottest read: one query, for the columns of the stored decision only."""
    case = freelancer_current_case(external_id=external_id, fields=ELIGIBILITY_FIELDS)
    return {
        "external_id": external_id,
        "can_submit_proposals": can_submit_proposals(case),
        "case": None
        if case is None
        else {"id": str(case.id), "status": case.status, "deadline_at": case.deadline_at},
    }


def case_get(*, case_id) -> Case:
    try:
        return Case.objects.select_related("freelancer").get(pk=case_id)
    except Case.DoesNotExist:
        raise CaseNotFound() from None


def _policies() -> dict[str, Policy]:
    return {row.reason_code: row.policy() for row in GracePolicy.objects.all()}


# read on every new case, edited by an admin now and then (`scheduling.process_cache`)
_POLICIES = ProcessCache(_policies, models=[GracePolicy])


def policy_for(*, reason_code: str) -> Policy:
    """What a case flagged now for this reason keeps: the reason's own policy, else the default
    row, else the built-in defaults. An admin's edit applies to cases flagged from at most
    `scheduling.process_cache.TTL` seconds later (at once in the process that saved it)."""
    policies = _POLICIES.get()
    return policies.get(reason_code) or policies.get(GracePolicy.DEFAULT) or DEFAULT_POLICY


FROZEN_BOOKING_DAYS = 14
PRIORITY_NOTICE = timedelta(minutes=5)  # after our no-show: the very next free times


def case_booking_window(*, case: Case, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) in which this case may book: from the minimum notice up to the deadline.

    A frozen case (or one whose deadline is too close to book before it) gets the next 14 days; a
    case with priority (we missed its call) may book from five minutes ahead instead of the usual
    minimum notice.
    """
    notice = PRIORITY_NOTICE if case.priority_until and now < case.priority_until else timedelta(
        minutes=settings.BOOKING_MIN_NOTICE_MINUTES)
    start = now + notice
    if case.status != CaseStatus.FROZEN and case.deadline_at and case.deadline_at > start:
        return start, case.deadline_at
    return start, now + timedelta(days=FROZEN_BOOKING_DAYS)


_NEAR_A_CHANGE = timedelta(days=1)  # a repeated wall-clock hour lies within its offset change (at most hours) of it


def _offset_changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The hours in [start, end] at whose end the zone's UTC offset changes (sampled hourly: changes
    are months apart). Only times near one can carry `wall_clock`'s fall-back mark, so
    `case_availability` asks `wall_clock` only for those and formats the thousands of others
    directly: 7 us less per time, same text (tests/verification/test_fall_back_times.py)."""
    changes = []
    at = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    offset = at.astimezone(zone).utcoffset()
    while at <= end:
        following = (at + _HOUR).astimezone(zone).utcoffset()
        if following != offset:
            changes.append(at)
            offset = following
        at += _HOUR
    return changes


_HOUR = timedelta(hours=1)


def _minute_up(moment: datetime) -> datetime:
    """The moment rounded up to the whole minute (in UTC)."""
    moment = moment.astimezone(UTC)
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + _MINUTE


_MINUTE = timedelta(minutes=1)


def case_availability_window(
    *, case: Case, now: datetime, start_date: date | None = None, end_date: date | None = None,
    zone_name: str | None = None,
) -> tuple[ZoneInfo, datetime, datetime]:
    """The zone and the [start, end) whose free times `case_availability` lists. Both ends are
    rounded up to the whole minute: slots start on whole minutes, so no slot time crosses either
    end, and everyone asking within the same minute asks the same question (one cached answer)."""
    zone = ZoneInfo(zone_name or case.freelancer.timezone)
    start, end = case_booking_window(case=case, now=now)
    if start_date:
        start = max(start, datetime.combine(start_date, time.min, tzinfo=zone))
    if end_date:
        end = min(end, datetime.combine(end_date + timedelta(days=1), time.min, tzinfo=zone))
    return zone, _minute_up(start), _minute_up(end)


def _local_days(*, zone: ZoneInfo, start: datetime, end: datetime, language: str,
                phone: bool) -> dict[date, list[dict[str, str]]]:
    """Free times in [start, end) by day in `zone`, earliest first (days with none left out): one query."""
    days: dict[date, list[dict[str, str]]] = {}
    changes = _offset_changes(zone, start - _NEAR_A_CHANGE, end + _NEAR_A_CHANGE)
    for instant in availability_list(start=start, end=end, language=language, phone=phone):
        local = instant.astimezone(zone)
        if changes and any(abs(instant - change) <= _NEAR_A_CHANGE for change in changes):
            clock = wall_clock(local, zone.key)  # a wall-clock time that may happen twice: it may need its mark
        else:
            clock = "%02d:%02d" % (local.hour, local.minute)  # noqa: UP031 (wall_clock's own fast form)
        days.setdefault(local.date(), []).append({"starts_at": iso(instant), "local_time": clock})
    return days


def availability_answer(*, zone: ZoneInfo, start: datetime, end: datetime, language: str = "",
                        phone: bool = False) -> dict[str, Any]:
    """Free times in [start, end) grouped by day in `zone` (`case_availability`'s answer)."""
    days = _local_days(zone=zone, start=start, end=end, language=language, phone=phone)
    return {
        "timezone": zone.key,
        "from": iso(start),
        "to": iso(end),
        "days": [{"date": day.isoformat(), "times": times} for day, times in days.items()],
    }


def case_availability(
    *, case: Case, now: datetime, start_date: date | None = None, end_date: date | None = None,
    language: str = "", phone: bool = False, zone_name: str | None = None,
) -> dict[str, Any]:
    """Free times for the case, grouped by day in the freelancer's zone (or the one asked for),
    computed afresh (`case_availability_json`: the same, from the cache).

    `local_time` is the wall clock ("01:30"), with the zone's mark only where that wall-clock time
    happens twice, on a fall-back night ("01:30 EDT" / "01:30 EST"): see notifications.timefmt."""
    zone, start, end = case_availability_window(case=case, now=now, start_date=start_date, end_date=end_date,
                                                zone_name=zone_name)
    return availability_answer(zone=zone, start=start, end=end, language=language, phone=phone)


def availability_json(answer: dict[str, Any]) -> bytes:
    """The answer as the API's JSON renderer writes it (compact, UTF-8, U+2028/9 escaped)."""
    text = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


def case_availability_json(
    *, case: Case, now: datetime, start_date: date | None = None, end_date: date | None = None,
    language: str = "", phone: bool = False, zone_name: str | None = None,
) -> bytes:
    """`case_availability` as JSON, assembled from days cached per (zone, local day, language,
    phone) and valid while slots on that day have not changed (scheduling.generation): many
    freelancers share a zone, and availability is read far more often than slots change. A day's
    key carries the global slots generation and those of the UTC dates the local day overlaps, so
    any committed change is seen by the very next read, and a booking recomputes only its own day.
    settings.AVAILABILITY_CACHE_SECONDS bounds how long a day is kept (0: no cache)."""
    zone, start, end = case_availability_window(case=case, now=now, start_date=start_date, end_date=end_date,
                                                zone_name=zone_name)
    seconds = settings.AVAILABILITY_CACHE_SECONDS
    if seconds > 0:
        try:
            return _availability_json_cached(zone=zone, start=start, end=end, language=language, phone=phone,
                                              seconds=seconds)
        except RedisError as error:  # the cache is unreachable: answer from the database (as the throttles fail open)
            logger.warning("availability not cached, the cache is unreachable: %s", error)
    return availability_json(availability_answer(zone=zone, start=start, end=end, language=language, phone=phone))


@functools.lru_cache(maxsize=256)  # everyone asking in the same minute and zone asks the same
def _local_day_ranges(zone: ZoneInfo, start: datetime, end: datetime
                      ) -> tuple[tuple[date, datetime, datetime, tuple[date, ...]], ...]:
    """(local date, [from, to), the UTC dates [from, to) overlaps) for each day in `zone` that
    [start, end) touches, clipped to it."""
    ranges = []
    day = start.astimezone(zone).date()
    while True:
        day_start = max(start, datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC))
        day_end = min(end, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC))
        if day_start >= end:
            return tuple(ranges)
        if day_start < day_end:
            first, last = day_start.date(), (day_end - _MICROSECOND).date()
            ranges.append((day, day_start, day_end,
                           tuple(first + timedelta(days=n) for n in range((last - first).days + 1))))
        day += timedelta(days=1)


_MICROSECOND = timedelta(microseconds=1)


def _availability_json_cached(*, zone: ZoneInfo, start: datetime, end: datetime, language: str, phone: bool,
                              seconds: int) -> bytes:
    """The answer's bytes from one fragment per local day (the JSON of its `{"date", "times"}`, empty
    for a day without times): the generations in one `get_many`, the days in another, the missing
    days in one query over the range covering them, stored with one `set_many`. Byte for byte what
    DRF's renderer writes for `availability_answer` (tests/verification/test_availability_cache.py)."""
    ranges = _local_day_ranges(zone, start, end)
    generations = slots_generations(sorted({d for *_, dates in ranges for d in dates}))
    common = f"availability-day:{zone.key}:{int(phone)}:{language.encode().hex()}:{generations[GENERATION_KEY]}"
    keys = {
        day: f"{common}:{day_start.timestamp():.0f}:{day_end.timestamp():.0f}:"
             + ":".join(str(generations[day_generation_key(d)]) for d in dates)
        for day, day_start, day_end, dates in ranges
    }
    fragments: dict[date, bytes] = {}
    if keys:
        cached = cache.get_many(list(keys.values()))
        fragments = {day: cached[key] for day, key in keys.items() if key in cached}
    missing = [(day, day_start, day_end) for day, day_start, day_end, _ in ranges if day not in fragments]
    if missing:  # read the database only after the generations: see scheduling.generation
        days = _local_days(zone=zone, start=missing[0][1], end=missing[-1][2], language=language, phone=phone)
        computed = {day: availability_json({"date": day.isoformat(), "times": days[day]}) if day in days else b""
                    for day, _, _ in missing}
        cache.set_many({keys[day]: body for day, body in computed.items()}, seconds)
        fragments.update(computed)
    head = availability_json({"timezone": zone.key, "from": iso(start), "to": iso(end), "days": []})[:-2]
    return head + b",".join(fragments[day] for day, *_ in ranges if fragments[day]) + b"]}"


def case_reschedules_left(case: Case) -> int:
    return max(0, case.policy.max_reschedules - case.reschedule_count)


def case_booking_is_a_change(case: Case) -> bool:
    """Whether booking now changes the call's time: the freelancer cancelled their last booking
    themselves (a frozen freelancer's booking never counts: verifying is how they are unfrozen)."""
    if case.status == CaseStatus.FROZEN:
        return False
    previous = booking_latest_for(case_ref=case.id)
    return previous is not None and previous.status == BookingStatus.CANCELLED \
        and previous.cancel_reason == CANCELLED_BY_FREELANCER


def case_extension_refusal(case: Case, *, now: datetime) -> str | None:
    """Why the freelancer's one self-service extension cannot be granted now; None if it can."""
    if case.status not in (CaseStatus.OPEN, CaseStatus.SCHEDULED) or not case.policy.self_extension_days:
        return _("This case cannot be extended.")
    if case.deadline_at is None or case.deadline_at <= now:
        return _("The deadline has passed; extensions must be asked for before it.")
    if CaseRequest.objects.filter(case=case, kind=RequestKind.EXTENSION).exists():
        return _("You have already used your one extension.")
    return None


@dataclass(frozen=True)
class CaseOverview:
    """What the freelancer sees of their case, computed once for the page and the API. Templates
    and serializers read these flags; they never re-derive a rule."""

    case: Case
    now: datetime
    can_submit_proposals: bool
    booking: Booking | None
    presence_code: str | None  # during the call only
    can_book: bool  # no call booked, and the case takes one (open or frozen), and changes are left if it is one
    changes_used_up: bool  # no call booked, and booking one would be a change past the policy's limit
    reschedules_left: int
    pending_requests: list[CaseRequest]
    accommodation_pending: bool
    extension_available: bool
    refusal: Review | None  # the reviewer's decision a refused freelancer sees
    review_by: datetime  # when a reviewer aims to have decided what is asked now

    @property
    def zone(self) -> str:
        return self.case.freelancer.timezone


def case_overview(*, case: Case, now: datetime) -> CaseOverview:
    booking = booking_active_for(case_ref=case.id)
    pending = list(CaseRequest.objects.filter(case=case, status=RequestStatus.PENDING))
    changes_used_up = booking is None and case_reschedules_left(case) <= 0 and case_booking_is_a_change(case)
    return CaseOverview(
        case=case,
        now=now,
        can_submit_proposals=can_submit_proposals(case),
        booking=booking,
        presence_code=presence_code(booking) if booking and call_is_on(booking, now=now) else None,
        can_book=booking is None and case.status in BOOKABLE_STATUSES and not changes_used_up,
        changes_used_up=changes_used_up,
        reschedules_left=case_reschedules_left(case),
        pending_requests=pending,
        accommodation_pending=any(r.kind == RequestKind.ACCOMMODATION for r in pending),
        extension_available=case_extension_refusal(case, now=now) is None,
        refusal=Review.objects.filter(case=case, decision=CaseStatus.NOT_VERIFIED).order_by("-decided_at").first(),
        review_by=now + case.policy.review_time,
    )


def earlier_time_candidates(*, starts_at: datetime, limit: int = 200) -> list[tuple[Case, Booking]]:
    """Cases that asked for earlier times and have a booked call later than `starts_at`, with that
    call, most urgent deadline first (the oldest case first among equal deadlines)."""
    later = Booking.objects.filter(status=BookingStatus.ACTIVE, starts_at__gt=starts_at).values("case_ref")
    cases = list(Case.objects.select_related("freelancer")
                 .filter(wants_earlier=True, status=CaseStatus.SCHEDULED, id__in=later)
                 .order_by(F("deadline_at").asc(nulls_last=True), "created_at")[:limit])
    bookings = {b.case_ref: b for b in Booking.objects.filter(case_ref__in=[c.id for c in cases],
                                                               status=BookingStatus.ACTIVE)}
    return [(case, bookings[case.id]) for case in cases if case.id in bookings]


@dataclass(frozen=True)
class EarlierOfferView:
    """What the offer link shows: `state` is open (it can be taken now), taken (someone else took
    it, or it is too close now), moved (the freelancer's call is no longer later) or accepted."""

    offer: EarlierTimeOffer
    state: str
    booking: Booking | None


def earlier_offer_view(*, case: Case, offer_id: int, now: datetime) -> EarlierOfferView | None:
    offer = EarlierTimeOffer.objects.filter(pk=offer_id, case=case).first()
    if offer is None:
        return None
    booking = booking_active_for(case_ref=case.id)
    start, _ = case_booking_window(case=case, now=now)
    if offer.accepted_at:
        state = "accepted"
    elif booking is None or booking.starts_at <= offer.starts_at:
        state = "moved"
    elif offer.starts_at < start or not time_is_free(starts_at=offer.starts_at, language=booking.language,
                                                      phone=booking.phone):
        state = "taken"
    else:
        state = "open"
    return EarlierOfferView(offer=offer, state=state, booking=booking)
