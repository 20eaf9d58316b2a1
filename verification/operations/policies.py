"""What the grace-policy form needs from the database: the default policy's values to prefill a new
one, and which cases a change of a policy will and will not affect."""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from verification.models import FINAL_STATUSES, Case, GracePolicy, ReasonCode
from verification.policy import DEFAULT_POLICY


def grace_policy_prefill() -> dict:
    """A new policy starts from the default row's values (or the built-in defaults if there is none)."""
    default = GracePolicy.objects.filter(reason_code=GracePolicy.DEFAULT).first()
    values = (default.policy() if default else DEFAULT_POLICY).snapshot()
    values.pop("reason_code")
    return values


def grace_policy_reach(*, reason_code: str | None) -> str:
    """A sentence: which cases a change of this policy affects (new ones) and which it does not
    (running ones keep the snapshot they started with)."""
    running = Case.objects.exclude(status__in=FINAL_STATUSES)
    if reason_code == GracePolicy.DEFAULT:
        own = set(GracePolicy.objects.exclude(reason_code=GracePolicy.DEFAULT).values_list("reason_code", flat=True))
        covered = [str(label) for code, label in ReasonCode.choices if code not in own]
        count = running.exclude(reason_code__in=own).count()
        scope = _("Saving changes only cases flagged from now on for a reason without its own policy "
                  "(%(reasons)s).") % {"reasons": "; ".join(covered) or _("none")}
    elif reason_code:
        count = running.filter(reason_code=reason_code).count()
        scope = _("Saving changes only cases flagged from now on for “%(reason)s”.") % {
            "reason": ReasonCode(reason_code).label}
    else:
        count = running.count()
        scope = _("Saving changes only cases flagged from now on for the reason you pick.")
    kept = ngettext("Running cases keep the values they started with (a snapshot): %(count)s running case will "
                    "keep its deadline, warnings and reminders as they are.",
                    "Running cases keep the values they started with (a snapshot): %(count)s running cases will "
                    "keep their deadline, warnings and reminders as they are.", count) % {"count": count}
    return f"{scope} {kept}"
