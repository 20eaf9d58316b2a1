"""Who is calling the API: the marketplace by its hashed API key."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework_api_key.models import APIKey


class MarketplaceKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>`; the key is stored hashed (djangorestframework-api-key)."""

    keyword = "Api-Key"

    def authenticate(self, request):
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme != self.keyword:
            return None
        try:
            api_key = APIKey.objects.get_from_key(key.strip())
        except APIKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("The API key is not valid or has been revoked.") from None
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("The API key has expired.")
        return (None, api_key)

    def authenticate_header(self, request) -> str:
        return self.keyword


class IsMarketplace(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, APIKey)


def marketplace_actor(request) -> str:
    return f"marketplace:{request.auth.name}"


class MarketplaceKeyScheme(OpenApiAuthenticationExtension):
    target_class = MarketplaceKeyAuthentication
    name = "MarketplaceApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; create one with `python manage.py create_api_key NAME`.",
        }
