"""A few rows read on nearly every request and changed by an admin now and then (the grace policies,
the webhook endpoints), kept in the process for `TTL` seconds instead of read each time.

An edit is seen at once by the process that made it, and by every other process (each gunicorn
worker, each Celery worker) within `TTL`: saving or deleting a row of the models given empties the
cache of the process that saved it (Django's model signals, then again when the transaction
commits). `QuerySet.update()` and raw SQL send no signal: their edits are seen within `TTL`, as is
the undoing of an edit rolled back after this process read it. A cached value is shared: callers
must not change it.
"""

import time
from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import transaction
from django.db.models import Model
from django.db.models.signals import post_delete, post_save

T = TypeVar("T")
TTL = 5.0  # seconds

_ALL: list["ProcessCache"] = []


class ProcessCache(Generic[T]):
    def __init__(self, load: Callable[[], T], *, models: list[type[Model]], ttl: float = TTL) -> None:
        self._load, self._ttl = load, ttl
        self._entry: tuple[float, T] | None = None  # (expires, value), replaced whole
        for model in models:
            post_save.connect(self._changed, sender=model, weak=False)
            post_delete.connect(self._changed, sender=model, weak=False)
        _ALL.append(self)

    def get(self) -> T:
        entry, now = self._entry, time.monotonic()
        if entry is None or now >= entry[0]:
            entry = (now + self._ttl, self._load())
            self._entry = entry
        return entry[1]

    def clear(self) -> None:
        self._entry = None

    def _changed(self, **_kwargs) -> None:
        # now (this transaction reads its own edit) and at commit (a read between the two, from
        # another connection of this process, may have cached the value the edit replaces)
        self.clear()
        transaction.on_commit(self.clear)


def process_caches_clear() -> None:
    """Empty every cache of this process (tests, whose rolled-back rows send no signal)."""
    for cache in _ALL:
        cache.clear()
