"""Who may read /api/docs/ and /api/schema/ (drf-spectacular's SERVE_PERMISSIONS; see verify_site/api_docs.py)."""

from django.conf import settings
from rest_framework.permissions import BasePermission


class ApiDocsAllowed(BasePermission):
    """Everyone when API_DOCS_PUBLIC is on (the default only with DEBUG); otherwise staff signed
    in to the console. Everyone else gets the API's 403 JSON."""

    message = "The API docs are for signed-in staff here (API_DOCS_PUBLIC is off); see docs/api.md."

    def has_permission(self, request, view) -> bool:
        if settings.API_DOCS_PUBLIC:
            return True
        user = request.user
        return bool(user is not None and user.is_active and user.is_staff)
