"""bench/http.py's URL configuration: every production URL, plus two floor views and a bound that
are never part of production URLs (verify_site/urls.py does not know them).

The floors are what a DRF endpoint costs with nothing of ours in it, measured in the same run as
the real endpoints: the same middleware, the same authentication class as the marketplace API
(`Authorization: Api-Key`, one indexed SELECT of the key plus a SHA-512; the freelancer API's
Bearer link is the same class: one indexed SELECT plus an HMAC), then
- read: one indexed SELECT (a freelancer by its unique external id, as the eligibility API looks
  one up) rendered as JSON;
- write: a one-field input validated, then one INSERT (an `IdempotencyRecord`, a small existing
  table with a unique index and a foreign key), answered 201.

And one bound, which is not a floor: the least any booking must do. The booking API's input and
authentication (the freelancer's Bearer link), then its claim-and-insert statement alone (the
least-loaded free representative's slot taken and the booking written, in autocommit) and the
availability cache's bump, answered as the booking API answers. No change of the case's status, no
audit, no confirmation: whatever a booking costs beyond this is ours; this much is not avoidable.
"""

from django.urls import path
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from scheduling.services.bookings import booking_create
from verification.apis.freelancer import BookingCreateApi, BookingOutput
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


class BoundClaimApi(BookingCreateApi):
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = booking_create(case_ref=request.auth.id, attendee_email="bound@example.com", attendee_name="Bound",
                                 now=timezone.now(), **data.validated_data)
        return Response(BookingOutput(booking).data, status=201)


urlpatterns = [
    path("bench/floor/read/<str:external_id>", FloorReadApi.as_view(), name="bench-floor-read"),
    path("bench/floor/write", FloorWriteApi.as_view(), name="bench-floor-write"),
    path("bench/bound/claim", BoundClaimApi.as_view(), name="bench-bound-claim"),
    *production_urlpatterns,
]
