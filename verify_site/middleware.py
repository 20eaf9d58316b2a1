from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

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


class NulCharacterMiddleware:
    """A NUL character can't be stored (PostgreSQL refuses it) and never belongs in a request: in
    the path it names nothing (404); in a query parameter it is a 400 naming the parameter. Bodies
    are checked by their parsers (`verify_site.parsers`, Django's form fields)."""

    MESSAGE = "Null characters are not allowed."

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
            return JsonResponse({"code": "invalid", "detail": "Some fields are missing or invalid; see `fields`.",
                                 "fields": {name.replace("\x00", "") or "query": [self.MESSAGE] for name in fields}},
                                status=400)
        return render(request, "400.html", {"fields": [name.replace("\x00", "") for name in fields],
                                            "message": self.MESSAGE}, status=400)
