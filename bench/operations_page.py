"""The Operations pages on a big program: 100,000 cases (a quarter open), 200 representatives with
14 days of slots (268,800, 30% booked), their calls, bookings, reviews, audit events and 200,000
outbox rows, all made with SQL. Times each page (and /metrics) through Django's test client as a
signed-in admin and prints p50 / p95 and the queries per page.

    .venv/bin/python bench/operations_page.py [--cases 100000] [--reps 200] [--runs 15]
"""

import argparse
import time

from _db import ms, percentile, setup

TRUNCATE = """
TRUNCATE verification_auditevent, verification_caserequest, verification_review, verification_callrecord,
         verification_idempotencyrecord, verification_taskheartbeat, verification_case, verification_freelancer,
         notifications_outboxmessage, scheduling_booking, scheduling_slot, scheduling_representativelanguage,
         scheduling_workinghours, scheduling_timeoff, scheduling_representative CASCADE
"""
POLICY = ('{"grace_days": 7, "warning_offsets_hours": [72, 24], "min_warning_lead_hours": 12, "review_days": 5, '
          '"min_bookable_times": 10, "guard_extension_hours": 48, "max_reschedules": 3}')

CASES = """
INSERT INTO verification_freelancer (external_id, email, name, timezone, language, created_at, updated_at)
SELECT 'ops-' || i, 'ops-' || i || '@example.com', 'Bench ' || i, 'UTC',
       (ARRAY['en', 'en', 'en', 'es', 'pt', 'hi', 'fr'])[1 + i %% 7], %(now)s, %(now)s
FROM generate_series(1, %(n)s) i;

-- a quarter open (deadline in the next 7 days), a few scheduled, in review, frozen; the rest closed
INSERT INTO verification_case (id, freelancer_id, reason_code, public_reason, profile_claims, standing_snapshot,
    status, policy, notice_sent_at, deadline_at, closed_at, frozen_at, link_nonce, created_by, created_at, updated_at,
    reschedule_count, freelancer_no_shows, version)
SELECT gen_random_uuid(), f.id, 'profile_details', 'bench', '[]', '{}', s.status, %(policy)s::jsonb,
       s.created + interval '1 minute', s.created + interval '7 days 1 minute',
       CASE WHEN s.status IN ('VERIFIED', 'NOT_VERIFIED', 'WITHDRAWN')
            THEN least(%(now)s::timestamptz - interval '1 minute', s.created + (1 + random() * 5) * interval '1 day')
       END,
       CASE WHEN s.status = 'FROZEN' THEN s.created + interval '7 days 2 minutes' END,
       md5(f.id::text), 'bench', s.created, s.created, 0, 0, 1
FROM verification_freelancer f,
     LATERAL (SELECT CASE WHEN f.id %% 100 < 25 THEN 'OPEN' WHEN f.id %% 100 < 30 THEN 'SCHEDULED'
                          WHEN f.id %% 100 < 32 THEN 'IN_REVIEW' WHEN f.id %% 100 < 35 THEN 'FROZEN'
                          WHEN f.id %% 100 < 92 THEN 'VERIFIED' WHEN f.id %% 100 < 95 THEN 'NOT_VERIFIED'
                          ELSE 'WITHDRAWN' END AS status) st,
     LATERAL (SELECT st.status,
                     CASE WHEN st.status IN ('OPEN', 'SCHEDULED')
                          THEN %(now)s::timestamptz - random() * interval '7 days' - interval '1 minute'
                          WHEN st.status = 'FROZEN'
                          THEN %(now)s::timestamptz - interval '8 days' - random() * interval '60 days'
                          ELSE %(now)s::timestamptz - interval '2 days' - random() * interval '88 days' END AS created
             ) s;

-- a call for every case that had one (closed or in review); representative 1 escalates far more
INSERT INTO verification_callrecord (booking_id, case_id, representative_user_id, checklist_id, started_at, answers,
    outcome, outcome_at, escalation_note)
SELECT gen_random_uuid(), c.id, r.user_id, %(checklist)s, t.at - interval '200 seconds', '{}',
       CASE WHEN c.status IN ('NOT_VERIFIED', 'IN_REVIEW') THEN 'ESCALATED'
            WHEN r.n = 0 AND random() < 0.3 THEN 'ESCALATED'
            ELSE (ARRAY['VERIFIED', 'VERIFIED', 'VERIFIED', 'VERIFIED', 'VERIFIED', 'VERIFIED', 'VERIFIED',
                        'VERIFIED', 'RETRY_TECHNICAL', 'ALT_PATH', 'FREELANCER_NO_SHOW'])[1 + (random() * 10)::int]
       END, t.at, ''
FROM verification_case c
JOIN LATERAL (SELECT coalesce(c.closed_at, c.created_at + interval '3 days') AS at) t ON true
JOIN (SELECT id, user_id, row_number() OVER (ORDER BY id) - 1 AS n FROM scheduling_representative) r
  ON r.n = (abs(hashtext(c.id::text)) %% %(reps)s)
WHERE c.status IN ('VERIFIED', 'NOT_VERIFIED', 'IN_REVIEW');

INSERT INTO scheduling_booking (id, case_ref, representative_id, starts_at, ends_at, status, attendee_email,
    attendee_name, language, phone, join_token, dial_in_pin, sequence, cancel_reason, displacement, created_at,
    updated_at)
SELECT call.booking_id, call.case_id, r.id, call.started_at, call.started_at + interval '5 minutes', 'DONE',
       'b@example.com', 'Bench', '', random() < 0.1, md5(call.booking_id::text), '00000000', 0, '', '',
       call.started_at - interval '2 days', call.outcome_at
FROM verification_callrecord call JOIN scheduling_representative r ON r.user_id = call.representative_user_id;

-- scheduled cases: an active booking in the coming days, never overlapping for one representative
INSERT INTO scheduling_booking (id, case_ref, representative_id, starts_at, ends_at, status, attendee_email,
    attendee_name, language, phone, join_token, dial_in_pin, sequence, cancel_reason, displacement, created_at,
    updated_at)
SELECT gen_random_uuid(), c.id, r.id, t.at, t.at + interval '5 minutes', 'ACTIVE', 'b@example.com', 'Bench', '',
       false, md5(c.id::text || 'a'), '00000000', 0, '', '', %(now)s, %(now)s
FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM verification_case WHERE status = 'SCHEDULED') c
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM scheduling_representative) r
  ON r.n = c.n %% %(reps)s
JOIN LATERAL (SELECT %(now)s::timestamptz + interval '1 day' + (c.n / %(reps)s) * interval '5 minutes' AS at) t
  ON true;

INSERT INTO verification_review (case_id, call_id, kind, decision, reason_code, statement, created_at, decided_at)
SELECT call.case_id, call.id, 'ESCALATION', CASE WHEN c.status = 'NOT_VERIFIED' THEN 'NOT_VERIFIED' ELSE '' END,
       '', '', call.outcome_at, CASE WHEN c.status = 'NOT_VERIFIED' THEN c.closed_at END
FROM verification_callrecord call JOIN verification_case c ON c.id = call.case_id
WHERE c.status IN ('NOT_VERIFIED', 'IN_REVIEW');

INSERT INTO verification_auditevent (case_id, at, actor, action, from_status, to_status, before, after, reason)
SELECT id, created_at, 'marketplace:bench', 'flagged', '', 'OPEN', '{}'::jsonb, '{}'::jsonb, ''
FROM verification_case
UNION ALL
SELECT id, notice_sent_at, 'system', 'notice_sent', '', '', '{}'::jsonb, '{}'::jsonb, '' FROM verification_case
UNION ALL
SELECT b.case_ref, b.created_at, 'freelancer', 'booked', '', '', '{}'::jsonb, '{}'::jsonb, ''
FROM scheduling_booking b
UNION ALL
SELECT id, notice_sent_at + interval '7 days', 'system', 'deadline_extended', '', '', '{}'::jsonb,
       '{"guard": "warned"}'::jsonb, ''
FROM verification_case
WHERE abs(hashtext(id::text)) %% 10 = 0 AND created_at < %(now)s::timestamptz - interval '8 days';

INSERT INTO verification_caserequest (case_id, kind, status, need, note, created_by, created_at, resolved_by,
    resolution)
SELECT id, 'ACCOMMODATION', 'PENDING', 'no_camera', '', 'freelancer', created_at + interval '1 hour', '', ''
FROM verification_case WHERE status = 'OPEN' AND abs(hashtext(id::text)) %% 100 = 0;

INSERT INTO notifications_outboxmessage (kind, topic, revision, recipient, context, due_at, status, attempts,
    skip_reason, last_error, created_at, updated_at, sent_at)
SELECT 'reminder:60', 'bench:' || i, 'bench', 'b@example.com', '{}', t.at,
       CASE WHEN i <= 30 THEN 'FAILED' WHEN i <= 5000 THEN 'PENDING' ELSE 'SENT' END, 0, '', '', t.at, t.at,
       CASE WHEN i > 5000 THEN t.at END
FROM generate_series(1, 200000) i,
     LATERAL (SELECT CASE WHEN i <= 5000 AND i > 50 THEN %(now)s::timestamptz + i * interval '1 minute'
                          ELSE %(now)s::timestamptz - (i %% 86400) * interval '1 minute' END AS at) t;
"""

