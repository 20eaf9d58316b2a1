"""Earlier times for those who want them: opted-in freelancers with a later call are offered a
time that freed up, most urgent deadline first, by email with a link that moves the call through
the normal booking path, or says clearly that the time was taken and leaves the call as it was."""

from datetime import time, timedelta

import pytest
from django.core import mail
from django.test import Client

from notifications.models import MessageStatus, OutboxMessage
from scheduling.models import Booking, TimeOff
from scheduling.services.slots import representatives_slots_sync_all
from tests.factories import CaseFactory, RepresentativeFactory, WorkingHoursFactory
from tests.helpers import client_for, make_reps, race, send_due
from verification.links import freelancer_token
from verification.models import AuditEvent, Case, EarlierTimeOffer

MON_14 = "2026-03-02T14:00:00Z"


def book(case, at: str) -> Booking:
    response = client_for(case).post("/api/v1/case/booking", {"starts_at": at}, format="json")
    assert response.status_code == 201, response.content
    return Booking.objects.get(case_ref=case.id, status="ACTIVE")


def page(case) -> str:
    return f"/c/{freelancer_token(case)}/"


def opt_in(case) -> None:
    assert Client().post(page(case) + "earlier-times/", {"wanted": "on"}).status_code == 302
    case.refresh_from_db()
    assert case.wants_earlier


def urgent_case(days: int) -> Case:
    """A case whose deadline is `days` days after the notice (the smaller, the more urgent)."""
    case = CaseFactory()
    case.deadline_at = case.notice_sent_at + timedelta(days=days)
    case.save(update_fields=["deadline_at"])
    return case


def offers_of(case) -> list[EarlierTimeOffer]:
    return list(EarlierTimeOffer.objects.filter(case=case).order_by("starts_at"))


@pytest.fixture
def world(db, now, frozen_clock):
    """One representative (English, 09-17 London); C holds Monday 14:00; A (deadline in 7 days)
    and B (in 5 days: more urgent) opted in with calls on Wednesday."""
    make_reps(1, now=now)
    c = CaseFactory()
    book(c, MON_14)
    a, b = urgent_case(7), urgent_case(5)
    book(a, "2026-03-04T10:00:00Z")
    book(b, "2026-03-04T11:00:00Z")
    opt_in(a)
    opt_in(b)
    return {"a": a, "b": b, "c": c}


@pytest.mark.django_db
def test_a_cancelled_time_is_offered_to_opted_in_later_calls_most_urgent_first(world, now):
    not_opted = CaseFactory()
    book(not_opted, "2026-03-04T12:00:00Z")
    earlier_call = urgent_case(1)
    book(earlier_call, "2026-03-02T13:00:00Z")
    opt_in(earlier_call)

    assert client_for(world["c"]).delete("/api/v1/case/booking").status_code in (200, 204)

    offered = EarlierTimeOffer.objects.order_by("rank")
    assert [(o.case_id, o.rank) for o in offered] == [(world["b"].id, 0), (world["a"].id, 1)]
    assert all(o.starts_at.isoformat() == "2026-03-02T14:00:00+00:00" for o in offered)
    emails = {m.case_ref: m for m in OutboxMessage.objects.filter(kind="earlier_time")}
    assert set(emails) == {world["a"].id, world["b"].id}
    assert emails[world["b"].id].due_at == now and emails[world["a"].id].due_at == now + timedelta(minutes=10)
    assert AuditEvent.objects.filter(action="earlier_time_offered").count() == 2

    send_due(now)
    (sent,) = [m for m in mail.outbox if "earlier time" in m.subject]
    assert sent.to == [world["b"].freelancer.email]
    assert f"{page(world['b'])}earlier/{offered[0].pk}/" in sent.body


@pytest.mark.django_db
def test_a_time_no_free_representative_speaking_their_language_is_not_offered(world, now):
    portuguese = RepresentativeFactory(languages=["pt-BR"])
    WorkingHoursFactory(representative=portuguese, weekday=2, starts=time(9), ends=time(17))
    representatives_slots_sync_all(now=now)
    wants_pt = urgent_case(2)
    response = client_for(wants_pt).post("/api/v1/case/booking", {"starts_at": "2026-03-04T10:00:00Z",
                                                                  "language": "pt-BR"}, format="json")
    assert response.status_code == 201, response.content
    opt_in(wants_pt)

    client_for(world["c"]).delete("/api/v1/case/booking")

    assert offers_of(wants_pt) == []
    assert {o.case_id for o in EarlierTimeOffer.objects.all()} == {world["a"].id, world["b"].id}


