"""The period and zone an Operations page is computed for."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

PERIODS = (7, 14, 30, 90)
DEFAULT_DAYS = 14
MAX_DAYS = 92
FORECAST_DAYS = 14


@dataclass(frozen=True)
class Period:
    """[start, end): the past the history panels count. `days` is a preset, or None for dates given."""

    start: datetime
    end: datetime
    zone_name: str
    days: int | None
    now: datetime

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.zone_name)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()

    @property
    def label(self) -> str:
        if self.days is not None:
            return f"the last {self.days} days"
        last = (self.end - timedelta(microseconds=1)).astimezone(self.zone).date()
        return f"{self.start.astimezone(self.zone).date():%d %b %Y} to {last:%d %b %Y}"

    @property
    def query(self) -> str:
        """The period as a query string, for links between the pages."""
        if self.days is not None:
            params = {"days": self.days, "zone": self.zone_name}
        else:
            last = (self.end - timedelta(microseconds=1)).astimezone(self.zone).date()
            params = {"since": self.start.astimezone(self.zone).date().isoformat(), "until": last.isoformat(),
                      "zone": self.zone_name}
        return urlencode(params)


def period_default(*, now: datetime, zone_name: str = "UTC") -> Period:
    return Period(start=now - timedelta(days=DEFAULT_DAYS), end=now, zone_name=zone_name, days=DEFAULT_DAYS, now=now)