SLOTS = """
INSERT INTO scheduling_slot (representative_id, starts_at, ends_at, is_booked)
SELECT r.id, t, t + interval '5 minutes', random() < 0.3
FROM scheduling_representative r, generate_series(0, 13) d, generate_series(0, 95) k,
     LATERAL (SELECT date_trunc('day', %(now)s::timestamptz) + d * interval '1 day' + (r.id %% 16) * interval '1 hour'
                     + k * interval '5 minutes' AS t) x
"""


def seed(args, now) -> None:
    from django.contrib.auth.models import User
    from django.db import connection

    from scheduling.models import Representative, RepresentativeLanguage
    from verification.checklist import checklist_current

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(TRUNCATE)
    User.objects.filter(username__startswith="bench-ops-").delete()
    users = User.objects.bulk_create(User(username=f"bench-ops-{i}", is_staff=True) for i in range(args.reps))
    reps = Representative.objects.bulk_create(
        Representative(user=u, display_name=f"Bench {i:03d}", timezone="UTC", can_take_phone_calls=i % 3 != 0)
        for i, u in enumerate(users))
    RepresentativeLanguage.objects.bulk_create(
        RepresentativeLanguage(representative=r, code=code) for i, r in enumerate(reps)
        for code in ["en", *(["es"] if i % 4 == 0 else []), *(["pt"] if i % 10 == 0 else [])])
    checklist = checklist_current(now=now).pk
    with connection.cursor() as cursor:
        cursor.execute(SLOTS, {"now": now})
        cursor.execute(CASES, {"now": now, "n": args.cases, "policy": POLICY, "checklist": checklist,
                               "reps": args.reps})
        for table in ("verification_case", "verification_callrecord", "verification_auditevent", "scheduling_slot",
                      "scheduling_booking", "notifications_outboxmessage", "verification_review",
                      "verification_freelancer", "verification_caserequest"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("SELECT (SELECT count(*) FROM verification_case), (SELECT count(*) FROM scheduling_slot),"
                       " (SELECT count(*) FROM verification_callrecord), (SELECT count(*) FROM scheduling_booking),"
                       " (SELECT count(*) FROM verification_auditevent),"
                       " (SELECT count(*) FROM notifications_outboxmessage)")
        counts = cursor.fetchone()
    print(f"seeded in {time.perf_counter() - started:.0f} s: {counts[0]:,} cases, {counts[1]:,} slots, "
          f"{counts[2]:,} calls, {counts[3]:,} bookings, {counts[4]:,} audit events, {counts[5]:,} outbox rows, "
          f"{args.reps} representatives")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--slowest", type=int, default=0, help="print this many slowest queries of each page")
    parser.add_argument("--reuse", action="store_true", help="time the data the last run left (no seeding)")
    args = parser.parse_args()
    setup()

    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    settings.ALLOWED_HOSTS = ["testserver"]
    if not args.reuse:
        seed(args, timezone.now())
    admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(admin)
    settings.METRICS_TOKEN = "bench"  # noqa: S105 (a bench-only token)
    pages = [("now", "/console/operations/", {}), ("funnel", "/console/operations/funnel/", {}),
             ("capacity", "/console/operations/capacity/", {}),
             ("representatives", "/console/operations/representatives/", {}),
             ("funnel, 90 days", "/console/operations/funnel/?days=90", {}),
             ("representatives, 90 days", "/console/operations/representatives/?days=90", {}),
             ("/metrics", "/metrics", {"HTTP_AUTHORIZATION": "Bearer bench"})]
    print(f"{'page':<28} {'p50':>10} {'p95':>10} {'queries':>8}")
    for name, url, headers in pages:
        assert client.get(url, **headers).status_code == 200, url  # warm
        timings: list[tuple[float, str]] = []

        def timed(execute, sql, params, many, context, timings=timings):
            begin = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                timings.append((time.perf_counter() - begin, sql))

        with connection.execute_wrapper(timed):
            client.get(url, **headers)
        samples = []
        for _ in range(args.runs):
            begin = time.perf_counter()
            client.get(url, **headers)
            samples.append(time.perf_counter() - begin)
        print(f"{name:<28} {ms(percentile(samples, 50)):>10} {ms(percentile(samples, 95)):>10} {len(timings):>8}")
        for seconds, sql in sorted(timings, reverse=True)[:args.slowest]:
            print(f"    {ms(seconds):>10}  {sql[:400]}")


if __name__ == "__main__":
    main()
