"""The freelancer's signed link: no password, unguessable, revocable, expiring after the case ends.

The token is the case id and a per-case nonce, signed with SECRET_KEY. Revoking replaces the nonce,
which invalidates every token issued before.
"""

import uuid
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext_lazy as _

from scheduling.errors import DomainError
from verification.models import Case

_SALT = "verification.freelancer-link"


class LinkInvalid(DomainError):
    status_code = 401
    code = "link_invalid"
    detail = _("This link is not valid. Use the newest link from your email, or ask support for a new one.")


class LinkExpired(DomainError):
    status_code = 401
    code = "link_expired"
    detail = _("This link has expired because the case ended. Ask support if you need to see it again.")


def freelancer_token(case: Case) -> str:
    return signing.Signer(salt=_SALT).sign(f"{case.id.hex}.{case.link_nonce}")


def freelancer_url(case: Case) -> str:
    return f"{settings.PUBLIC_BASE_URL}/c/{freelancer_token(case)}/"


def case_from_token(token: str, *, now: datetime) -> Case:
    try:
        case_hex, nonce = signing.Signer(salt=_SALT).unsign(token).split(".", 1)
        case = Case.objects.select_related("freelancer").get(pk=uuid.UUID(hex=case_hex), link_nonce=nonce)
    except (signing.BadSignature, Case.DoesNotExist, TypeError, ValueError):
        raise LinkInvalid() from None
    if case.closed_at and now > case.closed_at + case.policy.link_lifetime_after_close:
        raise LinkExpired()
    return case
