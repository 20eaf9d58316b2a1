from datetime import datetime
from zoneinfo import ZoneInfo


def local_time(moment: datetime | str, zone_name: str) -> str:
    """`Tuesday 3 March 2026, 18:30 (Asia/Kolkata, IST)`: a person's wall clock with the zone
    (`(UTC)` once, not `(UTC, UTC)`)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    local = moment.astimezone(ZoneInfo(zone_name))
    zone = zone_name if local.tzname() == zone_name else f"{zone_name}, {local.tzname()}"
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} ({zone})"
