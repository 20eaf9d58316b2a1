"""A call our representative never started: our fault, detected automatically and made good."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from scheduling.models import Booking, BookingStatus
from scheduling.services.bookings import booking_finish
from verification import messages
from verification.deadlines.services import case_deadline_extend
from verification.models import CallRecord, CaseStatus
from verification.services.audit import audit_record
from verification.services.cases import case_lock, case_save, case_transition

PRIORITY_HOURS = 24


@transaction.atomic
def booking_rep_no_show(*, booking_id, now: datetime) -> bool:
    """A call never started by its end plus the margin: our fault. The case gets the policy's
    extension, and the freelancer an apology and priority: for 24 hours they may book the very next
    free times, without the usual notice. The case is locked first, then the booking, as everywhere."""
    case_ref = Booking.objects.filter(pk=booking_id).values_list("case_ref", flat=True).first()
    if case_ref is None:
        return False
    case, now = case_lock(case_ref, now=now)
    booking = Booking.objects.select_for_update().filter(pk=booking_id, status=BookingStatus.ACTIVE).first()
    if booking is None or CallRecord.objects.filter(booking_id=booking_id, started_at__isnull=False).exists():
        return False
    if now < booking.ends_at + case.policy.rep_no_show_margin:
        return False
    booking_finish(booking_id=booking.pk, reason="rep_no_show", now=now)
    audit_record(case=case, actor="system", action="rep_no_show", now=now,
                 reason="The representative did not start the call.", after={"booking_id": str(booking.id)})
    if case.status == CaseStatus.SCHEDULED:
        case_transition(case=case, to_status=CaseStatus.OPEN, actor="system", action="rep_no_show_reopened",
                        reason="Our representative missed the call.", now=now)
    case.priority_until = now + timedelta(hours=PRIORITY_HOURS)
    case_save(case, fields=["priority_until"], now=now)
    case_deadline_extend(case=case, hours=case.policy.rep_no_show_extension_hours, actor="system", now=now,
                         reason=_("We are sorry: our representative missed your call. Please book again."))
    messages.case_email_for_change(case, kind="rep_no_show", now=now)
    return True


def bookings_rep_no_show_detect(*, now: datetime) -> int:
    """Periodic: active bookings whose slot has ended and whose call was never started."""
    overdue = Booking.objects.filter(status=BookingStatus.ACTIVE, ends_at__lt=now).order_by("ends_at")
    return sum(booking_rep_no_show(booking_id=pk, now=now) for pk in list(overdue.values_list("pk", flat=True)[:500]))
