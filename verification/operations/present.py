"""Shape the panels into tables (HTML and CSV) and chart data. No queries here."""

from datetime import datetime, timedelta

from django.urls import reverse

from verification.models import CaseStatus, Outcome
from verification.operations.capacity import Forecast
from verification.operations.fairness import OUTCOME_COLUMNS, Fairness
from verification.operations.funnel import EXTENSION_REASONS, STAGES, Funnel
from verification.operations.now import NowPanel
from verification.operations.period import Period
from verification.operations.tables import Column, Table


def when(at: datetime | None, period: Period) -> str | None:
    return at.astimezone(period.zone).strftime("%a %d %b %H:%M") if at else None


def age(delta: timedelta | None) -> str | None:
    if delta is None:
        return None
    seconds = int(delta.total_seconds())
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {rest // 60} min"
    return f"{rest // 60} min {rest % 60} s"


def hours(delta: timedelta | None) -> float | None:
    return None if delta is None else round(delta.total_seconds() / 3600, 1)


def percent(part: int | float, whole: int | float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def admin_case(case_id) -> str:
    return reverse("admin:verification_case_change", args=[case_id])


# --- Now -----------------------------------------------------------------------------------------

def now_tables(panel: NowPanel, period: Period) -> list[Table]:
    status = Table("status", "Running cases by status", [Column("status", "Status"), Column("cases", "Cases", True)])
    for code, count in panel.by_status.items():
        status.add({"status": CaseStatus(code).label, "cases": count},
                   links={"status": f"{reverse('admin:verification_case_changelist')}?status__exact={code}"})

    counts = panel.due.counts
    due = Table("due", f"Deadline within 72 h and no call booked: {counts[24]:,} within 24 h, {counts[72]:,} within "
                       f"72 h", [Column("deadline", f"Deadline ({period.zone_name})"), Column("left", "Time left"),
                                 Column("freelancer", "Freelancer"), Column("zone", "Their zone"),
                                 Column("language", "Language"), Column("reason", "Reason")],
                empty="No case is due in the next 72 hours without a booked call.")
    for case in panel.due.cases:
        due.add({"deadline": when(case.deadline_at, period), "left": age(case.deadline_at - panel.now),
                 "freelancer": case.freelancer.external_id, "zone": case.freelancer.timezone,
                 "language": case.freelancer.language, "reason": case.get_reason_code_display()},
                flagged=case.deadline_at - panel.now < timedelta(hours=24),
                links={"freelancer": admin_case(case.pk)})
    if counts[72] > len(panel.due.cases):
        due.note = f"The {len(panel.due.cases)} soonest of {counts[72]:,} are listed; the admin lists them all."

    pending = Table("pending", "Waiting for staff, against the policy's review target",
                    [Column("kind", "What"), Column("pending", "Pending", True),
                     Column("over", "Older than the target", True), Column("target", "Target (days)"),
                     Column("oldest", "Oldest waiting")])
    for item in panel.pending:
        pending.add({"kind": item.label, "pending": item.count, "over": item.over_target,
                     "target": ", ".join(map(str, sorted(item.targets))) or None,
                     "oldest": age(panel.now - item.oldest_at) if item.oldest_at else None},
                    flagged=item.over_target > 0)

    box = panel.outbox
    outbox = Table("outbox", "Outbox: messages to freelancers, representatives and the marketplace",
                   [Column("measure", "Measure"), Column("value", "Value", True)])
    for label, value, bad in [
        ("Pending (not yet due or due now)", box.pending, False),
        ("Due now", box.due, False),
        ("Overdue by more than one sweep interval", box.overdue, box.overdue > 0),
        ("Outbox lag: seconds since the oldest due message was due", round(box.lag_seconds(panel.now)),
         box.overdue > 0),
        ("Failed after every retry", box.failed, box.failed > 0),
        ("Claimed by a worker that stopped answering", box.stuck_sending, box.stuck_sending > 0),
    ]:
        outbox.add({"measure": label, "value": value}, flagged=bad)
    outbox.note = (f"Oldest due message: {when(box.oldest_due_at, period) or 'none'}. "
                   f"Last failure: {when(box.last_failed_at, period) or 'none'}.")
    kinds = Table("outbox_kinds", "Failed and overdue messages by kind",
                  [Column("kind", "Kind"), Column("failed", "Failed", True), Column("overdue", "Overdue", True),
                   Column("oldest", "Oldest due (overdue)")], empty="No failed or overdue message.")
    changelist = reverse("admin:notifications_outboxmessage_changelist")
    for row in box.by_kind:
        kinds.add({"kind": row["kind"], "failed": row["failed"], "overdue": row["overdue"],
                   "oldest": when(row["oldest"], period)}, flagged=True,
                  links={"kind": f"{changelist}?kind__exact={row['kind']}"})
    return [status, due, pending, outbox, kinds]


# --- Funnel ----------------------------------------------------------------------------------------

def funnel_tables(f: Funnel) -> list[Table]:
    stages = Table("funnel", f"Cases flagged in {f.period.label}, followed to their outcome",
                   [Column("stage", "Stage"), Column("cases", "Cases", True),
                    Column("of_previous", "% of the stage before", True), Column("of_flagged", "% of flagged", True)])
    previous = None
    flagged = f.counts["flagged"]
    for key, label in STAGES:
        count = f.counts[key]
        stages.add({"stage": label, "cases": count,
                    "of_previous": percent(count, previous) if previous is not None else None,
                    "of_flagged": percent(count, flagged)})
        previous = count
    stages.note = (f"Of these: {f.outcomes['verified']:,} verified, {f.outcomes['not_verified']:,} not verified, "
                   f"{f.outcomes['withdrawn']:,} withdrawn; {f.outcomes['frozen']:,} frozen now or before.")
    times = Table("times", "How long it took (hours)",
                  [Column("measure", "From the notice to"), Column("p50", "Median (p50)", True),
                   Column("p90", "p90", True)])
    times.add({"measure": "the first booking", "p50": hours(f.notice_to_booking[0]),
               "p90": hours(f.notice_to_booking[1])})
    times.add({"measure": "the decision (verified or not verified)", "p50": hours(f.notice_to_decision[0]),
               "p90": hours(f.notice_to_decision[1])})
    extensions = Table("extensions", "Deadlines extended, and why",
                       [Column("why", "Why"), Column("cases", "Cases", True),
                        Column("share", "% of flagged", True)])
    extensions.add({"why": "Any extension", "cases": f.extended_cases, "share": percent(f.extended_cases, flagged)})
    for key, label in EXTENSION_REASONS.items():
        if f.extensions.get(key):
            extensions.add({"why": label, "cases": f.extensions[key], "share": percent(f.extensions[key], flagged)})
    extensions.note = "A case extended for two reasons counts under each."
    return [stages, times, extensions]


def funnel_chart(f: Funnel) -> dict:
    return {"type": "bar", "indexAxis": "y", "labels": [label for _, label in STAGES],
            "datasets": [{"label": "Cases", "data": [f.counts[key] for key, _ in STAGES]}]}


# --- Capacity ----------------------------------------------------------------------------------------

def capacity_tables(fc: Forecast) -> list[Table]:
    columns = [Column("day", f"Day ({fc.zone_name})"), Column("supply", "Free slots", True),
               Column("demand", "Expected calls", True), Column("short", "Short by (calls)", True),
               Column("hours", "Representative-hours to close it", True), Column("flag", "Enough?")]
    total = Table("forecast", "All calls: free slots against expected calls, per day", columns)
    phone = Table("forecast_phone", "Phone route: free slots of representatives who take phone calls", columns)
    language = Table("forecast_languages", "Per language: free slots of representatives who speak it",
                     [Column("day", f"Day ({fc.zone_name})"), Column("language", "Language"), *columns[1:]])
    def values(line) -> dict:
        return {"supply": line.supply, "demand": round(line.demand, 1), "short": round(line.short, 1),
                "hours": line.rep_hours, "flag": "Short" if line.flagged else "Enough"}

    for day in fc.days:
        label = day.day.strftime("%a %d %b")
        total.add({"day": label, **values(day.total)}, flagged=day.total.flagged)
        phone.add({"day": label, **values(day.phone)}, flagged=day.phone.flagged)
        for code in fc.languages:
            line = day.languages[code]
            language.add({"day": label, "language": code, **values(line)}, flagged=line.flagged)
    return [total, language, phone]


def capacity_chart(fc: Forecast) -> dict:
    return {"type": "bar", "labels": [d.day.strftime("%a %d %b") for d in fc.days],
            "datasets": [{"label": "Free slots", "data": [d.total.supply for d in fc.days]},
                         {"label": "Expected calls", "data": [round(d.total.demand, 1) for d in fc.days]}]}


# --- Representatives -----------------------------------------------------------------------------

def _minutes(delta: timedelta | None) -> str | None:
    if delta is None:
        return None
    seconds = round(delta.total_seconds())
    return f"{seconds // 60}:{seconds % 60:02d}"


def representatives_table(fz: Fairness) -> Table:
    table = Table("representatives", f"Representatives in {fz.period.label}", [
        Column("name", "Representative"), Column("held", "Calls held", True),
        Column("their_no_show", "Freelancer no-shows", True), Column("our_no_show", "Our no-shows", True),
        *[Column(o.lower(), o.value, True) for o in OUTCOME_COLUMNS],
        Column("not_verified", "NOT_VERIFIED after review", True),
        Column("rate", "Escalated or not verified (%)", True), Column("rest", "Rest of the team (%)", True),
        Column("p", "p", True, ".2g"), Column("q", "Adjusted p (BH)", True, ".2g"),
        Column("flag", "Differs beyond chance?"),
        Column("median", f"Median call (m:ss, aim {fz.call_minutes}:00)"),
    ])
    for row in fz.rows:
        test = row.test
        if test.flagged:
            flag = f"Yes, {test.direction}"
        elif test.tested:
            flag = "No"
        else:
            flag = f"Not tested (< {fz.min_calls} calls)"
        table.add({
            "name": row.representative.display_name, "held": row.held, "their_no_show": row.freelancer_no_shows,
            "our_no_show": row.rep_no_shows, **{o.lower(): row.outcomes[o] for o in OUTCOME_COLUMNS},
            "not_verified": row.not_verified, "rate": percent(test.adverse, test.calls),
            "rest": percent(test.rest_adverse, test.rest_calls),
            "p": test.p_value, "q": test.q_value,
            "flag": flag, "median": _minutes(row.median_call),
        }, flagged=test.flagged)
    return table


CHART_REPRESENTATIVES = 25


def representatives_chart(fz: Fairness) -> dict:
    """Outcome rates (% of calls held) of the representatives with the most calls held."""
    shown = sorted((r for r in fz.rows if r.held), key=lambda r: (-r.held, r.representative.display_name))
    shown = shown[:CHART_REPRESENTATIVES]
    return {"type": "bar", "indexAxis": "y", "stacked": True, "max": 100,
            "labels": [r.representative.display_name for r in shown],
            "datasets": [{"label": Outcome(o).value, "data": [percent(r.outcomes[o], r.held) for r in shown]}
                         for o in OUTCOME_COLUMNS]}
