"""The outlier test on hand-built counts where the answer is known, then the page's figures."""

from datetime import timedelta

import pytest

from scheduling.models import Booking
from tests.operations.builders import calls, representatives
from verification.models import Outcome, Review
from verification.operations.fairness import MIN_CALLS, fairness, outliers
from verification.operations.period import Period

PEERS = {f"peer-{i}": (1, 20) for i in range(4)}  # four peers, each 1 adverse call in 20


def test_twelve_of_twenty_among_peers_at_one_of_twenty_is_flagged():
    results = outliers({"odd": (12, 20), **PEERS})
    assert results["odd"].flagged and results["odd"].direction == "higher"
    assert results["odd"].q_value < 0.05
    assert not any(results[peer].flagged for peer in PEERS)  # the peers are not dragged along


def test_two_of_twenty_among_peers_at_one_of_twenty_is_not_flagged():
    results = outliers({"odd": (2, 20), **PEERS})
    assert results["odd"].tested and not results["odd"].flagged
    assert results["odd"].p_value > 0.5


def test_fewer_than_the_minimum_calls_is_never_flagged():
    assert MIN_CALLS == 20
    results = outliers({"new": (19, 19), **PEERS})
    assert not results["new"].tested and not results["new"].flagged and results["new"].p_value is None
    # the same rate over the minimum is flagged: it is the count that holds it back
    assert outliers({"new": (20, 20), **PEERS})["new"].flagged


def test_benjamini_hochberg_adjusts_over_the_representatives_tested():
    # 0.02 alone would pass at 0.05; among many tested representatives it is not enough
    lone = outliers({"odd": (6, 20), "rest": (3, 40)})
    crowd = outliers({"odd": (6, 20), **{f"peer-{i}": (1, 20) for i in range(2)},
                      **{f"calm-{i}": (1, 20) for i in range(8)}})
    assert lone["odd"].p_value < 0.05
    assert crowd["odd"].q_value >= crowd["odd"].p_value


def test_no_one_to_compare_with_is_not_tested():
    assert not outliers({"alone": (15, 20)})["alone"].tested


@pytest.mark.django_db
def test_the_page_figures_count_each_representatives_calls_and_flag_the_outlier(now):
    reps = representatives(5)
    odd, peers = reps[0], reps[1:]
    at = now - timedelta(days=1)
    calls(odd.user, outcomes={Outcome.ESCALATED: 12, Outcome.VERIFIED: 8}, at=at, seconds=240)
    for peer in peers:
        calls(peer.user, outcomes={Outcome.ESCALATED: 1, Outcome.VERIFIED: 17, Outcome.RETRY_TECHNICAL: 1,
                                   Outcome.ALT_PATH: 1, Outcome.FREELANCER_NO_SHOW: 2}, at=at)
    # a reviewer refused one of a peer's escalated calls; an old call outside the period is ignored
    escalated = peers[0].user.calls.get(outcome=Outcome.ESCALATED)
    Review.objects.create(case=escalated.case, call=escalated, kind="ESCALATION", decision=Outcome.NOT_VERIFIED,
                          created_at=at, decided_at=at)
    calls(peers[1].user, outcomes={Outcome.ESCALATED: 30}, at=now - timedelta(days=40))
    # our no-show: a booking the representative never started (finished with that reason)
    Booking.objects.create(case_ref=escalated.case_id, representative=peers[2], starts_at=at,
                           ends_at=at + timedelta(minutes=5), attendee_email="x@example.com", attendee_name="X",
                           status="DONE", cancel_reason="rep_no_show", created_at=at, updated_at=at)

    result = fairness(period=Period(start=now - timedelta(days=14), end=now, zone_name="UTC", days=14, now=now))
    rows = {row.representative.pk: row for row in result.rows}
    assert rows[odd.pk].held == 20 and rows[odd.pk].outcomes[Outcome.ESCALATED] == 12
    assert rows[odd.pk].test.flagged and rows[odd.pk].test.direction == "higher"
    assert rows[odd.pk].median_call == timedelta(seconds=240)
    first = rows[peers[0].pk]
    assert (first.held, first.freelancer_no_shows, first.not_verified) == (20, 2, 1)
    assert first.outcomes == {Outcome.VERIFIED: 17, Outcome.RETRY_TECHNICAL: 1, Outcome.ESCALATED: 1,
                              Outcome.ALT_PATH: 1}
    assert not any(rows[p.pk].test.flagged for p in peers)
    assert rows[peers[1].pk].held == 20  # the 30 old calls are outside the period
    assert rows[peers[2].pk].rep_no_shows == 1 and rows[odd.pk].rep_no_shows == 0


def test_the_vectorized_fisher_test_agrees_with_scipys():
    import random

    from scipy.stats import fisher_exact

    from verification.operations.fairness import fisher_two_sided

    rng = random.Random(7)
    calls = [rng.randint(1, 300) for _ in range(60)] + [20, 20, 5]
    adverse = [rng.randint(0, c) if i % 3 == 0 else rng.randint(0, c // 8) for i, c in enumerate(calls[:-3])]
    adverse += [12, 0, 5]
    team_adverse, team_calls = sum(adverse), sum(calls)
    ours = fisher_two_sided(adverse, calls, team_adverse=team_adverse, team_calls=team_calls)
    for a, n, p in zip(adverse, calls, ours, strict=True):
        table = [[a, n - a], [team_adverse - a, team_calls - n - (team_adverse - a)]]
        assert p == pytest.approx(fisher_exact(table).pvalue, rel=1e-8, abs=1e-300)
