"""Calendar credentials encrypted at rest (Fernet, key CALENDAR_CREDENTIALS_KEY)."""

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from scheduling.errors import CalendarProblem


def _fernet() -> Fernet:
    if not settings.CALENDAR_CREDENTIALS_KEY:
        raise CalendarProblem("calendar_key_missing", _("Calendars cannot be connected on this server yet: "
                                                        "CALENDAR_CREDENTIALS_KEY is not set. Ask an administrator."))
    return Fernet(settings.CALENDAR_CREDENTIALS_KEY.encode())


def secret_seal(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def secret_open(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise CalendarProblem("calendar_key_changed", _("The stored calendar password cannot be read (the server's "
                                                        "key changed). Connect the calendar again.")) from error
