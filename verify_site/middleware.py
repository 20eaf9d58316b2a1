from django.db import connection
from django.http import JsonResponse


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
