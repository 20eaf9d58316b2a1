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


def booking_topic(booking_id) -> str:
    """What the messages about a booking are about (their kinds re-check the booking by it)."""
    return f"booking:{booking_id}"


def booking_revision(sequence: int) -> str:
    """A booking's messages are made for one of its versions (its invite's SEQUENCE)."""
    return f"booking-seq-{sequence}"
