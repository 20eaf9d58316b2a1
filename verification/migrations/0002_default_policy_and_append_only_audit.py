from django.db import migrations

APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION verification_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER verification_auditevent_append_only
    BEFORE UPDATE OR DELETE ON verification_auditevent
    FOR EACH ROW EXECUTE FUNCTION verification_auditevent_append_only();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS verification_auditevent_append_only ON verification_auditevent;
DROP FUNCTION IF EXISTS verification_auditevent_append_only();
"""


def append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL, params=None)


def drop_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


def default_policy(apps, schema_editor):
    GracePolicy = apps.get_model("verification", "GracePolicy")
    GracePolicy.objects.get_or_create(
        reason_code="default",
        defaults={"grace_days": 7, "warning_offsets_hours": [72, 24], "max_reschedules": 3},
    )


class Migration(migrations.Migration):
    dependencies = [("verification", "0001_initial")]

    operations = [
        migrations.RunPython(append_only, drop_append_only),
        migrations.RunPython(default_policy, migrations.RunPython.noop),
    ]
