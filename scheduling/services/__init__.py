"""Every write to slots and bookings, one module per subject: `slots` (generated from hours and
time off), `bookings` (claimed, moved, cancelled, finished) and `hours` (a representative's own
changes). Each service takes `now`, runs in one transaction and raises a `DomainError`. This app
imports no other app of ours: a booking knows its case only by id."""
