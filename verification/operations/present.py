"""Shape the panels into tables (HTML and CSV) and chart data. No queries here."""

from datetime import datetime, timedelta

from django.urls import reverse
from django.utils.translation import gettext as _

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
    status = Table("status", _("Running cases by status"),
                   [Column("status", _("Status")), Column("cases", _("Cases"), True)])
    for code, count in panel.by_status.items():
        status.add({"status": CaseStatus(code).label, "cases": count},
                   links={"status": f"{reverse('admin:verification_case_changelist')}?status__exact={code}"})

    counts = panel.due.counts
    due = Table("due", _("Deadline within 72 h and no call booked: %(day)s within 24 h, %(three_days)s within 72 h")
                % {"day": f"{counts[24]:,}", "three_days": f"{counts[72]:,}"},
                [Column("deadline", _("Deadline (%(zone)s)") % {"zone": period.zone_name}),
                 Column("left", _("Time left")), Column("freelancer", _("Freelancer")),
                 Column("zone", _("Their zone")), Column("language", _("Language")), Column("reason", _("Reason"))],
                empty=_("No case is due in the next 72 hours without a booked call."))
    for case in panel.due.cases:
        due.add({"deadline": when(case.deadline_at, period), "left": age(case.deadline_at - panel.now),
                 "freelancer": case.freelancer.external_id, "zone": case.freelancer.timezone,
                 "language": case.freelancer.language, "reason": case.get_reason_code_display()},
                flagged=case.deadline_at - panel.now < timedelta(hours=24),
                links={"freelancer": admin_case(case.pk)})
    if counts[72] > len(panel.due.cases):
        due.note = _("The %(listed)s soonest of %(all)s are listed; the admin lists them all.") % {
            "listed": len(panel.due.cases), "all": f"{counts[72]:,}"}

    pending = Table("pending", _("Waiting for staff, against the policy's review target"),
                    [Column("kind", _("What")), Column("pending", _("Pending"), True),
                     Column("over", _("Older than the target"), True), Column("target", _("Target (days)")),
                     Column("oldest", _("Oldest waiting"))])
    for item in panel.pending:
        pending.add({"kind": item.label, "pending": item.count, "over": item.over_target,
                     "target": ", ".join(map(str, sorted(item.targets))) or None,
                     "oldest": age(panel.now - item.oldest_at) if item.oldest_at else None},
                    flagged=item.over_target > 0)

    box = panel.outbox
    outbox = Table("outbox", _("Outbox: messages to freelancers, representatives and the marketplace"),
                   [Column("measure", _("Measure")), Column("value", _("Value"), True)])
    for label, value, bad in [
        (_("Pending (not yet due or due now)"), box.pending, False),
        (_("Due now"), box.due, False),
        (_("Overdue by more than one sweep interval"), box.overdue, box.overdue > 0),
        (_("Outbox lag: seconds since the oldest due message was due"), round(box.lag_seconds(panel.now)),
         box.overdue > 0),
        (_("Failed after every retry"), box.failed, box.failed > 0),
        (_("Claimed by a worker that stopped answering"), box.stuck_sending, box.stuck_sending > 0),
    ]:
        outbox.add({"measure": label, "value": value}, flagged=bad)
    outbox.note = _("Oldest due message: %(oldest)s. Last failure: %(failure)s.") % {
        "oldest": when(box.oldest_due_at, period) or _("none"),
        "failure": when(box.last_failed_at, period) or _("none")}
    kinds = Table("outbox_kinds", _("Failed and overdue messages by kind"),
                  [Column("kind", _("Kind")), Column("failed", _("Failed"), True),
                   Column("overdue", _("Overdue"), True),
                   Column("oldest", _("Oldest due (overdue)"))], empty=_("No failed or overdue message."))
    changelist = reverse("admin:notifications_outboxmessage_changelist")
    for row in box.by_kind:
        kinds.add({"kind": row["kind"], "failed": row["failed"], "overdue": row["overdue"],
                   "oldest": when(row["oldest"], period)}, flagged=True,
                  links={"kind": f"{changelist}?kind__exact={row['kind']}"})
    return [status, due, pending, outbox, kinds]


# --- Funnel ----------------------------------------------------------------------------------------

