"""Drop two foreign keys' own indexes, which an index starting with the same column already covers
(audit_case_at_idx; idempotency_key_once_per_client): one index fewer to write per audit event, two
(with PostgreSQL's `_like` twin) per idempotency record. Only the indexes go; Django's AlterField
would also drop and re-add (and so re-check over the whole table, under lock) the foreign keys."""

import django.db.models.deletion
from django.db import migrations, models

_AUDIT_CASE = "verification_auditevent_case_id_561cc669"
_KEY_CLIENT = "verification_idempotencyrecord_api_key_id_c5a5ecef"


class Migration(migrations.Migration):

    dependencies = [
        ("rest_framework_api_key", "0005_auto_20220110_1102"),
        ("verification", "0019_case_language_choice"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{_AUDIT_CASE}"',
                                  f'CREATE INDEX "{_AUDIT_CASE}" ON "verification_auditevent" ("case_id")'),
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{_KEY_CLIENT}"',
                                  f'CREATE INDEX "{_KEY_CLIENT}" ON "verification_idempotencyrecord" ("api_key_id")'),
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{_KEY_CLIENT}_like"', migrations.RunSQL.noop),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="case",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name="audit_events", to="verification.case"),
                ),
                migrations.AlterField(
                    model_name="idempotencyrecord",
                    name="api_key",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            to="rest_framework_api_key.apikey"),
                ),
            ],
        ),
    ]
