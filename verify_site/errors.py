"""The one base class of domain errors.

Services raise these; the API's exception handler maps them to a status code and a stable `code`,
and pages show `detail` to the person. `extra` carries data the caller may want (the open case,
the next free times).
"""

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "invalid"
    detail = "The request could not be processed."

    def __init__(self, detail: str | None = None, *, extra: dict[str, Any] | None = None):
        self.detail = detail or self.detail
        self.extra = extra or {}
        super().__init__(self.detail)


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    detail = "Not found."


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    detail = "The request conflicts with the current state."


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
    detail = "You may not do this."
