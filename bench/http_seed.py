"""The data bench/http.py measures against, at a realistic scale, written with SQL in a few minutes.

- 200 representatives in ten zones (two languages each, most take phone calls), working
  Monday-Friday 09:00-12:30 and 13:30-17:30 local (a quarter also Saturday 10:00-14:00); their
  slots come from the real generator (`representatives_slots_sync_all`), for the 21-day horizon
  and for the 14 days before it (past slots are kept: they are what freeze guard 5 counts);
- 20,000 open cases (freelancers fl-1 ... fl-20000), in every status that is not final:

  | freelancers     | status    | state                                                              |
  |-----------------|-----------|--------------------------------------------------------------------|
  | 1-9,000         | OPEN      | inside the grace period, deadline 3-7 days ahead (booked by the load) |
  | 9,001-9,500     | OPEN      | flagged a few minutes ago, notice not sent yet                     |
  | 9,501-10,500    | OPEN      | past the deadline, every freeze guard holds (the sweep would freeze) |
  | 10,501-11,500   | OPEN      | past the deadline, a guard fails (a warning failed, or an accommodation is pending) |
  | 11,501-16,500   | SCHEDULED | a call booked before the deadline, reminders pending              |
  | 16,501-17,500   | IN_REVIEW | waiting for a reviewer                                             |
  | 17,501-20,000   | FROZEN    | frozen by the sweep 1-20 days ago                                  |

- 100,000 closed cases (75% VERIFIED with a call held, 10% NOT_VERIFIED with a call held, 15%
  WITHDRAWN): 90,000 on freelancers fl-20001 ... fl-110000 and 10,000 earlier cases of
  fl-1 ... fl-10000;
- their audit events, outbox rows (sent, skipped, failed and pending, as the services leave them:
  about a million) and bookings, one active webhook endpoint (the marketplace's).

Every timestamp is relative to the seeding time, so a seeded database is reused only while it is
fresh (see `seed_is_current`).
"""

import json
import random
import time
from datetime import datetime, timedelta
from datetime import time as clock

ZONES = [  # (IANA zone, second language)
    ("America/Los_Angeles", "es"), ("America/New_York", "es"), ("America/Sao_Paulo", "pt"),
    ("Europe/London", "fr"), ("Europe/Berlin", "de"), ("Africa/Lagos", "fr"), ("Asia/Kolkata", "hi"),
    ("Asia/Manila", "tl"), ("Asia/Tokyo", "ja"), ("Australia/Sydney", "zh"),
]
REPRESENTATIVES = 200
PAST_SLOT_DAYS = 14
OPEN_CASES = 20_000
CLOSED_CASES = 100_000
RANGES = {  # freelancer numbers (= freelancer ids) of each kind of open case
    "grace": (1, 9_000),
    "unnoticed": (9_001, 9_500),
    "past_holding": (9_501, 10_500),
    "past_failing": (10_501, 11_500),
    "scheduled": (11_501, 16_500),
    "in_review": (16_501, 17_500),
    "frozen": (17_501, 20_000),
}
REASONS = ["profile_details", "account_access", "payment_details", "duplicate_account", "location_mismatch",
           "periodic_check"]
META_TABLE = "bench_http_seed"
FRESH_FOR = timedelta(hours=6)
CONTEXT = ('{"first_name": "Freelancer", "timezone": "Europe/Berlin", "reason_category": "Details on your '
           'profile need confirming", "public_reason": "The name on your profile differs from the name on your '
           'payout account.", "link": "https://verify.example.com/c/bench/", "grace_days": 7, '
           '"deadline_at": "2030-01-01T00:00:00Z"}')

TABLES = [
    "verification_auditevent", "verification_caserequest", "verification_idempotencyrecord", "verification_review",
    "verification_callrecord", "verification_case", "verification_freelancer", "notifications_outboxmessage",
    "notifications_webhookendpoint", "scheduling_booking", "scheduling_slot", "scheduling_timeoff",
    "scheduling_workinghours", "scheduling_representativelanguage", "scheduling_representative",
]


