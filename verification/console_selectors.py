"""What the representatives' and reviewers' console shows: reads only, each page one call."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser, User
from django.db.models import Count, Q, QuerySet

from notifications.timefmt import local_time
from scheduling.models import Booking, BookingStatus, Representative
from scheduling.selectors import calendar_feed_live
from verification.access import REVIEWERS_GROUP, acts_for, only_theirs
from verification.checklist import checklist_questions
from verification.models import CallRecord, Case, Outcome, Review
from verification.services.calls import no_show_allowed_from
from verification.services.outcomes import OUTCOMES
from verification.services.reviews import review_excluded_user_ids


def representative_of(user: AbstractBaseUser) -> Representative | None:
    return Representative.objects.filter(user=user).first()


def booking_for_staff(*, user: AbstractBaseUser, booking_id) -> Booking | None:
    """The call if this user may see it (theirs, or any for an admin), else None."""
    booking = Booking.objects.select_related("representative").filter(pk=booking_id).first()
    return booking if booking is not None and acts_for(user, booking.representative.user_id) else None


def review_for_staff(*, user: AbstractBaseUser, review_id: int) -> Review | None:
    review = Review.objects.select_related("case", "case__freelancer", "call").filter(pk=review_id).first()
    return review if review is not None and acts_for(user, review.assigned_to_id) else None


def review_queue(*, user: AbstractBaseUser) -> QuerySet[Review]:
    """Undecided reviews: those assigned to this user (every one, for an admin), oldest first."""
    queue = Review.objects.select_related("case", "case__freelancer", "assigned_to").filter(decided_at__isnull=True)
    return only_theirs(user, queue, owner_field="assigned_to").order_by("created_at")


@dataclass(frozen=True)
class Today:
    rep: Representative
    rows: list[dict]
    next: dict | None
    time_off: list[dict]
    reviews: int
    feed_since: str | None = None  # when the live calendar feed link was made (local time), if any


def representative_today(*, rep: Representative, user: AbstractBaseUser, now: datetime) -> Today:
    """The representative's calls today in their own zone (the next one first among those to come),
    their time off to come, and how many reviews wait for them."""
    zone = ZoneInfo(rep.timezone)
    day_start = datetime.combine(now.astimezone(zone).date(), time.min, tzinfo=zone)
    bookings = list(Booking.objects.filter(representative=rep, starts_at__gte=day_start,
                                           starts_at__lt=day_start + timedelta(days=1))
                    .exclude(status=BookingStatus.CANCELLED).order_by("starts_at"))
    outcomes = dict(CallRecord.objects.filter(booking_id__in=[b.id for b in bookings])
                    .values_list("booking_id", "outcome"))
    rows = [{"booking": b, "local": local_time(b.starts_at, rep.timezone), "outcome": outcomes.get(b.id, ""),
             "first_name": b.attendee_name.split()[0]} for b in bookings]
    upcoming = [r for r in rows if r["booking"].status == BookingStatus.ACTIVE and r["booking"].ends_at > now]
    time_off = [{"pk": off.pk, "note": off.note,
                 "label": f"{local_time(off.starts_at, rep.timezone)} – {local_time(off.ends_at, rep.timezone)}"}
                for off in rep.time_off.filter(ends_at__gt=now).order_by("starts_at")]
    feed = calendar_feed_live(representative_id=rep.pk)
    return Today(rep=rep, rows=rows, next=upcoming[0] if upcoming else None, time_off=time_off,
                 reviews=Review.objects.filter(assigned_to=user, decided_at__isnull=True).count(),
                 feed_since=local_time(feed.created_at, rep.timezone) if feed else None)


@dataclass(frozen=True)
class CallPage:
    booking: Booking
    case: Case
    call: CallRecord | None
    questions: list[dict]
    outcomes: list[dict]  # each: value, label, allowed (the template greys out what is not)
    no_show_from: datetime


def call_page_data(*, booking: Booking, now: datetime) -> CallPage:
    case = Case.objects.select_related("freelancer").get(pk=booking.case_ref)
    call = CallRecord.objects.select_related("checklist", "case").filter(booking_id=booking.id).first()
    no_show_from = no_show_allowed_from(case=case, booking=booking)
    outcomes = [{"value": value, "label": Outcome(value).label,
                 "allowed": not rule.after_no_show_wait or now >= no_show_from}
                for value, rule in OUTCOMES.items()]
    return CallPage(booking=booking, case=case, call=call, questions=checklist_questions(call) if call else [],
                    outcomes=outcomes, no_show_from=no_show_from)


def review_assignable_users(review: Review) -> list:
    """Who an admin may assign an open review to: active staff whom the separation-of-duties rule
    does not exclude, reviewers first, fewest open reviews first."""
    return list(
        User.objects.filter(is_active=True, is_staff=True).exclude(pk__in=review_excluded_user_ids(review))
        .annotate(open_reviews=Count("reviews", filter=Q(reviews__decided_at__isnull=True)),
                  reviewer=Count("groups", filter=Q(groups__name=REVIEWERS_GROUP)))
        .order_by("-reviewer", "open_reviews", "username")
    )
