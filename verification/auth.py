"""Who is calling the API: the marketplace by its hashed API key."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework_api_key.models import APIKey

from verification.links import LinkExpired, LinkInvalid, case_from_token
from verification.models import Case
from verification.throttles import AuthFailureThrottle


class MarketplaceKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>`; the key is stored hashed (djangorestframework-api-key)."""

    keyword = "Api-Key"

    def authenticate(self, request):
        scheme, _space, key = request.headers.get("Authorization", "").partition(" ")
        if scheme != self.keyword:
            return None
        failures = AuthFailureThrottle()
        failures.check(request)
        try:
            api_key = APIKey.objects.get_from_key(key.strip())
        except APIKey.DoesNotExist:
            failures.record_failure()
            raise exceptions.AuthenticationFailed(_("The API key is not valid or has been revoked.")) from None
        if api_key.has_expired:
            failures.record_failure()
            raise exceptions.AuthenticationFailed(_("The API key has expired."))
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


class FreelancerLinkAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`, the token from the case's `freelancer_url`."""

    keyword = "Bearer"

    def authenticate(self, request):
        scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != self.keyword:
            return None
        failures = AuthFailureThrottle()
        failures.check(request)
        try:
            case = case_from_token(token.strip(), now=timezone.now())
        except (LinkInvalid, LinkExpired) as error:
            failures.record_failure()
            raise exceptions.AuthenticationFailed(error.detail, code=error.code) from None
        return (None, case)

    def authenticate_header(self, request) -> str:
        return self.keyword


class IsFreelancer(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Case)


class FreelancerLinkScheme(OpenApiAuthenticationExtension):
    target_class = FreelancerLinkAuthentication
    name = "FreelancerLink"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "The token at the end of `freelancer_url`."}