def _log(message: str) -> None:
    print(f"  seed: {message}", flush=True)


def seed_is_current(*, now: datetime) -> tuple[bool, str]:
    """Whether the seeded data can be reused: seeded by this script less than FRESH_FOR ago (its
    deadlines and slots are relative to then) and not changed since by another bench."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (seeded_at timestamptz NOT NULL, cases int NOT NULL)")
        cursor.execute(f"SELECT seeded_at, cases FROM {META_TABLE}")
        row = cursor.fetchone()
        if row is None:
            return False, "not seeded yet"
        seeded_at, cases = row
        cursor.execute("SELECT count(*) FROM scheduling_representative")
        reps = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM verification_case WHERE created_by = 'marketplace:bench'")
        seeded_cases = cursor.fetchone()[0]
    if now - seeded_at > FRESH_FOR:
        return False, f"seeded {now - seeded_at} ago (reused for {FRESH_FOR} at most)"
    if reps != REPRESENTATIVES or seeded_cases != cases:
        return False, "the data was changed by something else"
    return True, f"seeded {(now - seeded_at).total_seconds() / 60:.0f} min ago"


def seed(*, now: datetime) -> None:
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection, transaction
    from django.test import override_settings

    from scheduling.models import Representative, RepresentativeLanguage, WorkingHours
    from scheduling.services.slots import representatives_slots_sync_all
    from verification.selectors import policy_for

    started = time.perf_counter()
    policy = policy_for(reason_code="profile_details").snapshot()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {META_TABLE}")
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    User.objects.filter(username__startswith="bench-rep-").delete()

    # representatives, their languages and hours, and the slots the real generator makes of them
    rng = random.Random(15)
    users = User.objects.bulk_create(User(username=f"bench-rep-{i}", first_name=f"Rep {i}")
                                     for i in range(REPRESENTATIVES))
    reps = Representative.objects.bulk_create(
        Representative(user=user, display_name=f"Rep {i} ({ZONES[i % len(ZONES)][0]})",
                       timezone=ZONES[i % len(ZONES)][0], can_take_phone_calls=i % 4 != 3)
        for i, user in enumerate(users))
    RepresentativeLanguage.objects.bulk_create(
        RepresentativeLanguage(representative=rep, code=code)
        for i, rep in enumerate(reps) for code in ("en", ZONES[i % len(ZONES)][1]))
    hours = [(clock(9), clock(12, 30)), (clock(13, 30), clock(17, 30))]
    WorkingHours.objects.bulk_create(
        [WorkingHours(representative=rep, weekday=day, starts=s, ends=e)
         for rep in reps for day in range(5) for s, e in hours]
        + [WorkingHours(representative=rep, weekday=5, starts=clock(10), ends=clock(14))
           for i, rep in enumerate(reps) if i % 4 == 0])
    # the real generator, over the 21-day horizon and the 14 days before it (what was offered)
    with override_settings(SLOT_HORIZON_DAYS=settings.SLOT_HORIZON_DAYS + PAST_SLOT_DAYS):
        representatives_slots_sync_all(now=now - timedelta(days=PAST_SLOT_DAYS))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM scheduling_slot")
        _log(f"{REPRESENTATIVES} representatives, {cursor.fetchone()[0]:,} slots "
             f"({time.perf_counter() - started:.0f} s)")

    params = {"now": now, "policy": json.dumps(policy), "reasons": REASONS, "zones": [z for z, _ in ZONES],
              "context": CONTEXT, "open": OPEN_CASES, "all": OPEN_CASES + CLOSED_CASES - 10_000}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO verification_freelancer (external_id, email, name, timezone, language, created_at,
                                                 updated_at)
            SELECT 'fl-' || i, 'fl-' || i || '@example.com', 'Freelancer ' || i,
                   (%(zones)s::text[])[1 + i %% 10], (ARRAY['en', 'en', 'en', 'es', 'pt', 'fr'])[1 + i %% 6],
                   %(now)s::timestamptz - interval '400 days', %(now)s
            FROM generate_series(1, %(all)s) i
        """, params)
        _cases(cursor, params)
        _log(f"{OPEN_CASES:,} open and {CLOSED_CASES:,} closed cases ({time.perf_counter() - started:.0f} s)")
        _bookings(cursor, params, rng)
        _requests(cursor, params)
        _audit(cursor, params)
        _outbox(cursor, params)
        cursor.execute("INSERT INTO notifications_webhookendpoint (name, url, secret, events, active) VALUES "
                       "('marketplace', 'http://127.0.0.1:9/webhooks', 'bench-secret', '[]', true)")
        cursor.execute(f"INSERT INTO {META_TABLE} (seeded_at, cases) SELECT %s, count(*) FROM verification_case",
                       [now])
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM notifications_outboxmessage")
        outbox = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM verification_auditevent")
        audit = cursor.fetchone()[0]
        _log(f"{outbox:,} outbox rows, {audit:,} audit events ({time.perf_counter() - started:.0f} s)")
        for table in TABLES + ["verification_freelancer", "auth_user"]:
            cursor.execute(f"VACUUM ANALYZE {table}")
    _log(f"done, vacuumed and analyzed in {time.perf_counter() - started:.0f} s")