@pytest.mark.django_db
def test_taking_the_offer_moves_the_call_through_the_normal_path_and_counts_one_change(world):
    client_for(world["c"]).delete("/api/v1/case/booking")
    offer = offers_of(world["b"])[0]
    link = f"{page(world['b'])}earlier/{offer.pk}/"

    shown = Client().get(link)
    assert shown.status_code == 200 and "Move my call to" in shown.content.decode()
    assert Booking.objects.get(case_ref=world["b"].id, status="ACTIVE").sequence == 0  # a GET moves nothing

    response = Client().post(link)
    assert response.status_code == 302 and response["Location"].endswith("/booked/")
    booking = Booking.objects.get(case_ref=world["b"].id, status="ACTIVE")
    assert booking.starts_at.isoformat() == "2026-03-02T14:00:00+00:00" and booking.sequence == 1
    world["b"].refresh_from_db()
    assert world["b"].reschedule_count == 1
    offer.refresh_from_db()
    assert offer.accepted_at is not None
    moved = AuditEvent.objects.get(case=world["b"], action="rescheduled")
    assert moved.reason.startswith("Took an earlier time")
    # the time B left (Wednesday 11:00) is later than A's call: not offered to A
    assert [o.starts_at.isoformat() for o in offers_of(world["a"])] == ["2026-03-02T14:00:00+00:00"]


@pytest.mark.django_db
def test_a_taken_time_says_so_and_leaves_the_call_unchanged(world, now):
    client_for(world["c"]).delete("/api/v1/case/booking")
    Client().post(f"{page(world['b'])}earlier/{offers_of(world['b'])[0].pk}/")  # B takes it
    a_offer = offers_of(world["a"])[0]
    before = Booking.objects.get(case_ref=world["a"].id, status="ACTIVE")
    audit_before = AuditEvent.objects.filter(case=world["a"]).count()

    shown = Client().get(f"{page(world['a'])}earlier/{a_offer.pk}/")
    assert shown.status_code == 410 and "That time was taken" in shown.content.decode()
    refused = Client().post(f"{page(world['a'])}earlier/{a_offer.pk}/")
    assert refused.status_code == 409
    assert "That time was taken" in refused.content.decode() and "Your call is unchanged" in refused.content.decode()

    after = Booking.objects.get(case_ref=world["a"].id, status="ACTIVE")
    assert (after.starts_at, after.sequence, after.slot_id) == (before.starts_at, before.sequence, before.slot_id)
    world["a"].refresh_from_db()
    assert world["a"].reschedule_count == 0
    assert AuditEvent.objects.filter(case=world["a"]).count() == audit_before
    a_offer.refresh_from_db()
    assert a_offer.accepted_at is None
    # A's email, due ten minutes after B's, is not sent: the time was taken
    send_due(now + timedelta(minutes=10))
    message = OutboxMessage.objects.get(kind="earlier_time", case_ref=world["a"].id)
    assert message.status == MessageStatus.SKIPPED and message.skip_reason == "the time was taken"
    assert not [m for m in mail.outbox if m.to == [world["a"].freelancer.email] and "earlier" in m.subject]


@pytest.mark.django_db
def test_opting_in_needs_a_booking_and_opting_out_drops_waiting_offers(world, now):
    unbooked = CaseFactory()
    Client().post(page(unbooked) + "earlier-times/", {"wanted": "on"})
    unbooked.refresh_from_db()
    assert not unbooked.wants_earlier and not AuditEvent.objects.filter(case=unbooked).exists()
    assert AuditEvent.objects.filter(case=world["a"], action="earlier_times_on").count() == 1

    client_for(world["c"]).delete("/api/v1/case/booking")  # A's offer waits ten minutes
    assert Client().post(page(world["a"]) + "earlier-times/", {"wanted": "off"}).status_code == 302

    world["a"].refresh_from_db()
    assert not world["a"].wants_earlier
    assert AuditEvent.objects.filter(case=world["a"], action="earlier_times_off").count() == 1
    assert OutboxMessage.objects.get(kind="earlier_time", case_ref=world["a"].id).status == MessageStatus.SKIPPED
    assert "Tell me if an earlier time opens" in Client().get(page(world["a"])).content.decode()


@pytest.mark.django_db
def test_a_freelancer_with_no_changes_left_is_not_offered(world):
    world["b"].reschedule_count = world["b"].policy.max_reschedules
    world["b"].save(update_fields=["reschedule_count"])

    client_for(world["c"]).delete("/api/v1/case/booking")

    assert offers_of(world["b"]) == [] and len(offers_of(world["a"])) == 1


