"""Helpers every test module may import (fixtures live in conftest.py): representatives with
slots, a freelancer's API client, the outbox run as the worker runs it, and races on real threads."""

import threading
from datetime import datetime, time

from django.db import connections
from rest_framework.test import APIClient

from scheduling.services.slots import representatives_slots_sync_all
from tests.factories import RepresentativeFactory, WorkingHoursFactory
from verification.links import freelancer_token


def make_reps(count: int, *, now, zone: str = "Europe/London", languages=None, phone: bool = True) -> list:
    """Representatives working Monday to Friday, 09:00-17:00 in `zone`, with their slots made."""
    reps = []
    for _ in range(count):
        rep = RepresentativeFactory(timezone=zone, languages=languages, can_take_phone_calls=phone)
        for day in range(5):
            WorkingHoursFactory(representative=rep, weekday=day, starts=time(9), ends=time(17))
        reps.append(rep)
    representatives_slots_sync_all(now=now)
    return reps


def client_for(case) -> APIClient:
    """The freelancer's API client: their link's token as the Bearer token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {freelancer_token(case)}")
    return client


def race(count: int, work) -> list:
    """`work(i)` in `count` threads with their own connections, released together by a barrier;
    each result, or the exception it raised."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as error:  # noqa: BLE001 - reported by the caller's assertions
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def send_due(at: datetime) -> dict[str, int]:
    """Run the outbox as the beat sweep and a worker would, at `at` (email: Django's test outbox),
    then let verification see which notices went out, as its beat task does."""
    import time_machine

    from notifications.services import outbox_claim_due, outbox_send_batch
    from verification.deadlines.services import cases_notice_sent_record

    with time_machine.travel(at, tick=False):
        outcomes = outbox_send_batch(message_ids=outbox_claim_due(now=at, limit=100_000))
        cases_notice_sent_record(now=at)
        return outcomes


def notice_enqueue(case, *, now: datetime) -> None:
    """The notice of a case, as flagging it writes it."""
    from verification.deadlines.rules import grace_period
    from verification.messages import notice_enqueue as enqueue

    enqueue(case, grace=grace_period(case.policy), now=now)