_CASE_INSERT = """
INSERT INTO verification_case (id, freelancer_id, reason_code, public_reason, profile_claims, standing_snapshot,
    status, policy, notice_sent_at, deadline_at, closed_at, reschedule_count, freelancer_no_shows, priority_until,
    frozen_at, standing_restored_at, link_nonce, created_by, created_at, updated_at)
SELECT gen_random_uuid(), {freelancer}, (%(reasons)s::text[])[1 + i %% 6],
       'The name on your profile differs from the name on your payout account.',
       '[{{"field": "country", "value": "Germany"}}, {{"field": "name", "value": "Freelancer"}}]',
       '{{"badges": ["top_rated"], "status": "active", "job_success": 97}}',
       %(status)s, %(policy)s::jsonb, {notice}, deadline, closed_at, 0, 0, NULL, {frozen}, {restored},
       substr(md5(random()::text), 1, 22), 'marketplace:bench', {created}, %(now)s
FROM (SELECT i, closed_at, {deadline} AS deadline
      FROM (SELECT i, {closed_at} AS closed_at FROM generate_series(%(first)s, %(last)s) i) a) g
WHERE {where}
"""
_GRACE = "%(now)s::timestamptz + interval '3 days' + random() * interval '4 days'"
_PAST = "%(now)s::timestamptz - interval '1 minute' - random() * interval '48 minutes'"


def _case_rows(cursor, params, *, first: int, last: int, status: str, deadline: str = "NULL::timestamptz",
               notice: str = "deadline - interval '7 days'", closed_at: str = "NULL::timestamptz",
               frozen: str = "NULL::timestamptz", restored: str = "NULL::timestamptz", freelancer: str = "i",
               created: str = "deadline - interval '7 days 5 minutes'", where: str = "true") -> None:
    cursor.execute(_CASE_INSERT.format(freelancer=freelancer, notice=notice, deadline=deadline, closed_at=closed_at,
                                       frozen=frozen, restored=restored, created=created, where=where),
                   {**params, "first": first, "last": last, "status": status})


