"""A case's life: opened by the marketplace, locked by every write, moved only through the
transition table, closed (withdrawn, verified), its link revoked."""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext_lazy as _

from scheduling.errors import message
from scheduling.screening import text_screen
from scheduling.selectors import booking_active_for
from scheduling.services import bookings as scheduling_bookings
from verification import links, messages, transitions
from verification.claims import claims_checked
from verification.deadlines.rules import grace_period
from verification.errors import CaseAlreadyOpen, CaseBusy, CaseNotFound, IllegalTransition
from verification.models import FINAL_STATUSES, Case, CaseStatus, Freelancer, new_link_nonce
from verification.selectors import case_summary, policy_for
from verification.services.audit import audit_record
from verification.services.earlier import earlier_time_offer
from verification.transactions import atomic


def case_lock(case_id, *, now: datetime, skip_locked: bool = False) -> tuple[Case, datetime]:
    """The case, locked until the caller's transaction ends (every write to a case starts here),
    and the time to decide with: `now`, or the case's last change if that is later.

    A request takes its `now` when it starts; if it then waited for the lock behind another change
    (the deadline sweep freezing the case, say), it is decided after that change, never before it,
    so the audit of a case reads in the order its changes were committed. `skip_locked`: raise
    `CaseBusy` at once if another transaction holds the case (the sweep comes back to it)."""
    try:
        case = (Case.objects.select_for_update(skip_locked=skip_locked, of=("self",)).select_related("freelancer")
                .get(pk=case_id))
    except Case.DoesNotExist:
        if skip_locked and Case.objects.filter(pk=case_id).exists():
            raise CaseBusy() from None
        raise CaseNotFound() from None
    return case, max(now, case.updated_at)


def case_save(case: Case, *, fields: list[str], now: datetime) -> None:
    """Write `fields` of a case the caller has locked (`case_lock`), with `now` the decision time
    it returned. Every write also sets `updated_at` (a later decision never precedes it) and moves
    `version` up by one (the revision that keys the messages and webhooks about this change); the
    row is locked, so the count is the caller's to make."""
    case.updated_at = now
    case.version += 1
    case.save(update_fields=[*fields, "updated_at", "version"])


def case_transition(
    *, case: Case, to_status: str, actor: str, action: str, reason: str, now: datetime,
    after: dict[str, Any] | None = None,
) -> Case:
    """The one place a case's status changes: check the table, save, audit. `case` is locked by
    the caller (`case_lock`), inside the caller's transaction."""
    if not transitions.is_allowed(case.status, to_status):
        raise IllegalTransition(
            message(_("A case that is %(status)s cannot become %(to_status)s."),
                    status=case.get_status_display().lower(), to_status=CaseStatus(to_status).label.lower()),
            extra={"case": case_summary(case)},
        )
    from_status = case.status
    case.status = to_status
    fields = ["status"]
    if case.is_final:
        case.closed_at = now
        fields.append("closed_at")
    case_save(case, fields=fields, now=now)
    audit_record(case=case, actor=actor, action=action, now=now, reason=reason, from_status=from_status,
                 to_status=to_status, before={"status": from_status}, after={"status": to_status, **(after or {})})
    return case


def _freelancer_locked(*, external_id: str, contact: dict[str, str], now: datetime) -> tuple[Freelancer, bool]:
    """The freelancer with this external id, locked, and whether it was created now: what
    `select_for_update().get_or_create()` does, in one statement for a new freelancer (nearly
    every flag): `INSERT ... ON CONFLICT DO NOTHING` first, in place of a look-up and a savepoint;
    an existing one (the insert does nothing) is then read and locked. A concurrent insert of the
    same id makes ours wait and then do nothing; the row it committed is then read and locked."""
    values = {"external_id": external_id, **contact, "created_at": now, "updated_at": now}
    table = connection.ops.quote_name(Freelancer._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(column) for column in values)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(values))})"  # noqa: S608
            " ON CONFLICT (external_id) DO NOTHING RETURNING id",
            [Freelancer._meta.get_field(name).get_db_prep_save(value, connection) for name, value in values.items()],
        )
        row = cursor.fetchone()
    if row is None:  # known already (or created by a concurrent request first)
        return Freelancer.objects.select_for_update().get(external_id=external_id), False
    freelancer = Freelancer(id=row[0], **values)
    freelancer._state.adding, freelancer._state.db = False, connection.alias
    return freelancer, True


