"""Representatives and fairness: per representative for the period, calls held, no-shows (theirs
and the freelancers'), outcomes, median call length; and whether their rate of adverse outcomes
(ESCALATED, or NOT_VERIFIED after review) differs from the rest of the team beyond chance.

The test (named on the page): for each representative with at least `MIN_CALLS` calls held, a
two-sided Fisher exact test of their adverse / other calls against the rest of the team's pooled
adverse / other calls (`fisher_two_sided`: scipy.stats.fisher_exact's definition, vectorized); the
p-values are adjusted for testing every representative at once with the Benjamini-Hochberg
procedure (scipy.stats.false_discovery_control) and a representative is flagged when the adjusted
value is below `ALPHA`. Only counts are used:
nothing about any freelancer.
"""

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q
from django.utils.translation import gettext_lazy as _
from scipy.special import gammaln
from scipy.stats import false_discovery_control

from scheduling.models import Booking, Representative
from verification.models import CallRecord, Outcome, Review
from verification.operations.funnel import HELD
from verification.operations.period import Period
from verification.operations.stats import duration_percentiles

MIN_CALLS = 20
ALPHA = 0.05
TEST_NAME = _("two-sided Fisher exact test of each representative's adverse calls against the rest of the team's, "
              "Benjamini-Hochberg adjusted over the representatives tested")


@dataclass(frozen=True)
class OutlierResult:
    adverse: int
    calls: int
    rest_adverse: int
    rest_calls: int
    tested: bool
    p_value: float | None = None
    q_value: float | None = None
    flagged: bool = False

    @property
    def rate(self) -> float | None:
        return self.adverse / self.calls if self.calls else None

    @property
    def rest_rate(self) -> float | None:
        return self.rest_adverse / self.rest_calls if self.rest_calls else None

    @property
    def direction(self) -> str:
        if not self.flagged:
            return ""
        return "higher" if (self.rate or 0) > (self.rest_rate or 0) else "lower"


def _log_choose(n, k):
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


def fisher_two_sided(adverse: list[int], calls: list[int], *, team_adverse: int, team_calls: int,
                     chunk: int = 25) -> np.ndarray:
    """Two-sided Fisher exact p-values of [[adverse, calls - adverse], [rest adverse, rest others]]
    for many representatives at once: the probability, under the hypergeometric distribution of
    the table's margins, of every table no more likely than the one observed (the definition
    scipy.stats.fisher_exact uses, with its relative tolerance of 1e-7; the tests check the two
    agree). In log space with numpy, a few representatives at a time: fisher_exact itself costs a
    few milliseconds a call, too slow for hundreds of representatives on every page view."""
    a_all, n_all = np.asarray(adverse, dtype=float), np.asarray(calls, dtype=float)
    big_a, big_n = float(team_adverse), float(team_calls)
    p_values = np.ones(len(a_all))
    for start in range(0, len(a_all), chunk):
        a, n = a_all[start:start + chunk], n_all[start:start + chunk, None]
        k = np.arange(int(min(n.max(), big_a)) + 1, dtype=float)[None, :]
        possible = (k <= n) & (n - k <= big_n - big_a)
        log_p = np.where(possible, _log_choose(big_a, k) + _log_choose(big_n - big_a, np.clip(n - k, 0, None))
                         - _log_choose(big_n, n), -np.inf)
        observed = _log_choose(big_a, a) + _log_choose(big_n - big_a, n[:, 0] - a) - _log_choose(big_n, n[:, 0])
        as_likely = log_p <= observed[:, None] + np.log1p(1e-7)
        p_values[start:start + chunk] = np.minimum(1.0, np.where(as_likely, np.exp(log_p), 0.0).sum(axis=1))
    return p_values


