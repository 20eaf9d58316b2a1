"""A request's whole transaction, and the services that join it without a savepoint.

A service runs in `transaction.atomic()`. Called inside another atomic block, that block takes a
savepoint (two statements more) so that the caller may catch the service's error and carry on in
its transaction. A block opened with `whole()` promises that nothing inside it catches an error
short of its own end: an error ends the whole transaction (the Idempotency-Key's,
`verification.idempotency`). A service decorated with `atomic` below, called directly inside such
a block, joins it without a savepoint; anywhere else it is `transaction.atomic()` as usual.
"""

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from django.db import transaction

P = ParamSpec("P")
R = TypeVar("R")


class _Whole(transaction.Atomic):
    """`transaction.atomic()`, marked: an error inside ends it."""


def whole() -> transaction.Atomic:
    """`transaction.atomic()` for a block inside which no error is caught before the block's end."""
    return _Whole(using=None, savepoint=True, durable=False)


def atomic(service: Callable[P, R]) -> Callable[P, R]:
    """`transaction.atomic` for a service, without a savepoint directly inside `whole()`."""

    @wraps(service)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        blocks = transaction.get_connection().atomic_blocks
        with transaction.atomic(savepoint=not (blocks and isinstance(blocks[-1], _Whole))):
            return service(*args, **kwargs)

    return run
