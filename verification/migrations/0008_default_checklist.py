from django.db import migrations
from django.utils import timezone

from verification.checklist import DEFAULT_ITEMS


def default_checklist(apps, schema_editor):
    ChecklistTemplate = apps.get_model("verification", "ChecklistTemplate")
    if not ChecklistTemplate.objects.exists():
        ChecklistTemplate.objects.create(version=1, items=DEFAULT_ITEMS, created_at=timezone.now(),
                                         created_by="system")


class Migration(migrations.Migration):
    dependencies = [("verification", "0007_calls_and_reviews")]
    operations = [migrations.RunPython(default_checklist, migrations.RunPython.noop)]
