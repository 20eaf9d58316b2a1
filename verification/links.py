"""The freelancer's signed link: no password, unguessable, revocable, expiring.

The token is the case id and a per-case nonce with the time it was issued, signed with SECRET_KEY
(Django's `TimestampSigner` format: `<case hex>.<nonce>:<issued, base 62>:<signature>`).

- Revoking replaces the nonce, which invalidates every token issued before.
- A token expires `Policy.link_days` after it was issued (every email carries a freshly signed one;
  the expired-link page mails a fresh link on request), and every token stops working
  `Policy.link_days_after_close` after the case ended.
- A token signed before links carried an issue time (no timestamp) counts as expired: it still
  names its case, so the freelancer can ask for a fresh link, but it opens nothing.
"""

import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.core import signing
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scheduling.errors import DomainError
from verification.models import Case

_SALT = "verification.freelancer-link"


class LinkInvalid(DomainError):
    status_code = 401
    code = "link_invalid"
    detail = _("This link is not valid. Use the newest link from your email, or ask support for a new one.")


class LinkExpired(DomainError):
    """`case` is the case the link names (its signature holds); `renewable`: a fresh link may be mailed."""

    status_code = 401
    code = "link_expired"
    detail = _("This link has expired. Open it in your browser to have a fresh link emailed to you.")

    def __init__(self, *, case: Case, renewable: bool):
        super().__init__(None if renewable else
                         _("This link has expired because the case ended. Ask support if you need to see it again."))
        self.case, self.renewable = case, renewable


class _IssuedAt(signing.TimestampSigner):
    """A TimestampSigner that stamps the given issue time (services pass `now`)."""

    def __init__(self, issued_at: datetime):
        super().__init__(salt=_SALT)
        self._issued_at = issued_at

    def timestamp(self) -> str:
        return signing.b62_encode(int(self._issued_at.timestamp()))


def freelancer_token(case: Case, *, now: datetime | None = None) -> str:
    return _IssuedAt(now or timezone.now()).sign(f"{case.id.hex}.{case.link_nonce}")


def freelancer_url(case: Case, *, now: datetime | None = None) -> str:
    return f"{settings.PUBLIC_BASE_URL}/c/{freelancer_token(case, now=now)}/"


def _parsed(token: str) -> tuple[uuid.UUID, str, datetime | None]:
    """Case id, nonce and issue time of a token whose signature holds (None: signed without one)."""
    try:
        payload = signing.Signer(salt=_SALT).unsign(token)
        payload, _, stamp = payload.partition(":")
        case_hex, nonce = payload.split(".", 1)
        issued_at = datetime.fromtimestamp(signing.b62_decode(stamp), tz=UTC) if stamp else None
        return uuid.UUID(hex=case_hex), nonce, issued_at
    except (signing.BadSignature, TypeError, ValueError, OverflowError, OSError):
        raise LinkInvalid() from None


def link_case_ref(token: str) -> str:
    """The case a token names, if its signature holds, else the token itself (a rate-limit key)."""
    try:
        return _parsed(token)[0].hex
    except LinkInvalid:
        return token[:200]


def case_from_token(token: str, *, now: datetime) -> Case:
    """The case a valid, unexpired link opens; `LinkInvalid` or `LinkExpired` otherwise."""
    case_id, nonce, issued_at = _parsed(token)
    case = Case.objects.select_related("freelancer").filter(pk=case_id, link_nonce=nonce).first()
    if case is None:
        raise LinkInvalid()
    if case.closed_at and now > case.closed_at + case.policy.link_lifetime_after_close:
        raise LinkExpired(case=case, renewable=False)
    if issued_at is None or now > issued_at + case.policy.link_lifetime:
        raise LinkExpired(case=case, renewable=True)
    return case


def case_for_renewal(token: str, *, now: datetime) -> Case:
    """The case a fresh link may be mailed for: the token's signature and nonce hold (it may have
    expired by age) and the case has not ended too long ago."""
    try:
        return case_from_token(token, now=now)
    except LinkExpired as expired:
        if not expired.renewable:
            raise
        return expired.case
