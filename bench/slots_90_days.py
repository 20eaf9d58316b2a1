"""The slot table after 90 simulated days, with and without the hourly prune of past slots.

    cd bench && ../.venv/bin/python slots_90_days.py [--days 90] [--reps 200] [--flags-per-day 1000]
                                                      [--tail-days 21] [--horizon 21]

Each simulated day: the horizon's next day of slots is made (200 representatives in ten zones,
09:00-17:00 on weekdays, 5-minute slots, as the generator makes them), 30% of the day's slots get
booked, that day's flags arrive (notice sent at once, deadline 7 days later), cases whose deadline
passed are closed, except 1% kept open `--tail-days` longer (extended again and again), and then
the prune runs (`verification.deadlines.services.past_slots_prune`, hourly in production, once
per simulated day here) followed by a plain VACUUM, as autovacuum would. Run twice in one go:
without the prune (what the 90-day rule kept before) and with it. Prints rows and sizes.
"""

import argparse
import time
from datetime import UTC, datetime, timedelta

from _db import setup


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--flags-per-day", type=int, default=1000)
    parser.add_argument("--tail-days", type=int, default=21)
    parser.add_argument("--horizon", type=int, default=21, help="SLOT_HORIZON_DAYS (production default 21)")
    args = parser.parse_args()
    setup()

    from django.db import connection

    from verification.deadlines.services import past_slots_prune

    start = datetime(2031, 1, 6, tzinfo=UTC)  # a Monday
    horizon = args.horizon

    def sql(statement: str, params=None) -> list:
        with connection.cursor() as cursor:
            cursor.execute(statement, params or {})
            return cursor.fetchall() if cursor.description else []

    def reset() -> None:
        sql("TRUNCATE scheduling_booking, scheduling_slot, scheduling_representativelanguage, "
            "scheduling_workinghours, scheduling_timeoff, scheduling_representative, verification_auditevent, "
            "verification_caserequest, verification_case, verification_freelancer CASCADE")
        sql("DELETE FROM auth_user WHERE username LIKE 'slots-bench-%%'")
        sql("""INSERT INTO auth_user (username, password, is_superuser, first_name, last_name, email, is_staff,
                                      is_active, date_joined)
               SELECT 'slots-bench-' || i, '!', false, '', '', '', true, true, now()
               FROM generate_series(1, %(reps)s) i""", {"reps": args.reps})
        sql("""INSERT INTO scheduling_representative (user_id, display_name, timezone, can_take_phone_calls, active)
               SELECT id, username, 'UTC', true, true FROM auth_user WHERE username LIKE 'slots-bench-%%'""")

    def make_day(day: datetime) -> None:
        """A day's slots: each representative 8 hours in 5-minute slots, from 00:00 + (id % 10) * 2 h UTC."""
        if day.weekday() >= 5:
            return
        sql("""INSERT INTO scheduling_slot (representative_id, starts_at, ends_at, is_booked)
               SELECT r.id, s, s + interval '5 minutes', false
               FROM scheduling_representative r,
                    generate_series(%(day)s::timestamptz + (r.id %% 10) * interval '2 hours',
                                    %(day)s::timestamptz + (r.id %% 10) * interval '2 hours' + interval '475 minutes',
                                    interval '5 minutes') s""", {"day": day})

    def simulate(prune: bool) -> dict:
        reset()
        for d in range(horizon):
            make_day(start + timedelta(days=d))
        started, pruned = time.perf_counter(), 0
        for d in range(args.days):
            now = start + timedelta(days=d)
            make_day(now + timedelta(days=horizon))
            sql("""UPDATE scheduling_slot SET is_booked = true
                   WHERE starts_at >= %(now)s AND starts_at < %(now)s::timestamptz + interval '1 day'
                     AND random() < 0.3""", {"now": now})
            sql("""INSERT INTO verification_freelancer (external_id, email, name, timezone, language, created_at,
                                                        updated_at)
                   SELECT 'sb-' || %(d)s || '-' || i, 'x@example.com', 'X', 'UTC', 'en', %(now)s, %(now)s
                   FROM generate_series(1, %(n)s) i""", {"d": d, "n": args.flags_per_day, "now": now})
            sql("""INSERT INTO verification_case (id, freelancer_id, reason_code, public_reason, profile_claims,
                       standing_snapshot, status, policy, notice_sent_at, deadline_at, link_nonce, created_by,
                       created_at, updated_at, reschedule_count, freelancer_no_shows)
                   SELECT gen_random_uuid(), f.id, 'profile_details', 'x', '[]', '{}', 'OPEN', '{}'::jsonb,
                          %(now)s::timestamptz + random() * interval '1 day',
                          %(now)s::timestamptz + interval '7 days' + random() * interval '1 day', 'x', 'x',
                          %(now)s, %(now)s, 0, 0
                   FROM verification_freelancer f WHERE f.external_id LIKE 'sb-' || %(d)s || '-%%'""",
                {"d": d, "now": now})
            # past the deadline: closed, except 1% kept open --tail-days longer (extended again and again)
            sql("""UPDATE verification_case SET status = 'VERIFIED', closed_at = %(now)s
                   WHERE status = 'OPEN' AND deadline_at < %(now)s
                     AND (abs(hashtext(id::text)) %% 100 <> 0
                          OR deadline_at < %(now)s::timestamptz - %(tail)s * interval '1 day')""",
                {"now": now, "tail": args.tail_days})
            if prune:
                pruned += past_slots_prune(now=now)
                sql("VACUUM scheduling_slot")
        seconds = time.perf_counter() - started
        end = start + timedelta(days=args.days)
        sql("VACUUM ANALYZE scheduling_slot")
        (rows, past_free, past_booked, future), = sql("""
            SELECT count(*), count(*) FILTER (WHERE starts_at < %(end)s AND NOT is_booked),
                   count(*) FILTER (WHERE starts_at < %(end)s AND is_booked),
                   count(*) FILTER (WHERE starts_at >= %(end)s)
            FROM scheduling_slot""", {"end": end})
        (table, total, oldest), = sql("""SELECT pg_relation_size('scheduling_slot'),
                                               pg_total_relation_size('scheduling_slot'),
                                               (SELECT min(notice_sent_at) FROM verification_case
                                                WHERE status = 'OPEN')""")
        return {"rows": rows, "past free": past_free, "past booked": past_booked, "future": future,
                "table MB": table / 2**20, "with indexes MB": total / 2**20, "pruned": pruned,
                "oldest open notice, days before the end": (end - oldest).total_seconds() / 86400,
                "simulation s": seconds}

    without = simulate(prune=False)
    with_prune = simulate(prune=True)
    print(f"{args.days} simulated days, {args.reps} representatives, {args.flags_per_day:,} flags a day, "
          f"1% open {args.tail_days} days past the deadline, horizon {horizon} days")
    print(f"| {'':42} | {'no prune':>12} | {'hourly prune':>12} |")
    print(f"|{'-' * 44}|{'-' * 14}|{'-' * 14}|")
    for key in without:
        a, b = without[key], with_prune[key]
        fmt = (lambda v: f"{v:,.1f}") if isinstance(a, float) else (lambda v: f"{v:,}")
        print(f"| {key:42} | {fmt(a):>12} | {fmt(b):>12} |")


if __name__ == "__main__":
    main()
