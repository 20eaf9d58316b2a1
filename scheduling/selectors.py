from datetime import datetime

from django.db.models import QuerySet

from scheduling.models import Booking, BookingStatus, Slot


def _free_slots(*, language: str = "", phone: bool = False) -> QuerySet[Slot]:
    slots = Slot.objects.filter(is_booked=False, representative__active=True)
    if language:
        slots = slots.filter(representative__languages__code=language)
    if phone:
        slots = slots.filter(representative__can_take_phone_calls=True)
    return slots


def availability_list(*, start: datetime, end: datetime, language: str = "", phone: bool = False) -> list[datetime]:
    """The distinct start times in [start, end) with at least one free representative: one query."""
    return list(
        _free_slots(language=language, phone=phone)
        .filter(starts_at__gte=start, starts_at__lt=end)
        .order_by("starts_at")
        .values_list("starts_at", flat=True)
        .distinct()
    )


def next_free_times(*, after: datetime, language: str = "", phone: bool = False, limit: int = 5) -> list[datetime]:
    return list(
        _free_slots(language=language, phone=phone)
        .filter(starts_at__gt=after)
        .order_by("starts_at")
        .values_list("starts_at", flat=True)
        .distinct()[:limit]
    )


def slot_exists(*, starts_at: datetime) -> bool:
    """Whether any representative has a slot (free or not) starting at this instant."""
    return Slot.objects.filter(starts_at=starts_at).exists()


def booking_active_for(*, case_ref) -> Booking | None:
    return (
        Booking.objects.select_related("representative")
        .filter(case_ref=case_ref, status=BookingStatus.ACTIVE)
        .first()
    )


def booking_latest_for(*, case_ref) -> Booking | None:
    return Booking.objects.select_related("representative").filter(case_ref=case_ref).order_by("-created_at").first()


def bookings_displaced_unhandled(*, limit: int = 200) -> list[Booking]:
    return list(
        Booking.objects.filter(displaced_at__isnull=False, displacement_handled_at__isnull=True)
        .order_by("displaced_at")[:limit]
    )


def offered_times_count(*, start: datetime, end: datetime) -> int:
    """Distinct start times that existed as slots in [start, end), taken or not."""
    return Slot.objects.filter(starts_at__gte=start, starts_at__lt=end).values("starts_at").distinct().count()


def bookings_unmade_good_exist(*, case_ref) -> bool:
    """A call we cancelled or missed whose consequences (extension, rebooking) are not applied yet."""
    return Booking.objects.filter(case_ref=case_ref, displaced_at__isnull=False,
                                  displacement_handled_at__isnull=True).exists()


def languages_offered() -> list[str]:
    """Language tags some active representative holds calls in."""
    from scheduling.models import RepresentativeLanguage

    return sorted(set(RepresentativeLanguage.objects.filter(representative__active=True)
                      .values_list("code", flat=True)))
