import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .keys import MessageKey


def webhook_url_refusal(url: str) -> str | None:
    """Why a webhook URL is refused, or None: https only; plain http only to a loopback address
    when `WEBHOOK_HTTP_LOOPBACK` is on (development, tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and settings.WEBHOOK_HTTP_LOOPBACK and _is_loopback(parts.hostname or ""):
        return None
    return "A webhook endpoint must use https:// (plain http only to a loopback address in development)."


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_webhook_url(url: str) -> None:
    refusal = webhook_url_refusal(url)
    if refusal:
        raise ValidationError(refusal)


class MessageStatus(models.TextChoices):
    PENDING = "PENDING", _("Waiting until due")
    SENDING = "SENDING", _("Claimed by a worker")
    SENT = "SENT", _("Sent")
    SKIPPED = "SKIPPED", _("Skipped: no longer holds")
    FAILED = "FAILED", _("Failed after every retry")


class OutboxMessage(models.Model):
    """One message to send, written in the same transaction as the change that causes it.

    `(kind, topic, revision)` is unique (`notifications.keys.MessageKey`), so a message exists once:
    `topic` is what it is about ("booking:<id>", "case:<id>", "rep:<id>") and `revision` the state
    of the topic it was made for, self-describing ("booking-seq-2", "deadline-1767225600",
    "case-rev-14", "day-2026-12-02"). The beat sweep claims due rows; a send step re-checks that the
    message still holds, marks the attempt (committed) before talking to the mail server, hands the
    message over and records the outcome. Retries are rows due again later. An attempt whose worker
    died before its outcome was recorded is counted in `uncertain_attempts`: that message may have
    reached the recipient, and is sent again with the same Message-ID (or Webhook-Id).
    """

    kind = models.CharField(max_length=60)
    topic = models.CharField(max_length=80, help_text='What the message is about: "booking:<id>", "case:<id>"...')
    revision = models.CharField(max_length=60, help_text="Which state of the topic it was made for.")
    case_ref = models.UUIDField(null=True, blank=True, db_index=True)
    recipient = models.CharField(max_length=254)
    context = models.JSONField(default=dict, blank=True, help_text="What the template needs, captured when made.")
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True, help_text="A SENDING claim expires then.")
    attempt_started_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When the delivery in progress began (committed before the mail server is spoken to); "
                  "cleared when its outcome is recorded.")
    uncertain_attempts = models.PositiveSmallIntegerField(
        default=0, verbose_name="attempts of unknown outcome",
        help_text="Deliveries whose worker died before their outcome was recorded: each may have reached the "
                  "recipient, so a copy with the same Message-ID or Webhook-Id may exist.")
    sent_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "topic", "revision"], name="outbox_message_once"),
            models.CheckConstraint(condition=Q(status__in=MessageStatus.values), name="outbox_status_known"),
            models.CheckConstraint(condition=Q(attempt_started_at__isnull=True) | Q(status=MessageStatus.SENDING),
                                   name="outbox_attempt_only_while_sending"),
        ]
        indexes = [
            models.Index(fields=["due_at"], name="outbox_pending_due_idx", condition=Q(status="PENDING")),
            models.Index(fields=["lease_until"], name="outbox_sending_lease_idx", condition=Q(status="SENDING")),
            models.Index(fields=["topic"], name="outbox_pending_topic_idx", condition=Q(status="PENDING")),
            # Operations and /metrics count and list failed messages without reading the sent ones
            models.Index(fields=["updated_at"], name="outbox_failed_idx", condition=Q(status="FAILED")),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient} ({self.get_status_display()})"

    @property
    def key(self) -> MessageKey:
        return MessageKey(self.kind, self.topic, self.revision)

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
    url = models.URLField(max_length=500, validators=[validate_webhook_url],
                          help_text="https://... (plain http only to a loopback address, in development).")
    secret = models.CharField(max_length=128, default=_webhook_secret,
                              help_text="Shared secret for the HMAC-SHA256 signature; give it to the receiver.")
    events = models.JSONField(default=list, blank=True, help_text=f"Empty: all of {', '.join(WEBHOOK_EVENTS)}.")
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"

    def wants(self, event: str) -> bool:
        return self.active and (not self.events or event in self.events)
