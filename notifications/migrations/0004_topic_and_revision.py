"""`subject` becomes `topic` and the integer `version` a self-describing `revision`
("booking-seq-2", "deadline-1767225600", "case-rev-14", "day-2026-12-02", "notice")."""

from datetime import date

from django.db import migrations, models
from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Cast, Concat


def revisions_from_versions(apps, schema_editor):
    message = apps.get_model("notifications", "OutboxMessage")
    rows = message.objects.all()
    as_text = Cast(F("version"), CharField())

    def prefix(text):
        return Concat(Value(text), as_text, output_field=CharField())

    rows.filter(Q(kind__startswith="booking_") | Q(kind__startswith="reminder")).update(
        revision=prefix("booking-seq-"))
    rows.filter(kind__startswith="deadline_warning").update(revision=prefix("deadline-"))
    rows.filter(kind="notice").update(revision=Value("notice"))
    for row in rows.filter(kind="rep_agenda").only("pk", "version"):
        rows.filter(pk=row.pk).update(revision=f"day-{date.fromordinal(row.version).isoformat()}")
    rows.filter(revision="").update(revision=prefix("case-rev-"))


class Migration(migrations.Migration):

    dependencies = [
        ("notifications", "0003_attempts"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="outboxmessage", name="outbox_message_once"),
        migrations.RenameField(model_name="outboxmessage", old_name="subject", new_name="topic"),
        migrations.AlterField(
            model_name="outboxmessage", name="topic",
            field=models.CharField(max_length=80, help_text='What the message is about: "booking:<id>", "case:<id>"...'),
        ),
        migrations.AddField(
            model_name="outboxmessage", name="revision",
            field=models.CharField(max_length=60, default="", help_text="Which state of the topic it was made for."),
            preserve_default=False,
        ),
        migrations.RunPython(revisions_from_versions, migrations.RunPython.noop),
        migrations.RemoveField(model_name="outboxmessage", name="version"),
        migrations.AddConstraint(
            model_name="outboxmessage",
            constraint=models.UniqueConstraint(fields=("kind", "topic", "revision"), name="outbox_message_once"),
        ),
        migrations.AddIndex(
            model_name="outboxmessage",
            index=models.Index(condition=models.Q(("status", "PENDING")), fields=["topic"],
                               name="outbox_pending_topic_idx"),
        ),
    ]
