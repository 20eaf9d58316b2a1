import secrets
import uuid
from dataclasses import fields as dataclass_fields
from functools import cached_property

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import APIKey

from scheduling.models import validate_timezone
from verification.policy import DEFAULT_POLICY, Policy


class ReasonCode(models.TextChoices):
    """Why a profile was flagged: the category the freelancer sees, never a vague 'random'."""

    PROFILE_DETAILS = "profile_details", _("Details on your profile need confirming")
    ACCOUNT_ACCESS = "account_access", _("Unusual sign-in activity on your account")
    PAYMENT_DETAILS = "payment_details", _("Your payment details changed")
    DUPLICATE_ACCOUNT = "duplicate_account", _("Your account may duplicate another account")
    LOCATION_MISMATCH = "location_mismatch", _("Your stated location differs from our records")
    PERIODIC_CHECK = "periodic_check", _("Routine periodic identity check")


class CaseStatus(models.TextChoices):
    OPEN = "OPEN", _("Waiting for you to book a call")
    SCHEDULED = "SCHEDULED", _("Call booked")
    IN_REVIEW = "IN_REVIEW", _("Being reviewed")
    VERIFIED = "VERIFIED", _("Verified")
    NOT_VERIFIED = "NOT_VERIFIED", _("Not verified")
    FROZEN = "FROZEN", _("Proposals paused until you verify")
    WITHDRAWN = "WITHDRAWN", _("Withdrawn")


class Freelancer(models.Model):
    external_id = models.CharField(max_length=100, unique=True)
    email = models.EmailField()
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    language = models.CharField(max_length=16, help_text="BCP 47 tag, e.g. en or pt-BR")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    erased_at = models.DateTimeField(
        null=True, blank=True, help_text="When the contact details were erased (retention or an erase request).")

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else self.name


def default_warning_offsets_hours() -> list[int]:
    return list(DEFAULT_POLICY.warning_offsets_hours)


def default_reminder_offsets_minutes() -> list[int]:
    return list(DEFAULT_POLICY.reminder_offsets_minutes)


