"""manage.py connect_calendar <rep username> --url URL --username U (--password P | --password-file F)
or --ical-url URL: connect a representative's calendar, tested first (docs/calendars.md)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from scheduling.errors import DomainError
from scheduling.models import Representative
from scheduling.services.calendars import calendar_connect_ical
from verification.services.calendars import representative_calendar_connect


class Command(BaseCommand):
    help = "Connect a representative's CalDAV calendar (or private iCal address); the connection is tested first."

    def add_arguments(self, parser):
        parser.add_argument("representative", help="the representative's login user name")
        parser.add_argument("--url", help="CalDAV server or calendar URL")
        parser.add_argument("--username", default="")
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument("--password", help="app password (visible in the process list: prefer --password-file)")
        secret.add_argument("--password-file", type=Path, help="a file holding the app password")
        parser.add_argument("--ical-url", help="a private iCal (.ics) address instead: busy times only")

    def handle(self, *args, **options):
        rep = Representative.objects.filter(user__username=options["representative"]).first()
        if rep is None:
            raise CommandError(f"No representative with the user name {options['representative']!r}.")
        now, actor = timezone.now(), "command:connect_calendar"
        try:
            if options["ical_url"]:
                connection = calendar_connect_ical(representative_id=rep.pk, url=options["ical_url"], actor=actor,
                                                   now=now)
            else:
                if not options["url"]:
                    raise CommandError("Give --url (CalDAV) or --ical-url.")
                password = options["password"]
                if options["password_file"]:
                    password = options["password_file"].read_text().strip()
                if not password:
                    raise CommandError("Give --password or --password-file.")
                connection = representative_calendar_connect(
                    representative_id=rep.pk, url=options["url"], actor=actor, username=options["username"],
                    password=password, now=now)
        except DomainError as problem:
            raise CommandError(f"{problem.code}: {problem.detail}") from None
        state = f"stale: {connection.last_error}" if connection.stale else f"synced at {connection.last_good_sync_at}"
        self.stdout.write(f"Connected {rep}'s calendar ({connection.get_kind_display()}); {state}.")