def _cases(cursor, params) -> None:
    rows = _case_rows
    rows(cursor, params, first=1, last=9_000, status="OPEN", deadline=_GRACE)
    rows(cursor, params, first=9_001, last=9_500, status="OPEN", notice="NULL::timestamptz",
         created="%(now)s::timestamptz - random() * interval '10 minutes'")
    rows(cursor, params, first=9_501, last=11_500, status="OPEN", deadline=_PAST)
    rows(cursor, params, first=11_501, last=16_500, status="SCHEDULED", deadline=_GRACE)
    rows(cursor, params, first=16_501, last=17_500, status="IN_REVIEW",
         deadline="%(now)s::timestamptz - random() * interval '5 days'")
    rows(cursor, params, first=17_501, last=20_000, status="FROZEN",
         deadline="%(now)s::timestamptz - interval '1 day' - random() * interval '19 days'",
         frozen="deadline + interval '1 minute'")
    # closed: 75% verified (standing restored), 10% not verified, 15% withdrawn; decided before the deadline
    for first, last, freelancer, ago in ((20_001, 110_000, "i", 1), (110_001, 120_000, "i - 110000", 200)):
        for status, where in (("VERIFIED", "i %% 20 < 15"), ("NOT_VERIFIED", "i %% 20 IN (15, 16)"),
                              ("WITHDRAWN", "i %% 20 > 16")):
            rows(cursor, params, first=first, last=last, status=status, freelancer=freelancer, where=where,
                 closed_at=f"%(now)s::timestamptz - interval '{ago} days' - random() * interval '180 days'",
                 deadline="closed_at + interval '2 days'",
                 restored="closed_at" if status == "VERIFIED" else "NULL::timestamptz")


def _bookings(cursor, params, rng: random.Random) -> None:
    """Scheduled cases: an active booking on a free slot before their deadline (the slot claimed).
    Closed cases that had a call: a DONE booking in the past (no slot: older than the kept slots)."""
    cursor.execute("""
        SELECT c.id, c.deadline_at, f.email, f.name FROM verification_case c
        JOIN verification_freelancer f ON f.id = c.freelancer_id WHERE c.status = 'SCHEDULED' ORDER BY c.id
    """)
    cases = cursor.fetchall()
    # every scheduled deadline is at least three days ahead: any free slot before then will do
    cursor.execute("""
        SELECT id, representative_id, starts_at, ends_at FROM scheduling_slot
        WHERE NOT is_booked AND starts_at >= %(now)s::timestamptz + interval '2 hours'
          AND starts_at < %(now)s::timestamptz + interval '3 days'
    """, params)
    slots = rng.sample(cursor.fetchall(), len(cases))
    rows = [(case_id, rep_id, slot_id, starts_at, ends_at, email, name,
             params["now"] - timedelta(hours=rng.randint(1, 72)))
            for (case_id, _, email, name), (slot_id, rep_id, starts_at, ends_at) in zip(cases, slots, strict=True)]
    used = [row[2] for row in rows]
    cursor.executemany("""
        INSERT INTO scheduling_booking (id, case_ref, representative_id, slot_id, starts_at, ends_at, status,
            attendee_email, attendee_name, language, phone, join_token, dial_in_pin, sequence, cancel_reason,
            displacement, created_at, updated_at)
        VALUES (gen_random_uuid(), %s, %s, %s, %s, %s, 'ACTIVE', %s, %s, '', false,
                md5(random()::text) || md5(random()::text), lpad((random() * 99999999)::int::text, 8, '0'), 0,
                '', '', %s, %s)
    """, [(*row, row[-1]) for row in rows])
    cursor.execute("UPDATE scheduling_slot SET is_booked = true WHERE id = ANY(%s)", [used])
    cursor.execute("""
        INSERT INTO scheduling_booking (id, case_ref, representative_id, slot_id, starts_at, ends_at, status,
            attendee_email, attendee_name, language, phone, join_token, dial_in_pin, sequence, cancel_reason,
            displacement, created_at, updated_at)
        SELECT gen_random_uuid(), c.id, r.ids[1 + (c.freelancer_id %% array_length(r.ids, 1))],
               NULL, date_trunc('hour', c.closed_at - interval '1 day'),
               date_trunc('hour', c.closed_at - interval '1 day') + interval '5 minutes', 'DONE', f.email, f.name,
               '', false, md5(random()::text) || md5(random()::text), '00000000', 0, '', '',
               c.notice_sent_at + interval '1 hour', c.closed_at
        FROM verification_case c JOIN verification_freelancer f ON f.id = c.freelancer_id,
             (SELECT array_agg(id ORDER BY id) AS ids FROM scheduling_representative) r
        WHERE c.status IN ('VERIFIED', 'NOT_VERIFIED')
    """, params)


