from django.db import migrations
from django.utils import timezone

DEFAULT_ITEMS = [
    {"key": "consent", "label": "Consent: the freelancer agrees to the check (what is and is not kept was explained)",
     "choices": ["yes", "no"]},
    {"key": "presence", "label": "Presence: the freelancer read out the code shown on their page",
     "choices": ["match", "mismatch", "unclear"]},
    {"key": "id_type", "label": "ID document type", "choices": ["passport", "national_id", "driving_licence", "other"]},
    {"key": "id_issuer", "label": "ID issued by the country on the profile", "choices": ["yes", "no", "unclear"]},
    {"key": "id_name", "label": "Name on the ID matches the profile", "choices": ["yes", "no", "unclear"]},
    {"key": "facts", "label": "Profile fact", "per_claim": True, "max_claims": 3,
     "choices": ["pass", "unclear", "mismatch"]},
    {"key": "close", "label": "Close: outcome told and the appeal route explained", "choices": ["yes", "no"]},
]


def default_checklist(apps, schema_editor):
    ChecklistTemplate = apps.get_model("verification", "ChecklistTemplate")
    if not ChecklistTemplate.objects.exists():
        ChecklistTemplate.objects.create(version=1, items=DEFAULT_ITEMS, created_at=timezone.now(),
                                         created_by="system")


class Migration(migrations.Migration):
    dependencies = [("verification", "0007_calls_and_reviews")]
    operations = [migrations.RunPython(default_checklist, migrations.RunPython.noop)]
