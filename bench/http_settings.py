"""Settings for bench/http.py's gunicorn only: production settings (read from the environment the
bench sets: DEBUG off, SECRET_KEY, ALLOWED_HOSTS, persistent database connections) with the
bench-only URL configuration, which adds the two floor views. Never used outside the bench."""

from verify_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.http_urls"

# The load is one API key and a few thousand freelancers from one address: production's throttles
# (docs/security.md) would answer most of it with a cheap 429. They stay on (each request still
# counts in Redis, as in production) with rates the bench never reaches.
API_THROTTLE_RATES = dict.fromkeys(API_THROTTLE_RATES, "100000000/min")  # noqa: F405
