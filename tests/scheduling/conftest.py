from datetime import time

import pytest
import time_machine
from rest_framework.test import APIClient

from scheduling.services.slots import representatives_slots_sync_all
from tests.factories import CaseFactory, RepresentativeFactory, WorkingHoursFactory
from verification.links import freelancer_token


@pytest.fixture
def frozen_clock(now):
    with time_machine.travel(now, tick=False):
        yield now


def make_reps(count: int, *, now, zone: str = "Europe/London", languages=None, phone: bool = True) -> list:
    reps = []
    for _ in range(count):
        rep = RepresentativeFactory(timezone=zone, languages=languages, can_take_phone_calls=phone)
        for day in range(5):
            WorkingHoursFactory(representative=rep, weekday=day, starts=time(9), ends=time(17))
        reps.append(rep)
    representatives_slots_sync_all(now=now)
    return reps


@pytest.fixture
def reps(db, now):
    return make_reps(3, now=now)


@pytest.fixture
def case(db):
    return CaseFactory()


def client_for(case) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {freelancer_token(case)}")
    return client


@pytest.fixture
def freelancer(case) -> APIClient:
    return client_for(case)
