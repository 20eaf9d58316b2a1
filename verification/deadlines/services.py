"""Every write about the deadline: the grace period starting when the notice was sent, extensions
(guard, our fault, technical retry, self-service, admin), the sweep that freezes or extends, and
the admin's unfreeze."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import translation
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from notifications.selectors import messages_sent_at, webhook_endpoints_active
from notifications.services import outbox_enqueue_many, outbox_skip_pending
from scheduling.errors import message
from scheduling.screening import text_screen
from scheduling.services.slots import slots_past_prune
from verification import messages, transitions
from verification.deadlines.guards import freeze_guard_failures_many
from verification.deadlines.rules import WARNING_KIND, deadline_after_notice, notice_key
from verification.deadlines.warnings import deadline_warnings, deadline_warnings_plan
from verification.errors import CaseBusy, ExtensionNotAllowed, IllegalTransition
from verification.languages import case_language
from verification.models import (
    OPEN_STATUSES,
    Case,
    CaseRequest,
    CaseStatus,
    RequestKind,
    RequestStatus,
    TaskHeartbeat,
)
from verification.selectors import case_extension_refusal, iso
from verification.services.audit import audit_event, audit_record, audit_record_many
from verification.services.cases import case_lock, case_save, case_transition
from verification.services.heartbeats import heartbeat_record


@transaction.atomic
def case_notice_sent(*, case_id, sent_at: datetime, now: datetime) -> Case:
    """The notice left at `sent_at`: the grace period starts then (never at flag time), with the
    deadline the notice stated, and the warnings before it are planned. Idempotent."""
    case, now = case_lock(case_id, now=now)
    if case.notice_sent_at is not None or case.is_final:
        return case
    case.notice_sent_at = sent_at
    case.deadline_at = deadline_after_notice(sent_at=sent_at, policy=case.policy)
    case_save(case, fields=["notice_sent_at", "deadline_at"], now=now)
    audit_record(case=case, actor="system", action="notice_sent", now=now,
                 after={"notice_sent_at": iso(sent_at), "deadline_at": iso(case.deadline_at)})
    deadline_warnings_plan(case, now=now)
    return case


def cases_notice_sent_record(*, now: datetime, limit: int = 1000) -> int:
    """Start the grace period of every case whose notice the outbox has sent. The outbox reports
    what it sent through a selector (`notifications.selectors.messages_sent_at`); a beat task asks
    every few seconds, so a report is never lost: one not acted on yet is simply asked again.
    Returns how many grace periods started."""
    waiting = (Case.objects.filter(notice_sent_at__isnull=True, status__in=OPEN_STATUSES)
               .order_by("created_at").only("id")[:limit])
    keys = {notice_key(case): case.id for case in waiting}
    sent = messages_sent_at(keys)
    for key, sent_at in sent.items():
        case_notice_sent(case_id=keys[key], sent_at=sent_at, now=now)
    return len(sent)


def _in_english_and_theirs(case: Case, reason) -> tuple[str, str]:
    """A reason of ours (lazy) as the audit and the marketplace keep it (English) and as the
    freelancer reads it (their language); a person's typed reason is the same in both."""
    with translation.override(settings.LANGUAGE_CODE):
        recorded = str(reason)
    with translation.override(case_language(case)):
        told = str(reason)
    return recorded, told


def case_deadline_extend(*, case: Case, hours: int, actor: str, reason: str, now: datetime, guard: str = "") -> Case:
    """Move the deadline later (from the later of the deadline and now), audit, tell the freelancer
    and the marketplace, and re-plan the warnings. `case` is locked by the caller (`case_lock`).

    A `reason` of ours is translatable (lazy): the audit and the marketplace get it in English, the
    freelancer's email in their language; a person's typed reason is kept as typed."""
    recorded, told = _in_english_and_theirs(case, reason)
    before = case.deadline_at
    case.deadline_at = max(case.deadline_at or now, now) + timedelta(hours=hours)
    case_save(case, fields=["deadline_at"], now=now)
    audit_record(case=case, actor=actor, action="deadline_extended", now=now, reason=recorded,
                 before={"deadline_at": iso(before)},
                 after={"deadline_at": iso(case.deadline_at), **({"guard": guard} if guard else {})})
    messages.case_email_for_change(case, kind="deadline_extended", now=now, context={"reason": told})
    deadline_warnings_plan(case, now=now)
    messages.marketplace_event_publish(case, event="case.deadline_extended", now=now, data={"reason": recorded})
    return case


_DECIDED_FIELDS = ["status", "frozen_at", "deadline_at", "updated_at", "version"]
_DECIDED_SAVE_SQL = """
UPDATE verification_case AS c
SET status = v.status, frozen_at = v.frozen_at, deadline_at = v.deadline_at, updated_at = v.updated_at,
    version = v.version
FROM unnest(%s::uuid[], %s::varchar[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[], %s::bigint[])
     AS v(id, status, frozen_at, deadline_at, updated_at, version)
WHERE c.id = v.id
"""


