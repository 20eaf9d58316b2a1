from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE scheduling_booking ADD CONSTRAINT booking_no_overlap_per_rep
    EXCLUDE USING gist (representative_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
    WHERE (status = 'ACTIVE');
"""
DROP = "ALTER TABLE scheduling_booking DROP CONSTRAINT IF EXISTS booking_no_overlap_per_rep;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    """A representative never has two active calls that overlap: enforced by PostgreSQL itself.

    Kept out of the model state because SQLite (the embedded default) has no exclusion constraints.
    """

    dependencies = [("scheduling", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