class GracePolicy(models.Model):
    """How long a freelancer has and how they are warned, per reason code.

    The row with reason_code "default" applies to every reason without its own row. A case copies
    the values it started with (`Case.policy_snapshot`), so editing a policy never moves a running
    case's deadline. Field defaults come from `verification.policy.Policy`.
    """

    DEFAULT = "default"

    reason_code = models.CharField(
        max_length=40,
        unique=True,
        choices=[(DEFAULT, _("Default (any reason without its own policy)")), *ReasonCode.choices],
    )
    grace_days = models.PositiveSmallIntegerField(default=DEFAULT_POLICY.grace_days, validators=[MinValueValidator(1)])
    warning_offsets_hours = models.JSONField(
        default=default_warning_offsets_hours, help_text="Warnings before the deadline, in hours, e.g. [72, 24]."
    )
    max_reschedules = models.PositiveSmallIntegerField(default=DEFAULT_POLICY.max_reschedules)
    reschedule_cutoff_hours = models.PositiveSmallIntegerField(
        default=DEFAULT_POLICY.reschedule_cutoff_hours, help_text="No rescheduling this close to the call."
    )
    our_fault_extension_hours = models.PositiveSmallIntegerField(
        default=DEFAULT_POLICY.our_fault_extension_hours,
        help_text="Deadline extension when we cancel a call (no representative left at that time).",
    )
    min_warning_lead_hours = models.PositiveSmallIntegerField(
        default=DEFAULT_POLICY.min_warning_lead_hours,
        help_text="The last warning must have been sent at least this long before the deadline.",
    )
    min_bookable_times = models.PositiveSmallIntegerField(
        default=DEFAULT_POLICY.min_bookable_times,
        help_text="Distinct bookable times a freelancer must have been offered before the deadline.",
    )
    guard_extension_hours = models.PositiveSmallIntegerField(
        default=DEFAULT_POLICY.guard_extension_hours, help_text="Extension when a freeze guard fails at the deadline."
    )
    rep_no_show_extension_hours = models.PositiveSmallIntegerField(default=DEFAULT_POLICY.rep_no_show_extension_hours)
    technical_retry_extension_hours = models.PositiveSmallIntegerField(
        default=DEFAULT_POLICY.technical_retry_extension_hours)
    self_extension_days = models.PositiveSmallIntegerField(
        default=DEFAULT_POLICY.self_extension_days,
        help_text="One self-service extension, granted automatically; 0 turns it off.",
    )
    freelancer_no_show_limit = models.PositiveSmallIntegerField(default=DEFAULT_POLICY.freelancer_no_show_limit)
    freelancer_no_show_wait_minutes = models.PositiveSmallIntegerField(
        default=DEFAULT_POLICY.freelancer_no_show_wait_minutes,
        help_text="A no-show can be recorded only this long after the call's start.",
    )
    rep_no_show_margin_minutes = models.PositiveSmallIntegerField(
        default=DEFAULT_POLICY.rep_no_show_margin_minutes,
        help_text="A call not started by its end plus this is a representative no-show.",
    )
    review_days = models.PositiveSmallIntegerField(
        default=DEFAULT_POLICY.review_days,
        help_text="Reviewers aim to decide escalations and appeals within this many days.",
    )
    link_days_after_close = models.PositiveSmallIntegerField(
        default=DEFAULT_POLICY.link_days_after_close,
        help_text="The freelancer's link keeps working this long after the case ends.",
    )
    link_days = models.PositiveSmallIntegerField(
        default=DEFAULT_POLICY.link_days, validators=[MinValueValidator(1)],
        help_text="A freelancer link expires this many days after it was issued (every email carries a fresh one; "
                  "the expired-link page mails a new one on request).",
    )
    reminder_offsets_minutes = models.JSONField(
        default=default_reminder_offsets_minutes,
        help_text="Reminders before a booked call, in minutes, e.g. [1440, 60, 10].",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "grace policies"
        constraints = [
            models.CheckConstraint(condition=Q(grace_days__gte=1), name="grace_policy_grace_days_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_code_display()}: {self.grace_days} days"

    def clean(self) -> None:
        offsets = self.warning_offsets_hours
        if not isinstance(offsets, list) or not all(
            isinstance(h, int) and 0 < h < self.grace_days * 24 for h in offsets
        ):
            raise ValidationError(
                {"warning_offsets_hours": _("A list of whole hours, each inside the grace period.")}
            )
        if self.guard_extension_hours <= self.min_warning_lead_hours:
            raise ValidationError({"guard_extension_hours": _(
                "Must be longer than the minimum warning lead, or a warning could never come early enough.")})
        reminders = self.reminder_offsets_minutes
        if not isinstance(reminders, list) or not all(isinstance(m, int) and 0 < m <= 7 * 24 * 60 for m in reminders):
            raise ValidationError({"reminder_offsets_minutes": _("A list of whole minutes, each up to a week.")})

    def policy(self) -> Policy:
        """The values a case started now would keep."""
        values = {f.name: getattr(self, f.name) for f in dataclass_fields(Policy)}
        values["warning_offsets_hours"] = tuple(sorted(self.warning_offsets_hours, reverse=True))
        values["reminder_offsets_minutes"] = tuple(sorted(
            self.reminder_offsets_minutes or DEFAULT_POLICY.reminder_offsets_minutes, reverse=True))
        return Policy(**values)


FINAL_STATUSES = (CaseStatus.VERIFIED, CaseStatus.NOT_VERIFIED, CaseStatus.WITHDRAWN)
OPEN_STATUSES = tuple(status for status in CaseStatus if status not in FINAL_STATUSES)
BOOKABLE_STATUSES = (CaseStatus.OPEN, CaseStatus.FROZEN)  # a frozen freelancer can still book
CANCELLED_BY_FREELANCER = "cancelled_by_freelancer"  # a booking's cancel_reason: booking again changes the time


def new_link_nonce() -> str:
    return secrets.token_urlsafe(16)


_new_link_nonce = new_link_nonce  # referenced by migration 0001


class Case(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    freelancer = models.ForeignKey(Freelancer, on_delete=models.PROTECT, related_name="cases")
    reason_code = models.CharField(max_length=40, choices=ReasonCode.choices)
    public_reason = models.TextField()
    profile_claims = models.JSONField(default=list)
    standing_snapshot = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    policy_snapshot = models.JSONField(db_column="policy", help_text="The grace policy's values when the case started.")
    notice_sent_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reschedule_count = models.PositiveSmallIntegerField(
        default=0, help_text="Changes of the call's time: moves, and new bookings after cancelling one.")
    time_changed_at = models.DateTimeField(
        null=True, blank=True, help_text="The last change of the call's time (the cooldown counts from it).")
    freelancer_no_shows = models.PositiveSmallIntegerField(default=0)
    priority_until = models.DateTimeField(
        null=True, blank=True, help_text="After our no-show: may book without the usual notice until then."
    )
    frozen_at = models.DateTimeField(null=True, blank=True)
    standing_restored_at = models.DateTimeField(null=True, blank=True)
    link_nonce = models.CharField(max_length=32, default=new_link_nonce, editable=False)
    language_choice = models.CharField(
        max_length=16, blank=True, default="", db_default="",
        help_text="The language the freelancer picked on their pages (one of settings.LANGUAGES); it comes "
                  "before the marketplace's language. Empty: not chosen.")
    created_by = models.CharField(max_length=200, help_text="Who flagged: the marketplace key's name.")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(help_text="When the last change of the case was decided.")
    wants_earlier = models.BooleanField(
        default=False, db_default=False,
        help_text="The freelancer asked to be told when a time earlier than their booked call opens.",
    )
    anonymised_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When the case's personal data (free text, claims, standing, tokens) was erased.")
    version = models.PositiveBigIntegerField(
        default=1, db_default=1, editable=False,
        help_text="Goes up by one with every change of the case; messages and webhooks about a change are keyed "
                  "by it, so two changes never share a key.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["freelancer"],
                condition=~Q(status__in=FINAL_STATUSES),
                name="case_one_open_per_freelancer",
            ),
            models.CheckConstraint(
                condition=Q(status__in=CaseStatus.values), name="case_status_known"
            ),
            models.CheckConstraint(
                condition=Q(notice_sent_at__isnull=True) | Q(deadline_at__gt=models.F("notice_sent_at")),
                name="case_deadline_after_notice",
            ),
        ]
        indexes = [
            models.Index(fields=["deadline_at"], name="case_deadline_open_idx",
                         condition=Q(status__in=[CaseStatus.OPEN, CaseStatus.SCHEDULED])),
            # Operations and /metrics: open cases by status, and the cases flagged in a period
            models.Index(fields=["status"], name="case_status_running_idx", condition=~Q(status__in=FINAL_STATUSES)),
            models.Index(fields=["created_at"], name="case_created_idx"),
            # earlier times: the opted-in cases with a booked call, most urgent deadline first
            models.Index(fields=["deadline_at"], name="case_wants_earlier_idx",
                         condition=Q(wants_earlier=True, status=CaseStatus.SCHEDULED)),
            # the retention task: closed cases whose personal data is still held
            models.Index(fields=["closed_at"], name="case_retention_due_idx",
                         condition=Q(closed_at__isnull=False, anonymised_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"Case {str(self.id)[:8]} ({self.get_status_display()})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @cached_property
    def policy(self) -> Policy:
        """The policy values the case started with (typed; defaults for anything the snapshot lacks)."""
        return Policy.from_snapshot(self.policy_snapshot)


class EarlierTimeOffer(models.Model):
    """An earlier time offered to an opted-in freelancer when it freed up (by email, with a link to
    move their call there). The offer is open while the time is free and far enough ahead, and
    the freelancer's call is still later; `accepted_at` is set when they moved to it. A time is
    offered to a case once."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="earlier_offers")
    starts_at = models.DateTimeField()
    rank = models.PositiveSmallIntegerField(help_text="0: the most urgent deadline of those offered this time.")
    created_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "starts_at"], name="earlier_offer_once_per_time")]

    def __str__(self) -> str:
        return f"Earlier time {self.starts_at:%Y-%m-%d %H:%M}Z for {self.case}"


class RequestKind(models.TextChoices):
    ACCOMMODATION = "ACCOMMODATION", _("Accommodation")
    EXTENSION = "EXTENSION", _("Extension")
    APPEAL = "APPEAL", _("Appeal")
    HOLD = "HOLD", _("Admin hold")


class RequestStatus(models.TextChoices):
    PENDING = "PENDING", _("Pending")
    GRANTED = "GRANTED", _("Granted")
    DECLINED = "DECLINED", _("Declined")
    RESOLVED = "RESOLVED", _("Resolved")


class AccommodationNeed(models.TextChoices):
    NO_CAMERA = "no_camera", _("I have no camera")
    PHONE_ONLY = "phone_only", _("I can only do a phone call")
    INTERPRETER = "interpreter", _("I need an interpreter or sign language")
    MORE_TIME = "more_time", _("I need more time on the call")
    OTHER = "other", _("Something else")


class CaseRequest(models.Model):
    """Something that pauses the freeze while PENDING: an accommodation, an appeal, an admin hold.
    A self-service extension is granted at once and recorded here as GRANTED."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="requests")
    kind = models.CharField(max_length=16, choices=RequestKind.choices)
    status = models.CharField(max_length=10, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    need = models.CharField(max_length=16, choices=AccommodationNeed.choices, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    resolved_by = models.CharField(max_length=200, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "kind"], condition=Q(kind="EXTENSION"),
                                    name="case_request_one_self_extension"),
            models.UniqueConstraint(fields=["case", "kind"], condition=Q(status="PENDING"),
                                    name="case_request_one_pending_per_kind"),
        ]
        indexes = [models.Index(fields=["case"], name="case_request_pending_idx", condition=Q(status="PENDING"))]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display()})"


class AuditEvent(models.Model):
    """Append-only: who changed what on a case, when and why.

    Updates and deletes are refused by the model and, on PostgreSQL, by a trigger.
    """

    # no index of its own: audit_case_at_idx starts with it (one index fewer to write per event)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="audit_events", db_index=False)
    at = models.DateTimeField()
    actor = models.CharField(max_length=200, help_text='"marketplace:<key>", "user:<name>", "freelancer" or "system"')
    action = models.CharField(max_length=60)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["case", "at"], name="audit_case_at_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only.")


class IdempotencyRecord(models.Model):
    """The first response to a marketplace request sent with an Idempotency-Key."""

    # no index of its own: the unique (api_key, key) starts with it (two indexes fewer to write per record)
    api_key = models.ForeignKey(APIKey, on_delete=models.CASCADE, db_index=False)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_once_per_client"),
        ]

    def __str__(self) -> str:
        return f"{self.key} -> {self.status_code}"


class Outcome(models.TextChoices):
    VERIFIED = "VERIFIED", _("Verified")
    RETRY_TECHNICAL = "RETRY_TECHNICAL", _("Technical problem: book again (not a failure)")
    FREELANCER_NO_SHOW = "FREELANCER_NO_SHOW", _("The freelancer did not join")
    REP_NO_SHOW = "REP_NO_SHOW", _("The representative did not start the call (our fault)")
    ALT_PATH = "ALT_PATH", _("Another route: no camera, accommodation or recording declined")
    ESCALATED = "ESCALATED", _("Escalated to a reviewer")
    NOT_VERIFIED = "NOT_VERIFIED", _("Not verified (reviewers only)")



class ChecklistTemplate(models.Model):
    """A version of the call checklist. Editing makes a new version; a call keeps the one it
    started with. Every answer is a closed choice: nothing about appearance can be recorded."""

    version = models.PositiveIntegerField(unique=True)
    items = models.JSONField(help_text='[{"key": "...", "label": "...", "choices": ["yes", "no", "unclear"]}]')
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=200)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"Checklist v{self.version}"


class CallRecord(models.Model):
    """One call: who ran it, with which checklist version, when it started (the timer survives a
    reload), the closed answers, and the outcome."""

    booking_id = models.UUIDField(unique=True)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="calls")
    representative_user = models.ForeignKey("auth.User", on_delete=models.PROTECT, related_name="calls",
                                            help_text="The representative the call was booked with.")
    # Who actually ran the call: an admin may start it, or record its outcome, for the booked
    # representative. Neither may then decide a review of the case (separation of duties).
    started_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="calls_started")
    outcome_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="calls_recorded")
    checklist = models.ForeignKey(ChecklistTemplate, on_delete=models.PROTECT)
    started_at = models.DateTimeField(null=True, blank=True)
    answers = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    escalation_note = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["outcome_at"], name="call_outcome_at_idx")]  # Operations: calls in a period

    def __str__(self) -> str:
        return f"Call {self.booking_id} ({self.outcome or 'open'})"