def outliers(counts: dict, *, min_calls: int = MIN_CALLS, alpha: float = ALPHA) -> dict:
    """{key: (adverse, calls)} -> {key: OutlierResult}. A representative with fewer than
    `min_calls` calls, or with no one else to compare with, is never tested, so never flagged."""
    team_adverse = sum(a for a, _ in counts.values())
    team_calls = sum(n for _, n in counts.values())
    results = {key: OutlierResult(adverse, calls, team_adverse - adverse, team_calls - calls, tested=False)
               for key, (adverse, calls) in counts.items()}
    tested = [key for key, r in results.items() if r.calls >= min_calls and r.rest_calls > 0]
    if not tested:
        return results
    p_values = fisher_two_sided([results[k].adverse for k in tested], [results[k].calls for k in tested],
                                team_adverse=team_adverse, team_calls=team_calls)
    q_values = false_discovery_control(p_values, method="bh")
    for key, p, q in zip(tested, p_values, q_values, strict=True):
        r = results[key]
        results[key] = OutlierResult(r.adverse, r.calls, r.rest_adverse, r.rest_calls, tested=True,
                                     p_value=float(p), q_value=float(q), flagged=bool(q < alpha))
    return results


OUTCOME_COLUMNS = [Outcome.VERIFIED, Outcome.RETRY_TECHNICAL, Outcome.ESCALATED, Outcome.ALT_PATH]


@dataclass
class RepresentativeFigures:
    representative: Representative
    held: int
    outcomes: dict[str, int]
    not_verified: int
    freelancer_no_shows: int
    rep_no_shows: int
    median_call: timedelta | None
    test: OutlierResult


@dataclass
class Fairness:
    period: Period
    rows: list[RepresentativeFigures]
    team_rate: float | None
    call_minutes: int
    min_calls: int = MIN_CALLS
    alpha: float = ALPHA
    test_name: str = TEST_NAME


def fairness(*, period: Period) -> Fairness:
    calls = CallRecord.objects.filter(outcome_at__gte=period.start, outcome_at__lt=period.end)
    refused = Review.objects.filter(decision=Outcome.NOT_VERIFIED, call__isnull=False).values("call_id")
    held = Q(outcome__in=HELD)
    figures = {
        row["representative_user"]: row for row in calls.values("representative_user").annotate(
            held=Count("pk", filter=held),
            freelancer_no_shows=Count("pk", filter=Q(outcome=Outcome.FREELANCER_NO_SHOW)),
            not_verified=Count("pk", filter=held & Q(pk__in=refused)),
            adverse=Count("pk", filter=held & (Q(outcome=Outcome.ESCALATED) | Q(pk__in=refused))),
            **{outcome.lower(): Count("pk", filter=Q(outcome=outcome)) for outcome in OUTCOME_COLUMNS},
        ).order_by()
    }
    rep_no_shows = dict(
        Booking.objects.filter(cancel_reason="rep_no_show", starts_at__gte=period.start, starts_at__lt=period.end)
        .values("representative_id").annotate(n=Count("pk")).order_by().values_list("representative_id", "n"))
    medians = duration_percentiles(
        calls.filter(held, started_at__isnull=False),
        ExpressionWrapper(F("outcome_at") - F("started_at"), output_field=DurationField()),
        fractions=(0.5,), group_by="representative_user")
    representatives = list(
        Representative.objects.filter(Q(active=True) | Q(user_id__in=list(figures)) | Q(pk__in=list(rep_no_shows)))
        .order_by("display_name", "pk"))
    tests = outliers({rep.user_id: (figures.get(rep.user_id, {}).get("adverse", 0),
                                    figures.get(rep.user_id, {}).get("held", 0)) for rep in representatives})
    rows = []
    for rep in representatives:
        row = figures.get(rep.user_id, {})
        rows.append(RepresentativeFigures(
            representative=rep, held=row.get("held", 0),
            outcomes={outcome: row.get(outcome.lower(), 0) for outcome in OUTCOME_COLUMNS},
            not_verified=row.get("not_verified", 0), freelancer_no_shows=row.get("freelancer_no_shows", 0),
            rep_no_shows=rep_no_shows.get(rep.pk, 0),
            median_call=medians[rep.user_id].values[0] if rep.user_id in medians else None,
            test=tests[rep.user_id]))
    team_held = sum(r.held for r in rows)
    team_adverse = sum(r.test.adverse for r in rows)
    return Fairness(period=period, rows=rows, team_rate=team_adverse / team_held if team_held else None,
                    call_minutes=settings.CALL_MINUTES)
