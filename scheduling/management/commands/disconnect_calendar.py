"""manage.py disconnect_calendar <rep username>: forget the calendar, its credentials and busy times."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from scheduling.models import Representative
from scheduling.services.calendars import calendar_disconnect


class Command(BaseCommand):
    help = "Disconnect a representative's calendar: its credentials and busy times are deleted (audited)."

    def add_arguments(self, parser):
        parser.add_argument("representative")

    def handle(self, *args, **options):
        rep = Representative.objects.filter(user__username=options["representative"]).first()
        if rep is None:
            raise CommandError(f"No representative with the user name {options['representative']!r}.")
        done = calendar_disconnect(representative_id=rep.pk, actor="command:disconnect_calendar", now=timezone.now())
        self.stdout.write("Disconnected." if done else "No calendar was connected.")
