from smtplib import SMTPDataError, SMTPServerDisconnected

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


class FailingBackend(BaseEmailBackend):
    """An SMTP server that hangs up on every message."""

    def send_messages(self, email_messages):
        raise SMTPServerDisconnected("Connection unexpectedly closed")


class RefusingBackend(BaseEmailBackend):
    """An SMTP server that answers 554 to every message: a refusal, so certainly not delivered."""

    def send_messages(self, email_messages):
        raise SMTPDataError(554, b"Transaction failed")


class WorkerDied(BaseException):
    """Stands for SIGKILL: nothing after it runs, no `except Exception` catches it, and an open
    transaction is rolled back (as PostgreSQL does when the connection drops)."""


class AcceptThenDie(LocmemBackend):
    """The server accepts the message (it is in `mail.outbox`), then the worker dies before it
    hears the answer."""

    def send_messages(self, email_messages):
        super().send_messages(email_messages)
        raise WorkerDied


class DieOnConnect(LocmemBackend):
    """The worker dies after taking its send task, before delivering anything."""

    def open(self):
        raise WorkerDied
