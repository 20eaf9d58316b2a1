"""The API's limits: DRF throttles on the shared cache (Redis in production), answering 429 with
`Retry-After` and the API's error shape. Rates are settings (`API_THROTTLE_RATES`, docs/security.md)."""

import logging
import math

from django.conf import settings
from django.http import HttpRequest
from redis.exceptions import RedisError
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle
from rest_framework_api_key.models import APIKey

from verification.models import Case

logger = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str:
    """The caller's address as every limit sees it (DRF's rule with NUM_PROXIES; also django-axes')."""
    return BaseThrottle().get_ident(request)


class _Rate(SimpleRateThrottle):
    """The rate is read from `API_THROTTLE_RATES` when the throttle is made (not at import)."""

    def get_rate(self) -> str:
        return settings.API_THROTTLE_RATES[self.scope]


class _Paced(_Rate):
    """`rate` requests per period, earned back evenly: a client may send the whole rate at once,
    then one request per period/rate (the generic cell rate algorithm). The cache holds one number
    per client, the time its allowance is back in full, so a request costs one small GET and SET
    whatever the rate. DRF's own throttle keeps the time of every request in the period and reads
    and writes the whole list each time: 6,000 entries at the marketplace's 6000/min."""

    cache_format = "throttle_paced_%(scope)s_%(ident)s"  # not DRF's key: its values are lists

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        interval = self.duration / self.num_requests
        full_at = max(self.cache.get(self.key, self.now), self.now)
        self.waiting = full_at + interval - self.now - self.duration  # > 0: this request is over the rate
        if self.waiting > 0:
            return False
        self.cache.set(self.key, full_at + interval, math.ceil(full_at + interval - self.now))
        return True

    def wait(self) -> float:
        return self.waiting


class _FailOpen:
    """With the cache unreachable a limit lets the request through (logged): the API keeps serving."""

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError as error:
            logger.warning("throttle %s not applied, the cache is unreachable: %s", self.scope, error)
            return True


class AuthFailureThrottle(_Rate):
    """Wrong credentials per address: only failures count; once over the rate, every attempt from
    the address is refused with 429 (the right key too) until the window has room again."""

    scope = "auth_failure"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}

    def check(self, request) -> None:
        """Raise `Throttled` if the address has failed too often lately."""
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        try:
            self.history = self.cache.get(self.key, [])
        except RedisError as error:
            logger.warning("sign-in failures not limited, the cache is unreachable: %s", error)
            self.history, self.key = [], None
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            raise exceptions.Throttled(wait=self.wait(), detail="Too many failed sign-ins from this address.")

    def record_failure(self) -> None:
        if self.key is None:
            return
        self.history.insert(0, self.now)
        try:
            self.cache.set(self.key, self.history, self.duration)
        except RedisError as error:
            logger.warning("sign-in failure not recorded, the cache is unreachable: %s", error)


class MarketplaceThrottle(_FailOpen, _Paced):
    """Every request of one API key."""

    scope = "marketplace"

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, APIKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class FreelancerThrottle(_FailOpen, _Paced):
    """Every request of one freelancer (their link's token names their case)."""

    scope = "freelancer"

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, Case):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class AvailabilityThrottle(FreelancerThrottle):
    """Availability reads (the costly read) of one freelancer."""

    scope = "availability"


class AvailabilityAddressThrottle(_FailOpen, _Paced):
    """Availability reads from one address, whichever tokens it uses."""

    scope = "availability_address"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}
