"""The slots generation: one number in the shared cache (settings CACHES, Redis in production) that
every write which can change what `scheduling.selectors.availability_list` answers bumps once its
transaction has committed. A cached availability answer is stored under the generation it was
computed at, so the first read after a bump misses and reads the database afresh.

Why after the commit (`transaction.on_commit`), never before: a reader that sees the new number
then necessarily reads the database after the write committed. Bumped before, a reader could see
the new number, read the old rows and store them under the new number until the next write.

What changes availability: a slot created, deleted, booked or freed (scheduling.services: slots,
bookings, calendars) and a representative's `active`, `can_take_phone_calls` or languages (the
signal receivers below, for the admin and any other ORM save or delete of those rows). A queryset
`.update()` of those rows or a raw SQL write bypasses the receivers: call `slots_changed()` there.
"""

import time

from django.core.cache import cache
from django.db import transaction

GENERATION_KEY = "scheduling:slots-generation"


def _bump() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # never set, evicted or flushed: a number never used before (cached answers
        # under a reused one would look current)
        if not cache.add(GENERATION_KEY, time.time_ns(), timeout=None):
            cache.incr(GENERATION_KEY)  # another process set it meanwhile


def slots_changed() -> None:
    """Availability may have changed: bump the slots generation once the current transaction
    commits (at once outside a transaction; never if it rolls back). A cache that is down is
    logged, not raised: the write has committed, and the cached answers expire within
    settings.AVAILABILITY_CACHE_SECONDS anyway."""
    transaction.on_commit(_bump, robust=True)


def slots_generation() -> int:
    """The current slots generation (set to a fresh number if there is none yet)."""
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        cache.add(GENERATION_KEY, time.time_ns(), timeout=None)
        generation = cache.get(GENERATION_KEY)
    return generation


def _representative_changed(sender, **kwargs) -> None:
    slots_changed()


def receivers_connect() -> None:
    """Saves and deletes of representatives and their languages (the admin's form and inline, the
    shell, seeds) bump the generation: `availability_list` reads `active`, `can_take_phone_calls`
    and the languages. Not domain logic, only the invalidation of a cache, hence a signal."""
    from django.db.models.signals import post_delete, post_save

    from scheduling.models import Representative, RepresentativeLanguage

    for model in (Representative, RepresentativeLanguage):
        post_save.connect(_representative_changed, sender=model, dispatch_uid=f"slots_changed_{model.__name__}")
        post_delete.connect(_representative_changed, sender=model, dispatch_uid=f"slots_deleted_{model.__name__}")
