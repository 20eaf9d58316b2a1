"""manage.py sync_calendars: sync every connected calendar now (beat does it every CALENDAR_SYNC_SECONDS)."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from scheduling.services.calendars import calendars_sync_all


class Command(BaseCommand):
    help = "Sync every representative's connected calendar now."

    def handle(self, *args, **options):
        synced = calendars_sync_all(now=timezone.now())
        self.stdout.write(f"{synced} calendar(s) synced.")
