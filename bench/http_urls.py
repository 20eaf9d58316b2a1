"""bench/http.py's URL configuration: every production URL, plus two floor views that are never
part of production URLs (verify_site/urls.py does not know them).

The floors are what a DRF endpoint costs with nothing of ours in it, measured in the same run as
the real endpoints: the same middleware, the same authentication class as the marketplace API
(`Authorization: Api-Key`, one indexed SELECT of the key plus a SHA-512; the freelancer API's
Bearer link is the same class: one indexed SELECT plus an HMAC), then
- read: one indexed SELECT (a freelancer by its unique external id, as the eligibility API looks
  one up) rendered as JSON;
- write: a one-field input validated, then one INSERT (an `IdempotencyRecord`, a small existing
  table with a unique index and a foreign key), answered 201.
"""

from django.urls import path
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from verification.apis.marketplace import MarketplaceApi
from verification.models import Freelancer, IdempotencyRecord
from verify_site.urls import handler404, handler500  # noqa: F401
from verify_site.urls import urlpatterns as production_urlpatterns


class FloorReadApi(MarketplaceApi):
    def get(self, request, external_id):
        row = Freelancer.objects.filter(external_id=external_id).values("id", "external_id", "timezone").first()
        if row is None:
            raise NotFound()
        return Response(row)


class FloorWriteApi(MarketplaceApi):
    class InputSerializer(serializers.Serializer):
        key = serializers.CharField(max_length=255)

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = IdempotencyRecord.objects.create(api_key=request.auth, key=data.validated_data["key"],
                                                  fingerprint="", status_code=201, response_body={},
                                                  created_at=timezone.now())
        return Response({"id": record.pk}, status=201)


urlpatterns = [
    path("bench/floor/read/<str:external_id>", FloorReadApi.as_view(), name="bench-floor-read"),
    path("bench/floor/write", FloorWriteApi.as_view(), name="bench-floor-write"),
    *production_urlpatterns,
]
