from django.conf import settings
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from verify_site.exceptions import json_not_found, json_server_error


def home(request):
    return render(request, "home.html", {"debug_mailbox": settings.DEBUG})


@csrf_exempt  # the API has no cookies to protect: an unknown path is a JSON 404 for every method
def api_not_found(request, *args, **kwargs):
    return json_not_found(request)


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_not_found(request)
    return render(request, "404.html", status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return render(request, "500.html", status=500)
