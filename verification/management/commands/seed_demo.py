"""Demo data for `make run`. Safe to run again: it only adds what is missing."""

from datetime import time

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from rest_framework_api_key.models import APIKey

from scheduling.models import Representative, RepresentativeLanguage, WorkingHours
from scheduling.services.slots import representatives_slots_sync_all
from verification.links import freelancer_url
from verification.management.commands._operations_demo import demo_history
from verification.models import Case, GracePolicy, ReasonCode
from verification.services.cases import case_flag

API_KEY_NAME = "demo-marketplace"

STAFF = [
    # username, password, first name, group
    ("admin", "admin", "Ada", None),
    ("reviewer", "reviewer", "Rui", "Reviewers"),
]
REPRESENTATIVES = [
    # username, display name, zone, languages, phone
    ("rep-nyc", "Maya (New York)", "America/New_York", ["en", "es"], True),
    ("rep-london", "Tom (London)", "Europe/London", ["en", "fr"], True),
    ("rep-kolkata", "Priya (Kolkata)", "Asia/Kolkata", ["en", "hi"], False),
    ("rep-manila", "Ana (Manila)", "Asia/Manila", ["en"], True),
    ("rep-lagos", "Chidi (Lagos)", "Africa/Lagos", ["en"], True),
    ("rep-mexico", "Sofía (Mexico City)", "America/Mexico_City", ["en", "es"], False),
]
FREELANCERS = [
    ("fl-1001", "Amara Okafor", "Africa/Lagos", "en", ReasonCode.PROFILE_DETAILS,
     "The name on your profile differs from the name on your payout account."),
    ("fl-1002", "Lucía Fernández", "America/Argentina/Buenos_Aires", "es", ReasonCode.LOCATION_MISMATCH,
     "Your profile says Buenos Aires; recent sign-ins came from another country."),
    ("fl-1003", "Dmitri Volkov", "Europe/Berlin", "en", ReasonCode.ACCOUNT_ACCESS,
     "Your account was signed in to from a new device and location."),
    ("fl-1004", "Mei Chen", "Asia/Singapore", "en", ReasonCode.PAYMENT_DETAILS,
     "Your payout method changed twice this week."),
    ("fl-1005", "Arjun Mehta", "Asia/Kolkata", "hi", ReasonCode.PERIODIC_CHECK,
     "Accounts with high earnings are confirmed once a year."),
]


class Command(BaseCommand):
    help = "Load demo users, representatives, a grace policy, flagged freelancers and an API key."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true",
                            help="Ignored: with DEBUG off (production settings) it refuses whatever the flag.")

    @transaction.atomic
    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG:  # production settings: demo passwords (admin/admin) never, --force or not
            raise CommandError("seed_demo creates users with demo passwords; it runs only with DEBUG=true "
                               "(--force does not change that).")
        now = timezone.now()
        for username, password, first_name, group in STAFF:
            user = self._user(username, password, first_name, superuser=username == "admin")
            if group:
                user.groups.add(Group.objects.get_or_create(name=group)[0])
        representatives = Group.objects.get_or_create(name="Representatives")[0]
        for username, display_name, zone, languages, phone in REPRESENTATIVES:
            user = self._user(username, username, display_name.split()[0], superuser=False)
            user.groups.add(representatives)
            rep, created = Representative.objects.get_or_create(
                user=user,
                defaults={"display_name": display_name, "timezone": zone, "can_take_phone_calls": phone},
            )
            if created:
                RepresentativeLanguage.objects.bulk_create(
                    RepresentativeLanguage(representative=rep, code=code) for code in languages
                )
                WorkingHours.objects.bulk_create(
                    WorkingHours(representative=rep, weekday=day, starts=start, ends=end)
                    for day in range(7)  # every day, so a call can be booked and tried whatever the day
                    for start, end in [(time(8, 0), time(12, 0)), (time(13, 0), time(18, 0))]
                )
        representatives_slots_sync_all(now=now)
        GracePolicy.objects.get_or_create(
            reason_code=GracePolicy.DEFAULT, defaults={"grace_days": 7, "warning_offsets_hours": [72, 24]}
        )
        GracePolicy.objects.get_or_create(
            reason_code=ReasonCode.PERIODIC_CHECK, defaults={"grace_days": 14, "warning_offsets_hours": [72, 24]}
        )
        history = demo_history(now=now, reviewer=User.objects.get(username="reviewer"))
        links = []
        for external_id, name, zone, language, reason, public_reason in FREELANCERS:
            case = Case.objects.filter(freelancer__external_id=external_id).order_by("-created_at").first()
            if case is None:
                case = case_flag(
                    external_id=external_id,
                    email=f"{external_id}@example.com",
                    name=name,
                    timezone=zone,
                    language=language,
                    reason_code=reason,
                    public_reason=public_reason,
                    profile_claims=[{"field": "country", "value": zone.split("/")[-1].replace("_", " ")},
                                    {"field": "name", "value": name}],
                    standing={"badges": ["Top Rated"], "job_success": 96},
                    actor="system:seed_demo",
                    now=now,
                )
            links.append((name, freelancer_url(case)))

        self.stdout.write("Demo logins (staff, at /admin/): admin/admin, reviewer/reviewer, "
                          + ", ".join(f"{u}/{u}" for u, *_ in REPRESENTATIVES))
        if history:
            self.stdout.write(f"Operations history: {history} demo cases over six weeks (admin: /console/operations/)")
        self.stdout.write("Freelancer links (no password):")
        for name, url in links:
            self.stdout.write(f"  {name}: {url}")
        if APIKey.objects.filter(name=API_KEY_NAME).exists():
            self.stdout.write(f"Marketplace API key '{API_KEY_NAME}' exists (printed when it was created); "
                              "make a new one with: python manage.py create_api_key NAME")
        else:
            _, key = APIKey.objects.create_key(name=API_KEY_NAME)
            self.stdout.write(f"Marketplace API key (shown once, only its hash is stored): {key}")

    def _user(self, username: str, password: str, first_name: str, *, superuser: bool) -> User:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first_name, "is_staff": True, "is_superuser": superuser,
                      "email": f"{username}@example.com"},
        )
        if created:
            user.set_password(password)
            user.save(update_fields=["password"])
        return user