@atomic  # no savepoint inside the Idempotency-Key's transaction
def case_flag(
    *, external_id: str, email: str, name: str, timezone: str, language: str, reason_code: str, public_reason: str,
    profile_claims: list[dict[str, str]], standing: dict[str, Any], actor: str, now: datetime,
) -> Case:
    """Open a case for a freelancer, creating or refreshing the freelancer's contact details, and
    queue the notice. The deadline is set when the notice has actually been sent
    (`verification.deadlines.services.case_notice_sent`). Profile claims outside the allow-list
    are refused before anything is written (`verification.claims`)."""
    profile_claims = claims_checked(profile_claims)
    contact = {"email": email, "name": name, "timezone": timezone, "language": language}
    freelancer, created = _freelancer_locked(external_id=external_id, contact=contact, now=now)
    # a freelancer created just now has no case; an existing one is locked, so this check holds
    open_case = None if created else Case.objects.filter(freelancer=freelancer).exclude(
        status__in=FINAL_STATUSES).first()
    if open_case is not None:
        raise CaseAlreadyOpen(extra={"case": case_summary(open_case)})
    if not created and any(getattr(freelancer, k) != v for k, v in contact.items()):
        for field, value in contact.items():
            setattr(freelancer, field, value)
        freelancer.updated_at = now
        freelancer.save(update_fields=[*contact, "updated_at"])

    policy = policy_for(reason_code=reason_code)
    values = {
        "freelancer": freelancer, "reason_code": reason_code, "public_reason": public_reason,
        "profile_claims": profile_claims, "standing_snapshot": standing, "status": CaseStatus.OPEN,
        "policy_snapshot": policy.snapshot(), "created_by": actor, "created_at": now, "updated_at": now,
    }
    if created:
        # the freelancer's row exists only inside this transaction: no other one can give it a
        # case, so the one-open-case constraint cannot be raced and needs no savepoint
        case = Case.objects.create(**values)
    else:
        try:
            with transaction.atomic():
                case = Case.objects.create(**values)
        except IntegrityError:  # a concurrent flag won the one-open-case constraint
            open_case = Case.objects.filter(freelancer=freelancer).exclude(status__in=FINAL_STATUSES).first()
            raise CaseAlreadyOpen(extra={"case": case_summary(open_case)} if open_case else None) from None
    audit_record(case=case, actor=actor, action="flagged", now=now, reason=public_reason, to_status=CaseStatus.OPEN,
                 after={"reason_code": reason_code, "policy": case.policy_snapshot})
    messages.case_opened_enqueue(case, grace=grace_period(case.policy), now=now)
    return case


@transaction.atomic
def case_withdraw(*, case_id, actor: str, reason: str, now: datetime) -> Case:
    """The marketplace (or an admin) ends the case: a booked call is cancelled, nothing still
    waiting is sent, the freelancer is told."""
    text_screen(reason, field="reason")
    case, now = case_lock(case_id, now=now)
    case_transition(case=case, to_status=CaseStatus.WITHDRAWN, actor=actor, action="withdrawn", reason=reason, now=now)
    if booking_active_for(case_ref=case.id) is not None:
        booking = scheduling_bookings.booking_cancel(case_ref=case.id, reason="case_withdrawn", now=now)
        earlier_time_offer(starts_at=booking.starts_at, now=now, skip={case.id})
    messages.closing_email_enqueue(case, kind="withdrawn", now=now)
    messages.marketplace_event_publish(case, event="case.withdrawn", now=now, data={"reason": reason})
    return case


def case_verify(*, case: Case, actor: str, reason: str, now: datetime) -> Case:
    """VERIFIED: proposals come back at once (the freeze is lifted), the standing snapshot taken at
    flag time is restored (the marketplace is told with it), the freelancer is told. `case` is
    locked by the caller (a call's outcome, a review)."""
    case_transition(case=case, to_status=CaseStatus.VERIFIED, actor=actor, action="verified", reason=reason, now=now)
    case.frozen_at = None
    case.standing_restored_at = now
    case_save(case, fields=["frozen_at", "standing_restored_at"], now=now)
    audit_record(case=case, actor=actor, action="standing_restored", now=now,
                 after={"standing": case.standing_snapshot})
    messages.closing_email_enqueue(case, kind="verified", now=now)
    messages.marketplace_event_publish(case, event="case.verified", now=now, data={"standing": case.standing_snapshot})
    return case


@transaction.atomic
def case_link_revoke(*, case_id, actor: str, reason: str, now: datetime) -> Case:
    """Admin: every link issued so far stops working; a new one is mailed to the freelancer (and
    replaces the old one in every message still waiting to be sent)."""
    text_screen(reason, field="reason")
    case, now = case_lock(case_id, now=now)
    case.link_nonce = new_link_nonce()  # every earlier token stops matching
    case_save(case, fields=["link_nonce"], now=now)
    audit_record(case=case, actor=actor, action="link_revoked", now=now, reason=reason)
    messages.new_link_enqueue(case, now=now)
    return case


@transaction.atomic
def case_link_renew(*, token: str, now: datetime) -> Case:
    """The freelancer asked for a fresh link from the expired-link page: a new link is mailed to
    the address on record (never to one typed on the page), and earlier links stop working.
    Refused (`LinkInvalid`, `LinkExpired`) for a forged or revoked token, or a case that ended
    longer ago than the policy keeps its link. The caller rate-limits the requests."""
    case, now = case_lock(links.case_for_renewal(token, now=now).id, now=now)
    case.link_nonce = new_link_nonce()
    case_save(case, fields=["link_nonce"], now=now)
    audit_record(case=case, actor="freelancer", action="link_renewed", now=now)
    messages.new_link_enqueue(case, now=now)
    return case
