"""Settings for bench/http.py's gunicorn only: production settings (read from the environment the
bench sets: DEBUG off, SECRET_KEY, ALLOWED_HOSTS, persistent database connections) with the
bench-only URL configuration, which adds the two floor views. Never used outside the bench."""

from verify_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.http_urls"
