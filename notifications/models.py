from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class MessageStatus(models.TextChoices):
    PENDING = "PENDING", _("Waiting until due")
    SENDING = "SENDING", _("Claimed by a worker")
    SENT = "SENT", _("Sent")
    SKIPPED = "SKIPPED", _("Skipped: no longer holds")
    FAILED = "FAILED", _("Failed after every retry")


class OutboxMessage(models.Model):
    """One message to send, written in the same transaction as the change that causes it.

    `(kind, subject, version)` is unique, so a message exists once: `subject` is what it is about
    ("booking:<id>", "case:<id>", "rep:<id>") and `version` the state it was made for (a booking's
    sequence, a case's deadline, a case's version). The beat sweep claims due rows; a send step re-checks that the
    message still holds, sends, and records the outcome. Retries are rows due again later.
    """

    kind = models.CharField(max_length=60)
    subject = models.CharField(max_length=80)
    version = models.BigIntegerField(default=0)
    case_ref = models.UUIDField(null=True, blank=True, db_index=True)
    recipient = models.CharField(max_length=254)
    context = models.JSONField(default=dict, blank=True, help_text="What the template needs, captured when made.")
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True, help_text="A SENDING claim expires then.")
    sent_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "subject", "version"], name="outbox_message_once"),
            models.CheckConstraint(condition=Q(status__in=MessageStatus.values), name="outbox_status_known"),
        ]
        indexes = [
            models.Index(fields=["due_at"], name="outbox_pending_due_idx", condition=Q(status="PENDING")),
            models.Index(fields=["lease_until"], name="outbox_sending_lease_idx", condition=Q(status="SENDING")),
            # Operations and /metrics count and list failed messages without reading the sent ones
            models.Index(fields=["updated_at"], name="outbox_failed_idx", condition=Q(status="FAILED")),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient} ({self.get_status_display()})"

    @property
    def base_kind(self) -> str:
        """`reminder:60` -> `reminder`."""
        return self.kind.split(":", 1)[0]


WEBHOOK_EVENTS = [
    "case.created", "case.scheduled", "case.deadline_extended", "case.frozen", "case.unfrozen",
    "case.verified", "case.not_verified", "case.withdrawn",
]


def _webhook_secret() -> str:
    import secrets

    return secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """Where the marketplace hears about cases. Each delivery is an outbox row (kind `webhook:<event>`):
    retried with backoff, logged with its attempts and last error."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128, default=_webhook_secret,
                              help_text="Shared secret for the HMAC-SHA256 signature; give it to the receiver.")
    events = models.JSONField(default=list, blank=True, help_text=f"Empty: all of {', '.join(WEBHOOK_EVENTS)}.")
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"

    def wants(self, event: str) -> bool:
        return self.active and (not self.events or event in self.events)
