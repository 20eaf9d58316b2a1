"""Earlier times for those who want them: a freelancer with a booked call opts in; when a time
frees up (a call cancelled or moved away, new working hours, time off removed), the opted-in
freelancers whose call is later, and whom a free representative at that time suits (language,
phone), are offered it by email, the most urgent deadline first. Opting in and taking an offer
(a normal move) are in `verification.services.bookings`."""

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from scheduling.models import Booking
from scheduling.selectors import free_representatives_at
from scheduling.services.slots import SyncResult, atomic_or_busy
from verification import messages
from verification.models import EarlierTimeOffer
from verification.selectors import case_booking_window, case_reschedules_left, earlier_time_candidates, iso
from verification.services.audit import audit_record

# New times from one change of hours looked at, at most (earliest first): each is offered to
# someone whose call is later, so the first few are the ones that matter.
MAX_NEW_TIMES = 200


def _suits(booking: Booking, free: list[tuple[frozenset[str], bool]]) -> bool:
    return any((not booking.language or booking.language in languages) and (not booking.phone or phone)
               for languages, phone in free)


def earlier_time_offer(*, starts_at: datetime, now: datetime, skip: set | None = None) -> list[EarlierTimeOffer]:
    """`starts_at` just freed up (called in the transaction that freed it): offer it to up to
    EARLIER_TIMES_OFFERS_PER_TIME opted-in freelancers, most urgent deadline first, each email
    EARLIER_TIMES_STAGGER_MINUTES after the one before. Case ids in `skip` are passed over (and
    those offered are added to it). Returns the offers made."""
    skip = set() if skip is None else skip
    candidates = [(case, booking) for case, booking in earlier_time_candidates(starts_at=starts_at)
                  if case.id not in skip]
    free = free_representatives_at(starts_at=starts_at) if candidates else []
    offers: list[EarlierTimeOffer] = []
    for case, booking in candidates if free else []:
        if len(offers) >= settings.EARLIER_TIMES_OFFERS_PER_TIME:
            break
        start, end = case_booking_window(case=case, now=now)
        if (case.id in skip or not start <= starts_at < end or case_reschedules_left(case) <= 0
                or booking.starts_at - now < case.policy.reschedule_cutoff or not _suits(booking, free)):
            continue
        try:
            with transaction.atomic():
                offer = EarlierTimeOffer.objects.create(case=case, starts_at=starts_at, rank=len(offers),
                                                        created_at=now)
        except IntegrityError:
            continue  # this time was offered to this case before
        skip.add(case.id)
        messages.earlier_time_enqueue(
            case, offer_id=offer.pk, starts_at=starts_at, booked_at=booking.starts_at, now=now,
            due_at=now + timedelta(minutes=settings.EARLIER_TIMES_STAGGER_MINUTES * offer.rank))
        audit_record(case=case, actor="system", action="earlier_time_offered", now=now,
                     after={"starts_at": iso(starts_at), "offer_id": offer.pk, "rank": offer.rank})
        offers.append(offer)
    return offers


def earlier_times_offer_new(*, starts: Iterable[datetime], now: datetime) -> int:
    """New free times (new working hours, time off removed), earliest first: each freelancer is
    offered at most the earliest of them. Stops when no opted-in freelancer with a later call is
    left to offer to. Returns how many offers were made."""
    skip: set = set()
    made = 0
    for starts_at in sorted(set(starts))[:MAX_NEW_TIMES]:
        if not any(case.id not in skip for case, _ in earlier_time_candidates(starts_at=starts_at)):
            break
        made += len(earlier_time_offer(starts_at=starts_at, now=now, skip=skip))
    return made


@atomic_or_busy()
def representative_hours_change(*, change: Callable[[], SyncResult], now: datetime) -> SyncResult:
    """A representative's change of working hours or time off (`change`, one of the scheduling
    services), and in the same transaction the offers of the times it opened. The whole of it
    waits for locks at most as long as the change alone would (HoursBusy, nothing changed)."""
    result = change()
    earlier_times_offer_new(starts=result.created_starts, now=now)
    return result
