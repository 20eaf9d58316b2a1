"""What the outbox can tell the apps that write to it (they never read its rows directly)."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q

from scheduling.process_cache import ProcessCache

from .keys import MessageKey
from .models import MessageStatus, OutboxMessage, WebhookEndpoint


def messages_sent_at(keys: Iterable[MessageKey]) -> dict[MessageKey, datetime]:
    """When each of these messages was sent; a message not (yet) sent is absent. One query, by the
    unique index: keys are grouped by kind and revision, their topics asked together."""
    topics: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key in keys:
        topics[key.kind, key.revision].append(key.topic)
    if not topics:
        return {}
    match = Q()
    for (kind, revision), of_topics in topics.items():
        match |= Q(kind=kind, revision=revision, topic__in=of_topics)
    rows = OutboxMessage.objects.filter(match, status=MessageStatus.SENT).values_list("kind", "topic", "revision",
                                                                                      "sent_at")
    return {MessageKey(kind, topic, revision): sent_at for kind, topic, revision, sent_at in rows}


def _endpoints_active() -> tuple[WebhookEndpoint, ...]:
    return tuple(WebhookEndpoint.objects.filter(active=True))


# read on every change of a case, edited by an admin now and then (`scheduling.process_cache`)
_ENDPOINTS_ACTIVE = ProcessCache(_endpoints_active, models=[WebhookEndpoint])


def webhook_endpoints_active() -> list[WebhookEndpoint]:
    """The endpoints webhooks go to (each says which events it wants). An endpoint added, turned
    on or subscribed to an event gets the changes made at most `scheduling.process_cache.TTL`
    seconds later (at once in the process that saved it); one removed or turned off is sent
    nothing more (`notifications.webhooks` checks it again when sending). Shared: not to be changed."""
    return list(_ENDPOINTS_ACTIVE.get())
