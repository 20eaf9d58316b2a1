"""Percentiles of durations: in the database on PostgreSQL (`percentile_cont`, one row per group
comes back), in Python elsewhere (SQLite, the embedded demo: the durations are read, still in one
query). Both interpolate linearly between the two nearest values, so they agree."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.db.models import Aggregate, Count, DurationField, QuerySet


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate: `percentile_cont(f) WITHIN GROUP (ORDER BY expr)`."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, *, fraction: float, **extra):
        super().__init__(expression, fraction=repr(float(fraction)), output_field=DurationField(), **extra)


def quantile(ordered: list, fraction: float):
    """`percentile_cont` in Python: linear interpolation on sorted values."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Spread:
    count: int  # rows where the duration is known
    values: list[timedelta | None]  # one per fraction asked for; None when count is 0


def duration_percentiles(
    queryset: QuerySet, expression, *, fractions: tuple[float, ...] = (0.5, 0.9), group_by: str | None = None,
) -> dict[object, Spread]:
    """{group: Spread} of a duration expression over a queryset (rows where it is NULL are left
    out). Without `group_by` the only key is None. One query."""
    queryset = queryset.order_by()
    if connection.vendor == "postgresql":
        aggregates = {f"p{i}": PercentileCont(expression, fraction=f) for i, f in enumerate(fractions)}
        aggregates["n"] = Count(expression)
        if group_by is None:
            rows = [queryset.aggregate(**aggregates)]
        else:
            rows = list(queryset.values(group_by).annotate(**aggregates))
        return {row.get(group_by): Spread(row["n"], [row[f"p{i}"] for i in range(len(fractions))]) for row in rows}
    values: dict[object, list[timedelta]] = defaultdict(list)
    rows = queryset.annotate(_duration=expression).values_list(group_by or "pk", "_duration")
    for key, duration in rows:
        if duration is not None:
            values[key if group_by else None].append(duration)
    if group_by is None:
        values.setdefault(None, [])
    return {key: Spread(len(found), [quantile(sorted(found), f) for f in fractions]) for key, found in values.items()}
