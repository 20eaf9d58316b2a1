import time

from django.conf import settings
from django.contrib.auth import logout
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from verify_site.views import not_found


class HealthCheckMiddleware:
    """Answers GET /healthz before host validation and the HTTPS redirect, so container and
    load-balancer probes (plain HTTP, internal host names) work. Checks the database answers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz" and request.method in ("GET", "HEAD"):
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return JsonResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})
        return self.get_response(request)


# Answers that carry a freelancer's link token or personal data: the freelancer's pages and their
# .ics, every API answer (the case, its booking, eligibility), and the staff console.
NO_STORE_PREFIXES = ("/c/", "/api/v1/", "/console/")


class NoStoreMiddleware:
    """`Cache-Control: private, no-store` on every answer under NO_STORE_PREFIXES: no shared cache
    or proxy keeps them, and the browser keeps no copy on disk or in its back/forward history."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(NO_STORE_PREFIXES):
            response["Cache-Control"] = "private, no-store"
        return response


class StaffSessionMiddleware:
    """A staff session ends a working day (SESSION_COOKIE_AGE, from STAFF_SESSION_HOURS) after the
    sign-in, however active it was since: the first request after the sign-in stamps the session,
    and a request past the limit signs out (the login page follows). The cookie itself dies with
    the browser (SESSION_EXPIRE_AT_BROWSER_CLOSE)."""

    KEY = "_signed_in_at"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            signed_in_at = request.session.get(self.KEY)
            if signed_in_at is None:
                request.session[self.KEY] = now
            elif now - int(signed_in_at) > settings.SESSION_COOKIE_AGE:
                logout(request)
        return self.get_response(request)


class NulCharacterMiddleware:
    """A NUL character can't be stored (PostgreSQL refuses it) and never belongs in a request: in
    the path it names nothing (404); in a query parameter it is a 400 naming the parameter. Bodies
    are checked by their parsers (`verify_site.parsers`, Django's form fields)."""

    MESSAGE = _("Null characters are not allowed.")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path:
            return not_found(request)
        fields = sorted({name or "query" for name, values in request.GET.lists()
                         if "\x00" in name or any("\x00" in value for value in values)})
        if fields:
            return self._bad_request(request, fields)
        return self.get_response(request)

    def _bad_request(self, request, fields: list[str]):
        if request.path.startswith("/api/"):
            return JsonResponse({"code": "invalid", "detail": _("Some fields are missing or invalid; see `fields`."),
                                 "fields": {name.replace("\x00", "") or "query": [self.MESSAGE] for name in fields}},
                                status=400)
        return render(request, "400.html", {"fields": [name.replace("\x00", "") for name in fields],
                                            "message": self.MESSAGE}, status=400)
