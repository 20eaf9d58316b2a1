"""A grace policy as the typed value a case keeps for its whole life.

Admins edit `GracePolicy` rows; a case copies the values it started with (`Case.policy_snapshot`,
JSON) and reads them back as a `Policy`, so editing a policy never moves a running case. The
defaults are defined here, once: the model's field defaults, a snapshot missing a key and a
reason without any policy row all take them from this class.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import timedelta
from typing import Any


@dataclass(frozen=True)
class Policy:
    reason_code: str = "default"
    grace_days: int = 7
    warning_offsets_hours: tuple[int, ...] = (72, 24)  # largest first
    min_warning_lead_hours: int = 12
    min_bookable_times: int = 10
    guard_extension_hours: int = 48
    our_fault_extension_hours: int = 72
    rep_no_show_extension_hours: int = 72
    technical_retry_extension_hours: int = 48
    self_extension_days: int = 3
    max_reschedules: int = 3
    reschedule_cutoff_hours: int = 1
    reminder_offsets_minutes: tuple[int, ...] = (1440, 60, 10)  # largest first
    freelancer_no_show_limit: int = 2
    freelancer_no_show_wait_minutes: int = 2
    rep_no_show_margin_minutes: int = 5
    review_days: int = 5
    link_days_after_close: int = 30
    link_days: int = 30  # a freelancer link expires this long after it was issued

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Any]) -> "Policy":
        """A stored snapshot back as a Policy; keys it lacks take today's defaults."""
        names = {f.name for f in fields(cls)}
        values = {key: tuple(value) if isinstance(value, list) else value
                  for key, value in snapshot.items() if key in names}
        return cls(**values)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready, offsets largest first."""
        values = asdict(self)
        values["warning_offsets_hours"] = sorted(self.warning_offsets_hours, reverse=True)
        values["reminder_offsets_minutes"] = sorted(self.reminder_offsets_minutes, reverse=True)
        return values

    @property
    def grace(self) -> timedelta:
        return timedelta(days=self.grace_days)

    @property
    def min_warning_lead(self) -> timedelta:
        return timedelta(hours=self.min_warning_lead_hours)

    @property
    def reschedule_cutoff(self) -> timedelta:
        return timedelta(hours=self.reschedule_cutoff_hours)

    @property
    def freelancer_no_show_wait(self) -> timedelta:
        return timedelta(minutes=self.freelancer_no_show_wait_minutes)

    @property
    def rep_no_show_margin(self) -> timedelta:
        return timedelta(minutes=self.rep_no_show_margin_minutes)

    @property
    def review_time(self) -> timedelta:
        return timedelta(days=self.review_days)

    @property
    def link_lifetime_after_close(self) -> timedelta:
        return timedelta(days=self.link_days_after_close)

    @property
    def link_lifetime(self) -> timedelta:
        return timedelta(days=self.link_days)


DEFAULT_POLICY = Policy()
