"""The slots generations: numbers in the shared cache (settings CACHES, Redis in production) that
every write which can change what `scheduling.selectors.availability_list` answers bumps once its
transaction has committed. One per UTC date (the free start times on that date may have changed)
and one global one (anything may have changed). A cached day of availability is stored under the
global generation and those of the UTC dates it overlaps, as they were when it was computed, so
the first read after a bump of any of them misses and reads the database afresh.

Which to bump: a write that knows the start times it took or freed (a booking, a move, a cancel, a
hand-over) passes them, `slots_changed(instants=[...])`, and only the days holding them are
recomputed; any other write (slot syncs, the prune, representatives) calls `slots_changed()`,
which invalidates every day. A free time is one slot's start, free or not by that slot alone
(`availability_list`), so taking or freeing a slot changes the answer at its start and nowhere else.

Why after the commit (`transaction.on_commit`), never before: a reader that sees the new number
then necessarily reads the database after the write committed. Bumped before, a reader could see
the new number, read the old rows and store them under the new number until the next write.

What changes availability: a slot created, deleted, booked or freed (scheduling.services: slots,
bookings, calendars) and a representative's `active`, `can_take_phone_calls` or languages (the
signal receivers below, for the admin and any other ORM save or delete of those rows). A queryset
`.update()` of those rows or a raw SQL write bypasses the receivers: call `slots_changed()` there.
"""

import time
from collections.abc import Iterable
from datetime import UTC, date, datetime

from django.core.cache import cache
from django.db import transaction

GENERATION_KEY = "scheduling:slots-generation"
DAY_GENERATION_TTL = 35 * 24 * 3600  # a day's number may expire: it comes back as one never used before


def day_generation_key(day: date) -> str:
    return f"{GENERATION_KEY}:{day.isoformat()}"


def _bump(key: str = GENERATION_KEY) -> None:
    timeout = None if key == GENERATION_KEY else DAY_GENERATION_TTL
    try:
        cache.incr(key)
    except ValueError:  # never set, evicted, expired or flushed: a number never used before (cached
        # answers under a reused one would look current)
        if not cache.add(key, time.time_ns(), timeout=timeout):
            cache.incr(key)  # another process set it meanwhile


def _bumper(key: str):
    return lambda: _bump(key)


def slots_changed(*, instants: Iterable[datetime] = ()) -> None:
    """Availability may have changed: bump the generations once the current transaction commits
    (at once outside a transaction; never if it rolls back). `instants`: the only start times
    whose availability changed (a booking's, a move's old and new): bump the generation of each
    one's UTC date. None given: bump the global generation, which every cached day carries.
    A cache that is down is logged, not raised: the write has committed, and the cached answers
    expire within settings.AVAILABILITY_CACHE_SECONDS anyway."""
    days = sorted({instant.astimezone(UTC).date() for instant in instants})
    for key in [day_generation_key(day) for day in days] if days else [GENERATION_KEY]:
        transaction.on_commit(_bumper(key), robust=True)


def slots_generation() -> int:
    """The current global slots generation (set to a fresh number if there is none yet)."""
    return slots_generations([])[GENERATION_KEY]


def slots_generations(days: Iterable[date]) -> dict[str, int]:
    """The current generations, global and of these UTC dates, by key (`GENERATION_KEY`,
    `day_generation_key(day)`): one `get_many`; any not there yet is set to a fresh number."""
    keys = [GENERATION_KEY, *(day_generation_key(day) for day in days)]
    generations = cache.get_many(keys)
    missing = [key for key in keys if key not in generations]
    if missing:
        for key in missing:
            cache.add(key, time.time_ns(), timeout=None if key == GENERATION_KEY else DAY_GENERATION_TTL)
        generations.update(cache.get_many(missing))
    return generations


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
