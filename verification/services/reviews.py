"""Second review: escalations, too many missed calls and appeals are decided by a reviewer who
was never on the case's calls."""

from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from verification import messages
from verification.access import acts_for
from verification.errors import RequestNotAllowed, ReviewNotAllowed
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
from verification.services.cases import case_lock, case_transition, case_verify

REVIEWERS_GROUP = "Reviewers"


def _reviewer_assign(*, case: Case, exclude_user_ids: set[int]) -> User | None:
    """The reviewer with the fewest open reviews who was never on this case's calls."""
    on_calls = set(CallRecord.objects.filter(case=case).values_list("representative_user_id", flat=True))
    return (
        User.objects.filter(groups__name=REVIEWERS_GROUP, is_active=True)
        .exclude(pk__in=on_calls | exclude_user_ids)
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
    previous = frozenset(Review.objects.filter(case=case).exclude(assigned_to=None)
                         .values_list("assigned_to", flat=True))
    CaseRequest.objects.create(case=case, kind=RequestKind.APPEAL, note=statement, created_by=actor, created_at=now)
    case_transition(case=case, to_status=CaseStatus.IN_REVIEW, actor=actor, action="appealed", reason=statement,
                    now=now)
    return review_open(case=case, kind=ReviewKind.APPEAL, call=None, now=now, exclude_user_ids=previous)


@transaction.atomic
def review_decide(*, review_id: int, user: User, decision: str, now: datetime, reason_code: str = "",
                  statement: str = "") -> Review:
    """A reviewer decides. Never someone who was on the case's calls; only the assignee or an admin."""
    review = Review.objects.select_for_update().select_related("case").get(pk=review_id)
    if review.decided_at:
        raise ReviewNotAllowed(_("This review is already decided."))
    if CallRecord.objects.filter(case=review.case, representative_user=user).exists():
        raise ReviewNotAllowed(_("You were on a call for this case; another reviewer must decide."))
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
    review.decided_at = now
    review.save(update_fields=["decision", "reason_code", "statement", "decided_at"])
    CaseRequest.objects.filter(case_id=review.case_id, kind=RequestKind.APPEAL, status=RequestStatus.PENDING).update(
        status=RequestStatus.RESOLVED, resolved_by=actor, resolved_at=now, resolution=review.decision)
    return review
