"""Every index is written on every insert: a foreign key gets no index of its own when another index
starts with its column (issue 15). The foreign key constraints themselves stay."""

import pytest
from django.db import connection

from scheduling.models import Booking, Slot
from verification.models import AuditEvent, IdempotencyRecord

pytestmark = pytest.mark.django_db

COVERED = [  # (model, foreign key column, the index or unique constraint that starts with it)
    (AuditEvent, "case_id", "audit_case_at_idx"),
    (IdempotencyRecord, "api_key_id", "idempotency_key_once_per_client"),
    (Slot, "representative_id", "slot_once_per_rep_and_start"),
    (Booking, "representative_id", "booking_rep_start_idx"),
]


@pytest.mark.parametrize(("model", "column", "covering"), COVERED, ids=lambda v: getattr(v, "__name__", v))
def test_a_covered_foreign_key_has_no_index_of_its_own_but_keeps_its_constraint(model, column, covering):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    indexes = {name: c["columns"] for name, c in constraints.items() if c["index"] or c["unique"]}
    assert indexes[covering][0] == column
    of_its_own = [name for name, columns in indexes.items() if columns == [column]]
    assert of_its_own == [], f"{model.__name__}.{column} has an index {of_its_own} that {covering} already covers"
    foreign_keys = [c for c in constraints.values() if c["foreign_key"] and c["columns"] == [column]]
    if connection.vendor == "postgresql":  # SQLite's introspection names no foreign key constraints
        assert len(foreign_keys) == 1
