"""Availability for one case over a big calendar: 200 representatives x 14 days of slots (about
270k rows), 30% booked. Prints p50/p95 of the service (verification.selectors.case_availability,
grouped by day in the freelancer's zone) and of one raw SQL aggregate giving the same instants, in
the same run, and checks both answers are equal.

    .venv/bin/python bench/availability.py [--runs 40]
"""

import argparse
import time
from datetime import UTC, datetime, timedelta

from _db import ms, percentile, setup

RAW = """
SELECT DISTINCT s.starts_at FROM scheduling_slot s
JOIN scheduling_representative r ON r.id = s.representative_id
WHERE NOT s.is_booked AND r.active AND s.starts_at >= %s AND s.starts_at < %s
ORDER BY s.starts_at
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args()
    setup()

    from django.contrib.auth.models import User
    from django.db import connection

    from scheduling.models import Representative
    from verification.models import Case, CaseStatus, Freelancer
    from verification.selectors import case_availability

    now = datetime(2030, 1, 7, 0, 0, tzinfo=UTC)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE scheduling_booking, scheduling_slot, scheduling_representativelanguage,"
                       " scheduling_workinghours, scheduling_timeoff, scheduling_representative CASCADE")
        cursor.execute("TRUNCATE verification_auditevent, verification_idempotencyrecord, verification_case,"
                       " verification_freelancer CASCADE")
    User.objects.filter(username__startswith="bench-rep-").delete()
    for i in range(args.reps):
        Representative.objects.create(user=User.objects.create(username=f"bench-rep-{i}"),
                                      display_name=f"Bench {i}", timezone="UTC")
    with connection.cursor() as cursor:
        # each representative: 8 working hours a day, staggered across the day, 5-minute slots, 14 days
        cursor.execute("""
            INSERT INTO scheduling_slot (representative_id, starts_at, ends_at, is_booked)
            SELECT r.id, t, t + interval '5 minutes', random() < 0.3
            FROM scheduling_representative r,
                 generate_series(0, 13) d,
                 generate_series(0, 95) k,
                 LATERAL (SELECT %s::timestamptz + d * interval '1 day' + (r.id %% 16) * interval '1 hour'
                                 + k * interval '5 minutes' AS t) x
        """, [now])
        cursor.execute("ANALYZE scheduling_slot")
        cursor.execute("SELECT count(*), avg(is_booked::int) FROM scheduling_slot")
        rows, booked = cursor.fetchone()
    freelancer = Freelancer.objects.create(external_id="bench", email="b@example.com", name="Bench",
                                           timezone="Asia/Kolkata", language="en", created_at=now, updated_at=now)
    case = Case.objects.create(freelancer=freelancer, reason_code="profile_details", public_reason="bench",
                               status=CaseStatus.OPEN, policy={}, notice_sent_at=now,
                               deadline_at=now + timedelta(days=14), created_by="bench", created_at=now,
                               updated_at=now)
    case = Case.objects.select_related("freelancer").get(pk=case.pk)

    def service():
        return case_availability(case=case, now=now)

    def raw():
        start = now + timedelta(minutes=60)
        with connection.cursor() as cursor:
            cursor.execute(RAW, [start, case.deadline_at])
            return [row[0] for row in cursor.fetchall()]

    def timed(fn) -> tuple[list[float], object]:
        fn()  # warm
        samples, result = [], None
        for _ in range(args.runs):
            started = time.perf_counter()
            result = fn()
            samples.append(time.perf_counter() - started)
        return samples, result

    service_times, answer = timed(service)
    raw_times, raw_answer = timed(raw)
    service_instants = [t["starts_at"] for day in answer["days"] for t in day["times"]]
    raw_instants = [t.astimezone(UTC).isoformat().replace("+00:00", "Z") for t in raw_answer]
    print(f"slots={rows} ({args.reps} reps x 14 days), booked={booked:.0%}, distinct free times={len(raw_instants)}")
    print(f"         service: p50 {ms(percentile(service_times, 50))}, p95 {ms(percentile(service_times, 95))}"
          f" (grouped by day in {answer['timezone']})")
    print(f"raw SQL aggregate: p50 {ms(percentile(raw_times, 50))}, p95 {ms(percentile(raw_times, 95))}")
    print(f"same answer: {service_instants == raw_instants}; service p50 / raw p50 = "
          f"{percentile(service_times, 50) / percentile(raw_times, 50):.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