class ReviewKind(models.TextChoices):
    ESCALATION = "ESCALATION", _("Escalated call")
    APPEAL = "APPEAL", _("Appeal")
    NO_SHOW_LIMIT = "NO_SHOW_LIMIT", _("Too many missed calls")


class NotVerifiedReason(models.TextChoices):
    ID_MISMATCH = "id_mismatch", _("The ID document does not match the profile")
    ID_INVALID = "id_invalid", _("The ID document is not valid")
    FACTS_MISMATCH = "facts_mismatch", _("The profile facts could not be confirmed")
    NOT_THE_ACCOUNT_HOLDER = "not_holder", _("The person on the call is not the account holder")


class Review(models.Model):
    """Escalations and appeals, decided by a reviewer who was not on the call."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="reviews")
    call = models.ForeignKey(CallRecord, null=True, blank=True, on_delete=models.PROTECT)
    kind = models.CharField(max_length=16, choices=ReviewKind.choices)
    assigned_to = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="reviews")
    decision = models.CharField(max_length=20, choices=[(Outcome.VERIFIED, Outcome.VERIFIED.label),
                                                        (Outcome.NOT_VERIFIED, Outcome.NOT_VERIFIED.label)],
                                blank=True)
    reason_code = models.CharField(max_length=20, choices=NotVerifiedReason.choices, blank=True)
    statement = models.CharField(max_length=1000, blank=True, help_text="Shown to the freelancer.")
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="reviews_decided", help_text="Who decided (the assignee or an admin).")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case"], condition=Q(decided_at__isnull=True),
                                    name="review_one_open_per_case"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.case}"


class TaskHeartbeat(models.Model):
    """When a periodic task last finished a run (the deadline sweep writes its row): one cheap read
    for /metrics and the Operations pages. Also holds the Operations pages' permission."""

    DEADLINE_SWEEP = "deadline_sweep"

    name = models.CharField(max_length=60, primary_key=True)
    finished_at = models.DateTimeField()

    class Meta:
        permissions = [("view_operations", "Can see the Operations pages (the whole program's figures)")]

    def __str__(self) -> str:
        return f"{self.name} finished {self.finished_at:%Y-%m-%d %H:%M:%S}Z"
