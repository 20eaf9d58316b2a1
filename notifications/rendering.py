"""Render an outbox message as an email: subject, plain text and HTML from templates, times in the
recipient's zone, and the booking's calendar invite when the kind carries one."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.mime.text import MIMEText
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from scheduling.ics import booking_invite, invite_method

from .kinds import booking_of, kind_for
from .models import OutboxMessage

_AFTER_SENDING = "after_sending_days"


@dataclass(frozen=True)
class AfterSending:
    """A moment a message states relative to when it is sent ("you have 7 days from this email"),
    known only then: the message's context carries it as data and the email shows `at(sent)`; a
    caller that needs the same moment later computes it from the message's `sent_at` with `at`."""

    days: int

    def at(self, sent_at: datetime) -> datetime:
        return sent_at + timedelta(days=self.days)

    def as_context(self) -> dict[str, int]:
        return {_AFTER_SENDING: self.days}


def _resolved(context: dict[str, Any], *, sent_at: datetime) -> dict[str, Any]:
    """The context with each `AfterSending` value turned into the ISO instant it stands for."""
    return {key: AfterSending(value[_AFTER_SENDING]).at(sent_at).isoformat()
            if isinstance(value, dict) and set(value) == {_AFTER_SENDING} else value
            for key, value in context.items()}


def message_id(message: OutboxMessage) -> str:
    """Stable per outbox row, so a receiver can recognise a retry of the same message."""
    host = settings.PUBLIC_BASE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"
    return f"<outbox-{message.pk}@{host}>"


def message_language(message: OutboxMessage) -> str:
    """The language the message is written in: the recipient's, carried in its context (the
    freelancer's, `verification.languages`), or the site's default."""
    language = message.context.get("language") or settings.LANGUAGE_CODE
    return language if language in {code for code, _name in settings.LANGUAGES} else settings.LANGUAGE_CODE


def render_email(message: OutboxMessage, *, now: datetime) -> EmailMultiAlternatives:
    """Subject, bodies and the invite, all in the message's language (`Content-Language`)."""
    language = message_language(message)
    with translation.override(language):
        email = _render_email(message, now=now)
    email.extra_headers["Content-Language"] = language
    return email


def _render_email(message: OutboxMessage, *, now: datetime) -> EmailMultiAlternatives:
    kind = kind_for(message)
    context = {**_resolved(message.context, sent_at=now), "kind": message.kind, "now": now.isoformat()}
    folder = f"notifications/email/{kind.name}"
    subject = " ".join(render_to_string(f"{folder}/subject.txt", context).split())
    email = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{folder}/body.txt", context),
        to=[message.recipient],
        headers={"Message-ID": message_id(message), "X-Verification-Kind": message.kind,
                 "X-Verification-Revision": message.revision},
    )
    email.attach_alternative(render_to_string(f"{folder}/body.html", context), "text/html")
    if kind.invite:
        booking = booking_of(message)
        part = MIMEText(booking_invite(booking).decode(), "calendar", "utf-8")
        part.set_param("method", invite_method(booking))
        part.add_header("Content-Disposition", "attachment", filename="invite.ics")
        email.attach(part)
    return email
