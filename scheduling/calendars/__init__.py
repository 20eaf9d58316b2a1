"""Representatives' own calendars: the CalDAV client (`caldav_client`), the private iCal address
fetch (`ical_feed`), busy times from calendar data (`busy`) and the encryption of credentials
(`secrets`). No database writes here: those are `scheduling.services.calendars`."""