def _cases_decided_save(cases: list[Case]) -> None:
    """Write the decided cases' fields in one statement (the ORM's `bulk_update` builds a CASE per
    field and case: most of a batch's time)."""
    if connection.vendor != "postgresql":
        Case.objects.bulk_update(cases, _DECIDED_FIELDS)
        return
    with connection.cursor() as cursor:
        cursor.execute(_DECIDED_SAVE_SQL, [[case.id for case in cases], *([getattr(case, field) for case in cases]
                                                                          for field in _DECIDED_FIELDS)])


def _cases_decide(cases: list[Case], *, now: datetime) -> dict[str, int]:
    """Decide these locked cases at their deadline: freeze those whose every guard holds, extend
    the others (the audit records which guard failed), in the caller's transaction, so each case's
    decision (its row, audit, emails, warnings, webhooks) commits whole or not at all. Each case is
    decided at `max(now, its last change)` (`case_lock`). One statement per kind of row for all
    the cases: the guards' reads, the cases' update, the audit rows, the messages made obsolete,
    the new messages."""
    outcomes: dict[str, int] = {}
    due: list[tuple[Case, datetime]] = []
    for case in cases:
        at = max(now, case.updated_at)
        if case.status != CaseStatus.OPEN or case.deadline_at is None or case.deadline_at > at:
            outcomes["skipped"] = outcomes.get("skipped", 0) + 1
        else:
            due.append((case, at))
    if not due:
        return outcomes
    if not transitions.is_allowed(CaseStatus.OPEN, CaseStatus.FROZEN):
        raise IllegalTransition("An open case cannot become frozen.")
    failures = freeze_guard_failures_many([case for case, _ in due])
    endpoints = webhook_endpoints_active()
    events, outgoing, frozen, extended = [], [], [], []
    for case, at in due:
        failed = failures[case.id]
        case.updated_at, case.version = at, case.version + 1  # as `case_save`: the revision of this change
        if failed:
            before = case.deadline_at
            case.deadline_at = max(before, at) + timedelta(hours=case.policy.guard_extension_hours)
            why = lazy(lambda failed=failed: "; ".join(str(f.why) for f in failed), str)()
            recorded, told = _in_english_and_theirs(case, message(_("Not frozen: %(why)s."), why=why))
            events.append(audit_event(case=case, actor="system", action="deadline_extended", now=at, reason=recorded,
                                      before={"deadline_at": iso(before)},
                                      after={"deadline_at": iso(case.deadline_at),
                                             "guard": ",".join(f.guard for f in failed)}))
            context = messages.case_context(case)  # once: three messages carry it
            outgoing += [messages.email_for_change(case, kind="deadline_extended", now=at, context={"reason": told},
                                                   base=context),
                         *deadline_warnings(case, now=at, context=context),
                         *messages.marketplace_event(case, event="case.deadline_extended", now=at,
                                                     endpoints=endpoints, data={"reason": recorded})]
            extended.append(case.id)
        else:
            case.status, case.frozen_at = CaseStatus.FROZEN, at
            events.append(audit_event(case=case, actor="system", action="frozen", now=at,
                                      reason="The deadline passed with every freeze guard holding.",
                                      from_status=CaseStatus.OPEN, to_status=CaseStatus.FROZEN,
                                      before={"status": CaseStatus.OPEN}, after={"status": CaseStatus.FROZEN}))
            outgoing += [messages.email_for_change(case, kind="frozen", now=at),
                         *messages.marketplace_event(case, event="case.frozen", now=at, endpoints=endpoints)]
            frozen.append(case.id)
    _cases_decided_save([case for case, _ in due])
    audit_record_many(events)
    # what the decisions made obsolete, before the new messages are written: nothing still waiting
    # about a frozen case, and the warnings for an extended case's old deadline
    outbox_skip_pending(case_refs=frozen, reason=f"the case is {CaseStatus.FROZEN.lower()}", now=now)
    outbox_skip_pending(case_refs=extended, kinds=[WARNING_KIND], reason="the deadline changed", now=now)
    outbox_enqueue_many(messages=outgoing, now=now)
    for outcome, decided in (("frozen", frozen), ("extended", extended)):
        if decided:
            outcomes[outcome] = len(decided)
    return outcomes


@transaction.atomic
def case_deadline_check(*, case_id, now: datetime, skip_locked: bool = False) -> str:
    """At the deadline: freeze if every guard holds, otherwise extend and record which guard failed.
    `skip_locked`: a case another transaction holds is left for the next sweep ("busy")."""
    try:
        case, _locked_at = case_lock(case_id, now=now, skip_locked=skip_locked)
    except CaseBusy:
        return "busy"
    (outcome,) = _cases_decide([case], now=now)
    return outcome


