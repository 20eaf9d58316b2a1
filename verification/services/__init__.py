"""Every write to a case, one module per subdomain: `cases` (open, lock, transitions, close),
`bookings`, `requests` (accommodations, holds), `calls` (the checklist and outcomes), `reviews`
(escalations and appeals) and `no_shows`; the deadline and the freeze live in
`verification.deadlines`. Each service is keyword-only, takes `now`, runs in one transaction and
raises a `DomainError` that callers map to an HTTP status with a stable code."""