@pytest.mark.django_db
def test_times_freed_by_removing_time_off_are_offered_earliest_first(db, now, frozen_clock):
    (rep,) = make_reps(1, now=now)
    case = CaseFactory()
    book(case, "2026-03-04T10:00:00Z")
    opt_in(case)
    off = TimeOff.objects.create(representative=rep, starts_at=now, ends_at=now + timedelta(days=1, hours=6))
    representatives_slots_sync_all(now=now)

    staff = Client()
    staff.force_login(rep.user)
    assert staff.post("/console/time-off/remove/", {"remove": str(off.pk)}).status_code == 302

    (offer,) = offers_of(case)  # one offer: the earliest bookable of the new times
    assert offer.starts_at == now + timedelta(hours=1)  # the minimum notice
    assert OutboxMessage.objects.filter(kind="earlier_time", case_ref=case.id).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_freelancers_racing_for_one_offered_time_exactly_one_moves(world):
    client_for(world["c"]).delete("/api/v1/case/booking")
    racers = [world["a"], world["b"]]
    before = {c.id: Booking.objects.get(case_ref=c.id, status="ACTIVE") for c in racers}
    links = [f"{page(c)}earlier/{offers_of(c)[0].pk}/" for c in racers]

    responses = race(2, lambda i: Client().post(links[i]))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [302, 409], statuses
    loser = racers[[r.status_code for r in responses].index(409)]
    winner = racers[[r.status_code for r in responses].index(302)]
    assert "That time was taken" in responses[racers.index(loser)].content.decode()
    kept = Booking.objects.get(case_ref=loser.id, status="ACTIVE")
    assert (kept.starts_at, kept.sequence) == (before[loser.id].starts_at, before[loser.id].sequence)
    assert Booking.objects.get(case_ref=winner.id, status="ACTIVE").starts_at.isoformat() == \
        "2026-03-02T14:00:00+00:00"
    assert Booking.objects.filter(status="ACTIVE", starts_at="2026-03-02T14:00:00Z").count() == 1
    assert Case.objects.get(pk=loser.id).reschedule_count == 0
    assert Case.objects.get(pk=winner.id).reschedule_count == 1


@pytest.mark.django_db
def test_a_withdrawn_cases_call_frees_its_time_for_those_waiting(world, now):
    from verification.services.cases import case_withdraw

    case_withdraw(case_id=world["c"].id, actor="marketplace:test", reason="Flagged by mistake.", now=now)

    assert [o.case_id for o in EarlierTimeOffer.objects.order_by("rank")] == [world["b"].id, world["a"].id]


@pytest.mark.django_db
def test_moving_away_from_a_time_offers_it(world):
    moved = client_for(world["c"]).patch("/api/v1/case/booking", {"starts_at": "2026-03-05T10:00:00Z"}, format="json")
    assert moved.status_code == 200, moved.content

    # Monday 14:00 is offered; C's new time (Thursday) is later than both, so nothing else is
    assert {(o.case_id, o.starts_at.isoformat()) for o in EarlierTimeOffer.objects.all()} == {
        (world["a"].id, "2026-03-02T14:00:00+00:00"), (world["b"].id, "2026-03-02T14:00:00+00:00")}


@pytest.mark.django_db
def test_a_frozen_freelancer_who_booked_is_the_most_urgent(world, now):
    frozen = CaseFactory(status="FROZEN", notice_sent_at=now - timedelta(days=10),
                         deadline_at=now - timedelta(days=3), frozen_at=now - timedelta(days=3))
    book(frozen, "2026-03-05T10:00:00Z")
    opt_in(frozen)

    client_for(world["c"]).delete("/api/v1/case/booking")

    assert [o.case_id for o in EarlierTimeOffer.objects.order_by("rank")] == [frozen.id, world["b"].id,
                                                                             world["a"].id]


@pytest.mark.django_db
def test_an_offer_expires_when_its_time_is_too_close_to_book(world, now):
    import time_machine

    client_for(world["c"]).delete("/api/v1/case/booking")
    offer = offers_of(world["b"])[0]
    link = f"{page(world['b'])}earlier/{offer.pk}/"
    before = Booking.objects.get(case_ref=world["b"].id, status="ACTIVE")

    with time_machine.travel(offer.starts_at - timedelta(minutes=59), tick=False):  # inside the hour's notice
        shown = Client().get(link)
        refused = Client().post(link)

    assert shown.status_code == 410 and "That time was taken" in shown.content.decode()
    assert refused.status_code == 409 and "Your call is unchanged" in refused.content.decode()
    after = Booking.objects.get(case_ref=world["b"].id, status="ACTIVE")
    assert (after.starts_at, after.sequence) == (before.starts_at, before.sequence)
