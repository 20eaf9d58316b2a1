"""A representative's private calendar feed link: made, rotated and revoked. Only a hash of the
token is stored; the token is returned once, to be shown once."""

import logging
import secrets
from datetime import datetime

from django.db import transaction

from scheduling.models import CalendarFeedToken, Representative, feed_token_hash

logger = logging.getLogger(__name__)


def _revoke_live(*, representative_id: int, actor: str, now: datetime) -> int:
    return CalendarFeedToken.objects.filter(representative_id=representative_id, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=actor)


@transaction.atomic
def calendar_feed_rotate(*, representative_id: int, actor: str, now: datetime) -> str:
    """Revoke the representative's current feed link (if any) and make a new one; returns the new
    token, which is stored nowhere. The representative row is locked so two rotations queue."""
    Representative.objects.select_for_update().get(pk=representative_id)
    revoked = _revoke_live(representative_id=representative_id, actor=actor, now=now)
    token = secrets.token_urlsafe(32)
    CalendarFeedToken.objects.create(representative_id=representative_id, token_hash=feed_token_hash(token),
                                     created_at=now, created_by=actor)
    logger.info("calendar feed of representative %s %s by %s", representative_id,
                "rotated" if revoked else "created", actor)
    return token


@transaction.atomic
def calendar_feed_revoke(*, representative_id: int, actor: str, now: datetime) -> bool:
    """Stop the feed: the current link answers 404 from now on. False if there was none."""
    Representative.objects.select_for_update().get(pk=representative_id)
    revoked = _revoke_live(representative_id=representative_id, actor=actor, now=now)
    if revoked:
        logger.info("calendar feed of representative %s revoked by %s", representative_id, actor)
    return bool(revoked)
