"""Drop two foreign keys' own indexes, which an index starting with the same column already covers
(booking_rep_start_idx, slot_once_per_rep_and_start): one index fewer to write per booking and per
claimed slot. Only the indexes go; Django's AlterField would also drop and re-add (and so re-check
over the whole table, under lock) the foreign key constraints."""

import django.db.models.deletion
from django.db import migrations, models


def _drop_index(name: str, table: str, column: str) -> migrations.RunSQL:
    return migrations.RunSQL(f'DROP INDEX IF EXISTS "{name}"', f'CREATE INDEX "{name}" ON "{table}" ("{column}")')


class Migration(migrations.Migration):

    dependencies = [
        ("scheduling", "0007_booking_case_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                _drop_index("scheduling_booking_representative_id_27608b4d", "scheduling_booking", "representative_id"),
                _drop_index("scheduling_slot_representative_id_62331e80", "scheduling_slot", "representative_id"),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="booking",
                    name="representative",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name="bookings", to="scheduling.representative"),
                ),
                migrations.AlterField(
                    model_name="slot",
                    name="representative",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name="slots", to="scheduling.representative"),
                ),
            ],
        ),
    ]
