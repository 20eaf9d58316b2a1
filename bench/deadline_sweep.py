"""The deadline sweep costs O(cases due), not O(open cases): the same 10,000 due cases swept among
1,000,000 open cases and among 100,000, in one run. Prints seconds and the ratio (target <= 1.2).

    .venv/bin/python bench/deadline_sweep.py [--due 10000] [--small 100000] [--large 1000000]
"""

import argparse
import time
from datetime import UTC, datetime

from _db import setup

POLICY = ('{"grace_days": 7, "warning_offsets_hours": [72, 24], "min_warning_lead_hours": 12, '
          '"min_bookable_times": 10, "guard_extension_hours": 48, "max_reschedules": 3}')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    setup()

    from django.db import connection

    from verification.deadlines.services import cases_deadline_sweep

    now = datetime(2030, 6, 1, 12, tzinfo=UTC)

    def populate(open_cases: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE verification_auditevent, verification_caserequest, verification_idempotencyrecord,"
                           " verification_case, verification_freelancer, notifications_outboxmessage,"
                           " scheduling_booking, scheduling_slot CASCADE")
            cursor.execute("""
                INSERT INTO verification_freelancer (external_id, email, name, timezone, language, created_at,
                                                     updated_at)
                SELECT 'bench-' || i, 'bench-' || i || '@example.com', 'Bench ' || i, 'UTC', 'en', %(now)s, %(now)s
                FROM generate_series(1, %(n)s) i
            """, {"now": now, "n": open_cases})
            # the first `due` freelancers are past their deadline; the rest have days left
            cursor.execute("""
                INSERT INTO verification_case (id, freelancer_id, reason_code, public_reason, profile_claims,
                    standing_snapshot, status, policy, notice_sent_at, deadline_at, link_nonce, created_by,
                    created_at, updated_at, reschedule_count, freelancer_no_shows)
                SELECT gen_random_uuid(), f.id, 'profile_details', 'bench', '[]', '{}', 'OPEN', %(policy)s::jsonb,
                       d - interval '7 days', d, md5(f.id::text), 'bench', %(now)s, %(now)s, 0, 0
                FROM (SELECT id, CASE WHEN row_number() OVER (ORDER BY id) <= %(due)s
                                      THEN %(now)s::timestamptz - interval '1 hour'
                                      ELSE %(now)s::timestamptz + (1 + random() * 6) * interval '1 day' END AS d
                      FROM verification_freelancer) f
            """, {"now": now, "due": args.due, "policy": POLICY})
            cursor.execute("ANALYZE verification_case")
            cursor.execute("ANALYZE verification_freelancer")

    def timed(open_cases: int) -> tuple[float, dict]:
        populate(open_cases)
        started = time.perf_counter()
        outcome = cases_deadline_sweep(now=now)
        return time.perf_counter() - started, outcome

    small_seconds, small_outcome = timed(args.small)
    large_seconds, large_outcome = timed(args.large)
    print(f"due={args.due}: among {args.small:,} open cases {small_seconds:.1f} s {small_outcome}; "
          f"among {args.large:,} open cases {large_seconds:.1f} s {large_outcome}")
    print(f"ratio large / small: {large_seconds / small_seconds:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
