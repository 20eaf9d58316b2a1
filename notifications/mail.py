"""Email for the embedded default: printed to the console and kept in a folder the dev mailbox
page (/dev/mail/) reads, so a newcomer can open the links a freelancer would get."""

import uuid
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.console import EmailBackend as ConsoleBackend


def _folder() -> Path:
    folder = Path(settings.DEV_MAILBOX_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class DevMailboxBackend(ConsoleBackend):
    def send_messages(self, email_messages) -> int:
        sent = super().send_messages(email_messages)
        for message in email_messages:
            name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
            (_folder() / name).write_bytes(message.message().as_bytes(linesep="\n"))
        return sent


def dev_mailbox_list(*, limit: int = 100) -> list[tuple[str, EmailMessage]]:
    """Newest first: (message id, parsed message)."""
    files = sorted(_folder().glob("*.eml"), reverse=True)[:limit]
    return [(f.stem, _parse(f)) for f in files]


def dev_mailbox_get(message_id: str) -> EmailMessage | None:
    path = _folder() / f"{Path(message_id).name}.eml"
    return _parse(path) if path.is_file() else None


def _parse(path: Path) -> EmailMessage:
    with path.open("rb") as handle:
        return BytesParser(policy=policy.default).parse(handle)