def _requests(cursor, params) -> None:
    """Pending accommodations for half of the past-deadline cases whose guards fail (guard 3), and
    the self-service extension some in-grace freelancers used."""
    cursor.execute("""
        INSERT INTO verification_caserequest (case_id, kind, status, need, note, created_by, created_at,
                                              resolved_by, resolved_at, resolution)
        SELECT c.id, 'ACCOMMODATION', 'PENDING', 'no_camera', '', 'freelancer', c.deadline_at - interval '1 day',
               '', NULL, ''
        FROM verification_case c WHERE c.status = 'OPEN' AND c.freelancer_id BETWEEN 11001 AND 11500
    """)
    cursor.execute("""
        INSERT INTO verification_caserequest (case_id, kind, status, need, note, created_by, created_at,
                                              resolved_by, resolved_at, resolution)
        SELECT c.id, 'EXTENSION', 'GRANTED', '', '', 'freelancer', c.notice_sent_at + interval '1 day', 'system',
               c.notice_sent_at + interval '1 day', 'Granted automatically: 3 days.'
        FROM verification_case c WHERE c.status IN ('OPEN', 'SCHEDULED') AND c.freelancer_id %% 10 = 0
          AND c.notice_sent_at IS NOT NULL
    """, params)


def _audit(cursor, params) -> None:
    cursor.execute("""
        INSERT INTO verification_auditevent (case_id, at, actor, action, from_status, to_status, before, after,
                                             reason)
        SELECT c.id, e.at, e.actor, e.action, e.from_status, e.to_status, '{}', e.after::jsonb, ''
        FROM verification_case c,
        LATERAL (VALUES
            (c.created_at, 'marketplace:bench', 'flagged', '', 'OPEN', '{"reason_code": "profile_details"}'),
            (c.notice_sent_at, 'system', 'notice_sent', '', '', '{}'),
            (c.closed_at, 'system', lower(c.status), 'OPEN', c.status, '{}'),
            (c.frozen_at, 'system', 'frozen', 'OPEN', 'FROZEN', '{}'),
            (CASE WHEN c.status = 'SCHEDULED' THEN c.notice_sent_at + interval '1 hour' END, 'freelancer', 'booked',
             'OPEN', 'SCHEDULED', '{}')
        ) AS e(at, actor, action, from_status, to_status, after)
        WHERE e.at IS NOT NULL
    """)