@transaction.atomic
def cases_deadline_decide(*, case_ids: list, now: datetime) -> dict[str, int]:
    """Decide a batch of due cases in one transaction (see `_cases_decide`). A case another
    transaction holds (a booking, a second sweep) is not waited for: it is left for the next sweep
    ("busy"). A booking on a case of the batch waits for this transaction, never longer."""
    locked = list(Case.objects.select_for_update(skip_locked=True, of=("self",)).select_related("freelancer")
                  .filter(pk__in=case_ids).order_by("pk"))
    outcomes = _cases_decide(locked, now=now)
    if busy := len(set(case_ids)) - len(locked):
        outcomes["busy"] = busy
    return outcomes


def cases_deadline_sweep(*, now: datetime, batch_size: int = 100) -> dict[str, int]:
    """Every open case past its deadline: O(cases due), read in batches by the deadline index
    without locking them. Each batch is then decided in its own transaction that locks only its
    cases (skipping any another transaction holds: "busy", back at the next sweep if still due),
    with one statement per kind of row for the whole batch. When it finished is recorded
    (`TaskHeartbeat`)."""
    outcomes: dict[str, int] = {}
    all_due = Case.objects.filter(status=CaseStatus.OPEN, deadline_at__lte=now).order_by("deadline_at", "pk")
    due, batch = all_due, []
    while True:
        if batch:  # the next batch starts after the last case of this one: each due case is read once
            last_id, last_deadline = batch[-1]
            due = all_due.filter(deadline_at__gte=last_deadline).exclude(deadline_at=last_deadline, pk__lte=last_id)
        batch = list(due.values_list("pk", "deadline_at")[:batch_size])
        if batch:
            for outcome, count in cases_deadline_decide(case_ids=[pk for pk, _ in batch], now=now).items():
                outcomes[outcome] = outcomes.get(outcome, 0) + count
        if len(batch) < batch_size:
            heartbeat_record(name=TaskHeartbeat.DEADLINE_SWEEP, now=now)
            return outcomes


@transaction.atomic
def case_extension_request(*, case_id, actor: str, now: datetime) -> Case:
    """The freelancer's one self-service extension, granted at once per the policy."""
    case, now = case_lock(case_id, now=now)
    refusal = case_extension_refusal(case, now=now)
    if refusal:
        raise ExtensionNotAllowed(refusal)
    days = case.policy.self_extension_days
    CaseRequest.objects.create(case=case, kind=RequestKind.EXTENSION, status=RequestStatus.GRANTED,
                               created_by=actor, created_at=now, resolved_by="system", resolved_at=now,
                               resolution=f"Granted automatically: {days} days.")
    return case_deadline_extend(case=case, hours=24 * days, actor=actor, now=now,
                                reason=message(_("Self-service extension of %(days)s days."), days=days))


@transaction.atomic
def case_extend(*, case_id, actor: str, reason: str, now: datetime, hours: int | None = None) -> Case:
    """Admin: extend by `hours`, or by the policy's guard extension."""
    text_screen(reason, field="reason")
    case, now = case_lock(case_id, now=now)
    if case.is_final:
        raise ExtensionNotAllowed(_("This case has ended."))
    return case_deadline_extend(case=case, hours=hours or case.policy.guard_extension_hours, actor=actor, reason=reason,
                                now=now)


@transaction.atomic
def case_unfreeze(*, case_id, actor: str, reason: str, now: datetime) -> Case:
    """Admin: lift a freeze; the new deadline gives the freelancer the policy's extension."""
    text_screen(reason, field="reason")
    case, now = case_lock(case_id, now=now)
    case_transition(case=case, to_status=CaseStatus.OPEN, actor=actor, action="unfrozen", reason=reason, now=now)
    case.frozen_at = None
    case_save(case, fields=["frozen_at"], now=now)
    case_deadline_extend(case=case, hours=case.policy.guard_extension_hours, actor=actor, reason=reason, now=now)
    messages.marketplace_event_publish(case, event="case.unfrozen", now=now, data={"reason": reason})
    return case


# a case in these statuses may still reach a deadline check, whose guard 5 counts the slots offered
# since its notice (a FROZEN case does only after an unfreeze; then guard 5 can only extend)
_MAY_BE_DECIDED = (CaseStatus.OPEN, CaseStatus.SCHEDULED, CaseStatus.IN_REVIEW)


def past_slots_prune(*, now: datetime) -> int:
    """Periodic: delete the past slots no case can count any more (free ones, and taken ones whose
    booking is over). Guard 5 counts the slots that existed between a case's notice (plus the
    minimum booking notice) and its deadline, so past slots are kept from the earliest notice of a
    case that may still be decided, and never longer than PAST_SLOTS_KEEP_MAX_DAYS (a case open
    longer than that can only count fewer, which extends its deadline, never freezes it). Returns
    how many slots were deleted."""
    earliest = Case.objects.filter(status__in=_MAY_BE_DECIDED, notice_sent_at__isnull=False).aggregate(
        at=Min("notice_sent_at"))["at"]
    keep_from = now if earliest is None else earliest + timedelta(minutes=settings.BOOKING_MIN_NOTICE_MINUTES)
    keep_from = max(keep_from, now - timedelta(days=settings.PAST_SLOTS_KEEP_MAX_DAYS))
    return slots_past_prune(before=keep_from, now=now)
