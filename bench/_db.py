"""Bench bootstrap: Django on a dedicated PostgreSQL database (created and migrated if needed).

BENCH_DATABASE_URL overrides the default postgres://postgres@127.0.0.1:5432/verify_bench.
Only loopback servers are ever used.
"""

import os
import statistics
import sys
from pathlib import Path

# bench/http.py is named like the standard library's `http` package: keep this folder behind the
# standard library on the path (the scripts found this module through it), or Django's own
# `from http import cookies` would find that script.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE] + [_HERE]

URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/verify_bench")


def setup() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ["DATABASE_URL"] = URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "verify_site.settings_test")
    import psycopg

    admin_url, name = URL.rsplit("/", 1)
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


__all__ = ["setup", "percentile", "ms", "statistics"]
