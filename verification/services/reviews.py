"""Second review: escalations, too many missed calls and appeals are decided by a reviewer who
was never on the case's calls."""

from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from scheduling.errors import message
from scheduling.screening import text_screen
from verification import messages
from verification.access import REVIEWERS_GROUP, acts_for, is_admin
from verification.errors import DeciderNotIndependent, RequestNotAllowed, ReviewNotAllowed
from verification.models import (
    CallRecord,
    Case,
    CaseRequest,
    CaseStatus,
    NotVerifiedReason,
    Outcome,
    RequestKind,
    RequestStatus,
    Review,
    ReviewKind,
)
from verification.services.audit import audit_record
from verification.services.cases import case_lock, case_transition, case_verify


def _on_calls(case_id) -> set[int]:
    """Everyone who was on, or ran, a call of the case: the booked representative, whoever started
    the call and whoever recorded its outcome (an admin may do either for a representative)."""
    ids: set[int] = set()
    for row in CallRecord.objects.filter(case_id=case_id).values_list("representative_user_id", "started_by_id",
                                                                       "outcome_by_id"):
        ids.update(i for i in row if i is not None)
    return ids


def _earlier_deciders(case_id, *, before: Review | None = None) -> set[int]:
    """Who decided an earlier review of the case (the decider, else the assignee of an old row)."""
    earlier = Review.objects.filter(case_id=case_id, decided_at__isnull=False)
    if before is not None:
        earlier = earlier.exclude(pk=before.pk)
    ids: set[int] = set()
    for row in earlier.values_list("decided_by_id", "assigned_to_id"):
        ids.update(i for i in row if i is not None)
    return ids


def review_excluded_user_ids(review: Review) -> set[int]:
    """The one rule of who may never decide this review: anyone on or running a call of the case,
    and, for an appeal, anyone who decided an earlier review of it. Assignment and decision both ask."""
    excluded = _on_calls(review.case_id)
    if review.kind == ReviewKind.APPEAL:
        excluded |= _earlier_deciders(review.case_id, before=review)
    return excluded


def _reviewer_assign(*, case: Case, exclude_user_ids: set[int]) -> User | None:
    """The reviewer with the fewest open reviews who was never on this case's calls."""
    return (
        User.objects.filter(groups__name=REVIEWERS_GROUP, is_active=True)
        .exclude(pk__in=_on_calls(case.pk) | exclude_user_ids)
        .annotate(open_reviews=Count("reviews", filter=Q(reviews__decided_at__isnull=True)))
        .order_by("open_reviews", "pk")
        .first()
    )


def review_open(*, case: Case, kind: str, call: CallRecord | None, now: datetime,
                exclude_user_ids: frozenset[int] = frozenset()) -> Review:
    """A review of a case the caller has locked, assigned to the least-loaded eligible reviewer."""
    return Review.objects.create(case=case, call=call, kind=kind, created_at=now,
                                 assigned_to=_reviewer_assign(case=case, exclude_user_ids=set(exclude_user_ids)))


@transaction.atomic
def case_appeal(*, case_id, statement: str, actor: str, now: datetime) -> Review:
    """After NOT_VERIFIED: the freelancer appeals; a reviewer not involved before decides."""
    case, now = case_lock(case_id, now=now)
    if case.status != CaseStatus.NOT_VERIFIED:
        raise RequestNotAllowed(_("Only a case that was not verified can be appealed."))
    previous = frozenset(_earlier_deciders(case.pk) | set(
        Review.objects.filter(case=case).exclude(assigned_to=None).values_list("assigned_to", flat=True)))
    CaseRequest.objects.create(case=case, kind=RequestKind.APPEAL, note=statement, created_by=actor, created_at=now)
    case_transition(case=case, to_status=CaseStatus.IN_REVIEW, actor=actor, action="appealed", reason=statement,
                    now=now)
    return review_open(case=case, kind=ReviewKind.APPEAL, call=None, now=now, exclude_user_ids=previous)


def review_decide(*, review_id: int, user: User, decision: str, now: datetime, reason_code: str = "",
                  statement: str = "") -> Review:
    """A reviewer decides. Never someone who was on or ran one of the case's calls, never (on an
    appeal) someone who decided the case before, whatever their role; only the assignee or an admin.
    A refusal for separation of duties is itself recorded: an audit row names the attempt. The
    statement is screened for protected characteristics before anything is written."""
    text_screen(statement, field="statement")
    try:
        return _review_decide(review_id=review_id, user=user, decision=decision, now=now,
                              reason_code=reason_code, statement=statement)
    except DeciderNotIndependent as refused:
        _refusal_record(review_id=review_id, user=user, decision=decision, refused=refused, now=now)
        raise


