"""What makes an outbox message unique, so a change that is retried never writes it twice."""

from dataclasses import dataclass


@dataclass(frozen=True)
class MessageKey:
    """`kind`: which message (`reminder:60`, `webhook:case.frozen`); `topic`: what it is about
    (`booking:<id>`, `case:<id>`, `rep:<id>`); `revision`: which state of the topic it was made for,
    self-describing (`booking-seq-2`, `deadline-1767225600`, `case-rev-14`, `day-2026-12-02`).
    A message with the same three exists once."""

    kind: str
    topic: str
    revision: str
