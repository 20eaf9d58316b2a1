"""A representative connects their CalDAV calendar: the scheduling side tests and stores it and
reads its busy times; then the calls already booked with them are written into it too (through
the outbox, as every later change of a booking is)."""

from datetime import datetime

from django.db import transaction

from scheduling.models import Booking, BookingStatus, CalendarConnection
from scheduling.services.calendars import calendar_connect_caldav
from verification.messages import representative_calendar_update


def representative_calendar_connect(*, representative_id: int, url: str, username: str, password: str, actor: str,
                                    now: datetime) -> CalendarConnection:
    connection = calendar_connect_caldav(representative_id=representative_id, url=url, username=username,
                                         password=password, actor=actor, now=now)
    with transaction.atomic():
        for booking in Booking.objects.filter(representative_id=representative_id, status=BookingStatus.ACTIVE,
                                              starts_at__gt=now):
            representative_calendar_update(booking, now=now)
    return connection
