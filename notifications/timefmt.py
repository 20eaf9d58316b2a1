"""How a time is shown to a person: their wall clock in their zone.

On the night clocks go back a wall-clock time happens twice (01:30 EDT, then 01:30 EST). Such a
time carries a mark that tells the two apart; every other time is shown as it always was. One rule,
`zone_mark`, decides both when a mark is needed and what it is, for the short label (`wall_clock`:
the API's `local_time`, the time pickers) and the long form (`local_time`: emails and pages).
"""

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time, get_datetime_format
from django.utils.translation import get_language, to_locale


def _local(moment: datetime | str, zone_name: str) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    zone = ZoneInfo(zone_name)  # cached by zoneinfo: the same object for the same name
    return moment if moment.tzinfo is zone else moment.astimezone(zone)


def utc_offset(offset: timedelta) -> str:
    """`UTC+10:30`, `UTC+11`, `UTC-3`, `UTC+0`."""
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}:{rest:02d}" if rest else f"UTC{sign}{hours}"


def zone_mark(local: datetime) -> str | None:
    """What tells this wall-clock time apart from its twin on a fall-back night, or None when the
    time happens only once in its zone (every time but the repeated hour).

    The zone's abbreviation when it is letters and differs between the two (EDT / EST, BST / GMT);
    otherwise the UTC offset (Lord Howe's `+11` / `+1030` become `UTC+11` / `UTC+10:30`; a zone
    whose abbreviation is the same on both sides is told apart by its offset too).
    """
    twin = local.replace(fold=1 - local.fold)
    if twin.utcoffset() == local.utcoffset():
        return None
    abbreviation = local.tzname() or ""
    if abbreviation.isalpha() and abbreviation != twin.tzname():
        return abbreviation
    return utc_offset(local.utcoffset())


def wall_clock(moment: datetime | str, zone_name: str) -> str:
    """`18:30`; a repeated time on a fall-back night with its mark: `01:30 EDT` / `01:30 EST`,
    `01:30 (UTC+11)` / `01:30 (UTC+10:30)`."""
    local = _local(moment, zone_name)
    clock = "%02d:%02d" % (local.hour, local.minute)  # noqa: UP031 (four times faster than strftime: availability lists thousands)
    mark = zone_mark(local)
    if mark is None:
        return clock
    return f"{clock} {mark}" if mark.isalpha() else f"{clock} ({mark})"


@lru_cache(maxsize=32)
def babel_locale(language: str | None) -> Locale:
    """The Babel locale for a Django language code (`pt-br` -> pt_BR, `zh-hans` -> zh_Hans); English
    when Babel does not know it."""
    try:
        return Locale.parse(to_locale(language or "en"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def local_time(moment: datetime | str, zone_name: str, language: str | None = None) -> str:
    """`Tuesday 3 March 2026, 18:30 (Asia/Kolkata, IST)`: a person's wall clock with the zone
    (`(UTC)` once, not `(UTC, UTC)`), in `language` (default: the active one). A repeated time on a
    fall-back night names its mark instead of the abbreviation: `(America/New_York, EDT)` /
    `(America/New_York, EST)`, `(Australia/Lord_Howe, UTC+11)` / `(Australia/Lord_Howe, UTC+10:30)`.

    English keeps the form above; every other language has Babel's (CLDR) full date and short time
    joined the locale's way, weekday and month names translated: `terça-feira, 3 de março de
    2026 18:30 (America/Sao_Paulo, -03)`, `الثلاثاء، ٣ مارس ٢٠٢٦ ...`."""
    local = _local(moment, zone_name)
    name = zone_mark(local) or local.tzname()
    zone = zone_name if name == zone_name else f"{zone_name}, {name}"
    language = language or get_language() or "en"
    if language == "en" or language.startswith("en-"):
        return f"{local:%A} {local.day} {local:%B %Y, %H:%M} ({zone})"
    locale = babel_locale(language)
    when = (get_datetime_format("medium", locale=locale).replace("{1}", format_date(local, "full", locale=locale))
            .replace("{0}", format_time(local, "short", tzinfo=local.tzinfo, locale=locale)))
    return f"{when} ({zone})"


def local_day(day: date, skeleton: str = "MMMEd", language: str | None = None) -> str:
    """A day as the language writes it, weekday and month names translated: skeleton `MMMEd` ->
    `Tue 3 Mar` / `ter., 3 de mar.`; `MMMMEEEEd` -> `Tuesday 3 March` / `terça-feira, 3 de março`."""
    language = language or get_language() or "en"
    if language == "en" or language.startswith("en-"):
        return f"{day:%a} {day.day} {day:%b}" if skeleton == "MMMEd" else f"{day:%A} {day.day} {day:%B}"
    return format_skeleton(skeleton, day, locale=babel_locale(language))
