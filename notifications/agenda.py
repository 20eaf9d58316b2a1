"""Each representative's daily agenda, in their own zone."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from scheduling.models import Booking, BookingStatus, Representative

from .keys import MessageKey
from .services import outbox_enqueue

AGENDA_LOCAL_HOUR = 7


@transaction.atomic
def agendas_enqueue(*, now: datetime) -> int:
    made = 0
    for rep in Representative.objects.filter(active=True).exclude(user__email="").select_related("user"):
        zone = ZoneInfo(rep.timezone)
        local = now.astimezone(zone)
        if local.hour < AGENDA_LOCAL_HOUR:
            continue
        day_start = datetime.combine(local.date(), time.min, tzinfo=zone)
        calls = Booking.objects.filter(
            representative=rep, status=BookingStatus.ACTIVE, starts_at__gte=day_start,
            starts_at__lt=day_start + timedelta(days=1),
        ).order_by("starts_at")
        outbox_enqueue(
            key=MessageKey("rep_agenda", f"rep:{rep.pk}", f"day-{local.date().isoformat()}"),
            recipient=rep.user.email, due_at=now, now=now,
            context={
                "name": rep.display_name, "timezone": rep.timezone, "date": local.date().isoformat(),
                "calls": [{"starts_at": call.starts_at.isoformat(), "first_name": call.attendee_name.split()[0],
                           "language": call.language, "phone": call.phone} for call in calls],
            },
        )
        made += 1
    return made