def _outbox(cursor, params) -> None:
    """The messages the services would have written for these cases, in the states the sweep and
    the workers would have left them: what the booking path's `outbox_skip_pending` filters."""
    insert = """
        INSERT INTO notifications_outboxmessage (kind, topic, revision, case_ref, recipient, context, due_at,
            status, attempts, uncertain_attempts, lease_until, sent_at, skip_reason, last_error, created_at,
            updated_at)
        SELECT m.kind, m.topic, m.revision, c.id, f.email, %(context)s::jsonb, m.due_at, m.status,
               CASE WHEN m.status IN ('SENT', 'FAILED') THEN 1 ELSE 0 END, 0, NULL,
               CASE WHEN m.status = 'SENT' THEN m.due_at END, '', '', c.created_at, c.updated_at
        FROM verification_case c JOIN verification_freelancer f ON f.id = c.freelancer_id,
        LATERAL (VALUES {messages}) AS m(kind, topic, revision, due_at, status)
        WHERE m.due_at IS NOT NULL {where}
    """
    # every case: the notice, the webhook for its creation, the two warnings for its deadline
    warning_status = """CASE
        WHEN c.closed_at IS NOT NULL THEN CASE WHEN c.deadline_at - interval '{h} hours' < c.closed_at
                                               THEN 'SENT' ELSE 'SKIPPED' END
        WHEN {h} = 24 AND c.status = 'OPEN' AND c.freelancer_id BETWEEN 10501 AND 11000 THEN 'FAILED'
        WHEN c.deadline_at - interval '{h} hours' <= %(now)s::timestamptz THEN 'SENT'
        ELSE 'PENDING' END"""
    cursor.execute(insert.format(messages=f"""
        ('notice', 'case:' || c.id, 'notice', c.notice_sent_at, 'SENT'),
        ('webhook:case.created', 'webhook:1:' || c.id, 'case-rev-1',
         c.created_at, 'SENT'),
        ('deadline_warning:72', 'case:' || c.id, 'deadline-' || floor(extract(epoch FROM c.deadline_at))::bigint,
         CASE WHEN c.notice_sent_at IS NOT NULL THEN c.deadline_at - interval '72 hours' END,
         {warning_status.format(h=72)}),
        ('deadline_warning:24', 'case:' || c.id, 'deadline-' || floor(extract(epoch FROM c.deadline_at))::bigint,
         CASE WHEN c.notice_sent_at IS NOT NULL THEN c.deadline_at - interval '24 hours' END,
         {warning_status.format(h=24)})""", where=""), params)
    # closed and frozen cases: the closing message and its webhook
    cursor.execute(insert.format(messages="""
        (lower(c.status), 'case:' || c.id, 'case-rev-' || c.version,
         coalesce(c.closed_at, c.frozen_at), 'SENT'),
        ('webhook:case.' || lower(c.status), 'webhook:1:' || c.id, 'case-rev-' || c.version,
         coalesce(c.closed_at, c.frozen_at), 'SENT')""",
        where="AND c.status IN ('VERIFIED', 'NOT_VERIFIED', 'WITHDRAWN', 'FROZEN')"), params)
    # every booking: its confirmation and webhook, and the three reminders (pending while ahead)
    cursor.execute("""
        INSERT INTO notifications_outboxmessage (kind, topic, revision, case_ref, recipient, context, due_at,
            status, attempts, uncertain_attempts, lease_until, sent_at, skip_reason, last_error, created_at,
            updated_at)
        SELECT m.kind, m.topic, 'booking-seq-' || b.sequence, b.case_ref, m.recipient, %(context)s::jsonb,
               m.due_at, m.status,
               CASE WHEN m.status = 'SENT' THEN 1 ELSE 0 END, 0, NULL, CASE WHEN m.status = 'SENT' THEN m.due_at END,
               '', '', b.created_at, b.updated_at
        FROM scheduling_booking b,
        LATERAL (VALUES
            ('booking_confirmed', 'booking:' || b.id, b.attendee_email, b.created_at),
            ('webhook:case.scheduled', 'webhook:1:' || b.case_ref, 'http://127.0.0.1:9/webhooks', b.created_at),
            ('reminder:1440', 'booking:' || b.id, b.attendee_email, b.starts_at - interval '1440 minutes'),
            ('reminder:60', 'booking:' || b.id, b.attendee_email, b.starts_at - interval '60 minutes'),
            ('reminder:10', 'booking:' || b.id, b.attendee_email, b.starts_at - interval '10 minutes')
        ) AS r(kind, topic, recipient, due_at),
        LATERAL (SELECT r.kind, r.topic, r.recipient, greatest(r.due_at, b.created_at) AS due_at,
                        CASE WHEN r.due_at <= %(now)s::timestamptz THEN 'SENT' ELSE 'PENDING' END AS status) m
    """, params)