@transaction.atomic
def _refusal_record(*, review_id: int, user: User, decision: str, refused: DeciderNotIndependent,
                    now: datetime) -> None:
    review = Review.objects.get(pk=review_id)
    audit_record(case=review.case, actor=f"user:{user.get_username()}", action="review_decision_refused", now=now,
                 reason=refused.detail, after={"review_id": review.pk, "review_kind": review.kind,
                                               "attempted_decision": decision, "rule": refused.rule})


@transaction.atomic
def _review_decide(*, review_id: int, user: User, decision: str, now: datetime, reason_code: str,
                   statement: str) -> Review:
    review = Review.objects.select_for_update().select_related("case").get(pk=review_id)
    if review.decided_at:
        raise ReviewNotAllowed(_("This review is already decided."))
    if user.pk in _on_calls(review.case_id):
        raise DeciderNotIndependent(_("You were on or ran a call for this case; another reviewer must decide."),
                                    rule="ran_a_call")
    if review.kind == ReviewKind.APPEAL and user.pk in _earlier_deciders(review.case_id, before=review):
        raise DeciderNotIndependent(_("You decided this case before; an appeal must be decided by someone else."),
                                    rule="earlier_decider")
    if not acts_for(user, review.assigned_to_id):
        raise ReviewNotAllowed(_("This review is assigned to someone else."))
    case, now = case_lock(review.case_id, now=now)
    actor = f"user:{user.get_username()}"
    if decision == Outcome.VERIFIED:
        review.decision = decision
        case_verify(case=case, actor=actor, reason=statement or "Verified on review.", now=now)
    elif decision == Outcome.NOT_VERIFIED:
        if reason_code not in NotVerifiedReason.values or not statement.strip():
            raise ReviewNotAllowed(_("Give a reason code and a statement of reasons the freelancer will see."))
        review.decision, review.reason_code, review.statement = decision, reason_code, statement
        case_transition(case=case, to_status=CaseStatus.NOT_VERIFIED, actor=actor, action="not_verified",
                        reason=statement, now=now, after={"reason_code": reason_code})
        messages.closing_email_enqueue(case, kind="not_verified", now=now, context={"statement": statement})
        messages.marketplace_event_publish(case, event="case.not_verified", now=now,
                                           data={"reason_code": reason_code})
    else:
        raise ReviewNotAllowed(_("Decide VERIFIED or NOT_VERIFIED."))
    review.decided_at, review.decided_by = now, user
    review.save(update_fields=["decision", "reason_code", "statement", "decided_at", "decided_by"])
    CaseRequest.objects.filter(case_id=review.case_id, kind=RequestKind.APPEAL, status=RequestStatus.PENDING).update(
        status=RequestStatus.RESOLVED, resolved_by=actor, resolved_at=now, resolution=review.decision)
    return review


@transaction.atomic
def review_assign(*, review_id: int, user: User, assignee_id: int, now: datetime) -> Review:
    """An admin assigns an open review to another person (an appeal with a single reviewer stays
    unassigned until then). Never to someone the separation-of-duties rule excludes."""
    if not is_admin(user):
        raise ReviewNotAllowed(_("Only an admin can assign a review."))
    review = Review.objects.select_for_update().select_related("case").get(pk=review_id)
    if review.decided_at:
        raise ReviewNotAllowed(_("This review is already decided."))
    assignee = User.objects.filter(pk=assignee_id, is_active=True, is_staff=True).first()
    if assignee is None:
        raise ReviewNotAllowed(_("Pick an active staff member from the list."))
    if assignee.pk in review_excluded_user_ids(review):
        raise DeciderNotIndependent(message(_("%(name)s was on a call of this case or decided it before; pick "
                                              "someone else."), name=assignee.get_username()),
                                    rule="assignee_not_independent")
    before = review.assigned_to.get_username() if review.assigned_to else ""
    review.assigned_to = assignee
    review.save(update_fields=["assigned_to"])
    audit_record(case=review.case, actor=f"user:{user.get_username()}", action="review_assigned", now=now,
                 before={"assigned_to": before}, after={"assigned_to": assignee.get_username(),
                                                        "review_id": review.pk})
    return review
