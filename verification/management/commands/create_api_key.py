from django.core.management.base import BaseCommand
from rest_framework_api_key.models import APIKey


class Command(BaseCommand):
    help = "Create a marketplace API key and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who the key is for; appears in the audit log.")

    def handle(self, *args, name: str, **options):
        _, key = APIKey.objects.create_key(name=name)
        self.stdout.write(key)