def funnel_tables(f: Funnel) -> list[Table]:
    stages = Table("funnel", _("Cases flagged in %(period)s, followed to their outcome") % {"period": f.period.label},
                   [Column("stage", _("Stage")), Column("cases", _("Cases"), True),
                    # xgettext:no-python-format
                    Column("of_previous", _("% of the stage before"), True),
                    # xgettext:no-python-format
                    Column("of_flagged", _("% of flagged"), True)])
    previous = None
    flagged = f.counts["flagged"]
    for key, label in STAGES:
        count = f.counts[key]
        stages.add({"stage": label, "cases": count,
                    "of_previous": percent(count, previous) if previous is not None else None,
                    "of_flagged": percent(count, flagged)})
        previous = count
    stages.note = _("Of these: %(verified)s verified, %(not_verified)s not verified, %(withdrawn)s withdrawn; "
                    "%(frozen)s frozen now or before.") % {key: f"{f.outcomes[key]:,}" for key in
                                                          ("verified", "not_verified", "withdrawn", "frozen")}
    times = Table("times", _("How long it took (hours)"),
                  [Column("measure", _("From the notice to")), Column("p50", _("Median (p50)"), True),
                   Column("p90", _("p90"), True)])
    times.add({"measure": _("the first booking"), "p50": hours(f.notice_to_booking[0]),
               "p90": hours(f.notice_to_booking[1])})
    times.add({"measure": _("the decision (verified or not verified)"), "p50": hours(f.notice_to_decision[0]),
               "p90": hours(f.notice_to_decision[1])})
    extensions = Table("extensions", _("Deadlines extended, and why"),
                       [Column("why", _("Why")), Column("cases", _("Cases"), True),
                        Column("share", _("% of flagged"), True)])
    extensions.add({"why": _("Any extension"), "cases": f.extended_cases, "share": percent(f.extended_cases, flagged)})
    for key, label in EXTENSION_REASONS.items():
        if f.extensions.get(key):
            extensions.add({"why": label, "cases": f.extensions[key], "share": percent(f.extensions[key], flagged)})
    extensions.note = _("A case extended for two reasons counts under each.")
    return [stages, times, extensions]


def funnel_chart(f: Funnel) -> dict:
    return {"type": "bar", "indexAxis": "y", "labels": [label for _, label in STAGES],
            "datasets": [{"label": _("Cases"), "data": [f.counts[key] for key, _ in STAGES]}]}


# --- Capacity ----------------------------------------------------------------------------------------

def capacity_tables(fc: Forecast) -> list[Table]:
    columns = [Column("day", _("Day (%(zone)s)") % {"zone": fc.zone_name}), Column("supply", _("Free slots"), True),
               Column("demand", _("Expected calls"), True), Column("short", _("Short by (calls)"), True),
               Column("hours", _("Representative-hours to close it"), True), Column("flag", _("Enough?"))]
    total = Table("forecast", _("All calls: free slots against expected calls, per day"), columns)
    phone = Table("forecast_phone", _("Phone route: free slots of representatives who take phone calls"), columns)
    language = Table("forecast_languages", _("Per language: free slots of representatives who speak it"),
                     [Column("day", _("Day (%(zone)s)") % {"zone": fc.zone_name}), Column("language", _("Language")),
                      *columns[1:]])
    def values(line) -> dict:
        return {"supply": line.supply, "demand": round(line.demand, 1), "short": round(line.short, 1),
                "hours": line.rep_hours, "flag": _("Short") if line.flagged else _("Enough")}

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
            "datasets": [{"label": _("Free slots"), "data": [d.total.supply for d in fc.days]},
                         {"label": _("Expected calls"), "data": [round(d.total.demand, 1) for d in fc.days]}]}


# --- Representatives -----------------------------------------------------------------------------

def _minutes(delta: timedelta | None) -> str | None:
    if delta is None:
        return None
    seconds = round(delta.total_seconds())
    return f"{seconds // 60}:{seconds % 60:02d}"


def representatives_table(fz: Fairness) -> Table:
    table = Table("representatives", _("Representatives in %(period)s") % {"period": fz.period.label}, [
        Column("name", _("Representative")), Column("held", _("Calls held"), True),
        Column("their_no_show", _("Freelancer no-shows"), True), Column("our_no_show", _("Our no-shows"), True),
        *[Column(o.lower(), o.value, True) for o in OUTCOME_COLUMNS],
        Column("not_verified", _("NOT_VERIFIED after review"), True),
        Column("rate", _("Escalated or not verified (%)"), True), Column("rest", _("Rest of the team (%)"), True),
        Column("p", _("p"), True, ".2g"), Column("q", _("Adjusted p (BH)"), True, ".2g"),
        Column("flag", _("Differs beyond chance?")),
        Column("median", _("Median call (m:ss, aim %(minutes)s:00)") % {"minutes": fz.call_minutes}),
    ])
    for row in fz.rows:
        test = row.test
        if test.flagged:
            flag = _("Yes, %(direction)s") % {"direction": test.direction}
        elif test.tested:
            flag = _("No")
        else:
            flag = _("Not tested (< %(calls)s calls)") % {"calls": fz.min_calls}
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
