"""Render an outbox message as an email: subject, plain text and HTML from templates, times in the
recipient's zone, and the booking's calendar invite when the kind carries one."""

from datetime import datetime
from email.mime.text import MIMEText

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from scheduling.ics import booking_invite, invite_method
from scheduling.models import Booking

from .kinds import kind_for
from .models import OutboxMessage


def message_id(message: OutboxMessage) -> str:
    """Stable per outbox row, so a receiver can recognise a retry of the same message."""
    host = settings.PUBLIC_BASE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"
    return f"<outbox-{message.pk}-{message.version}@{host}>"


def render_email(message: OutboxMessage, *, now: datetime) -> EmailMultiAlternatives:
    kind = kind_for(message)
    context = {**message.context, "kind": message.kind, "now": now.isoformat()}
    if kind.extra_context:
        context.update(kind.extra_context(message, now))
    folder = f"notifications/email/{kind.name}"
    subject = " ".join(render_to_string(f"{folder}/subject.txt", context).split())
    email = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{folder}/body.txt", context),
        to=[message.recipient],
        headers={"Message-ID": message_id(message), "X-Verification-Kind": message.kind},
    )
    email.attach_alternative(render_to_string(f"{folder}/body.html", context), "text/html")
    if kind.invite:
        booking = Booking.objects.get(pk=message.subject.removeprefix("booking:"))
        part = MIMEText(booking_invite(booking).decode(), "calendar", "utf-8")
        part.set_param("method", invite_method(booking))
        part.add_header("Content-Disposition", "attachment", filename="invite.ics")
        email.attach(part)
    return email
