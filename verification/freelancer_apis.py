"""The freelancer API: their own case only, reached with the token from their link."""

from datetime import datetime

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduling.ics import booking_invite, call_ends_at, invite_method, join_url, phone_route
from scheduling.models import Booking
from scheduling.selectors import booking_active_for, booking_latest_for
from verification import freeze, selectors, services
from verification.apis import _timezone
from verification.auth import FreelancerLinkAuthentication, IsFreelancer
from verification.models import AccommodationNeed, Case, CaseRequest, RequestKind

ACTOR = "freelancer"


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 instant that must carry its UTC offset: a naive time is ambiguous."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                raise serializers.ValidationError(
                    "Include the UTC offset, e.g. 2026-03-03T09:30:00+05:30 or 2026-03-03T04:00:00Z."
                )
        return super().to_internal_value(value)


class BookingOutput(serializers.ModelSerializer):
    ends_at = serializers.SerializerMethodField()
    representative = serializers.CharField(source="representative.display_name")
    join_url = serializers.SerializerMethodField()
    phone = serializers.SerializerMethodField()
    invite_method = serializers.SerializerMethodField()

    class Meta:
        model = Booking
        fields = ["id", "status", "starts_at", "ends_at", "representative", "join_url", "phone", "sequence",
                  "invite_method"]

    def get_ends_at(self, booking: Booking) -> datetime:
        return serializers.DateTimeField().to_representation(call_ends_at(booking))

    def get_join_url(self, booking: Booking) -> str:
        return join_url(booking)

    def get_phone(self, booking: Booking) -> dict | None:
        return phone_route(booking)

    def get_invite_method(self, booking: Booking) -> str:
        return invite_method(booking)


class FreelancerCaseOutput(serializers.ModelSerializer):
    reason_category = serializers.CharField(source="get_reason_code_display")
    status_label = serializers.CharField(source="get_status_display")
    timezone = serializers.CharField(source="freelancer.timezone")
    can_submit_proposals = serializers.SerializerMethodField()
    reschedules_left = serializers.SerializerMethodField()
    booking = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = ["id", "status", "status_label", "reason_code", "reason_category", "public_reason",
                  "profile_claims", "notice_sent_at", "deadline_at", "timezone", "can_submit_proposals",
                  "reschedules_left", "booking"]

    def get_can_submit_proposals(self, case: Case) -> bool:
        return freeze.can_submit_proposals(case, now=timezone.now())

    def get_reschedules_left(self, case: Case) -> int:
        return selectors.case_reschedules_left(case)

    def get_booking(self, case: Case) -> dict | None:
        booking = booking_active_for(case_ref=case.id)
        return BookingOutput(booking).data if booking else None


class BookingInput(serializers.Serializer):
    starts_at = AwareDateTimeField()
    language = serializers.CharField(max_length=16, required=False, default="", allow_blank=True)
    phone = serializers.BooleanField(required=False, default=False)


class RescheduleInput(serializers.Serializer):
    starts_at = AwareDateTimeField()


class AvailabilityInput(serializers.Serializer):
    language = serializers.CharField(max_length=16, required=False, default="")
    phone = serializers.BooleanField(required=False, default=False)
    timezone = serializers.CharField(max_length=64, required=False, validators=[_timezone])

    def get_fields(self):
        fields = super().get_fields()  # `from` and `to` are Python keywords, so they are added here
        fields["from"] = serializers.DateField(required=False)
        fields["to"] = serializers.DateField(required=False)
        return fields

    def validate(self, attrs):
        if attrs.get("from") and attrs.get("to") and attrs["to"] < attrs["from"]:
            raise serializers.ValidationError({"to": ["`to` must not be before `from`."]})
        return attrs


class FreelancerApi(APIView):
    authentication_classes = [FreelancerLinkAuthentication]
    permission_classes = [IsFreelancer]


class FreelancerCaseApi(FreelancerApi):
    @extend_schema(responses={200: FreelancerCaseOutput})
    def get(self, request):
        return Response(FreelancerCaseOutput(request.auth).data)


class AvailabilityOutput(serializers.Serializer):
    timezone = serializers.CharField()
    days = inline_serializer("AvailabilityDay", {
        "date": serializers.DateField(),
        "times": inline_serializer("AvailabilityTime", {
            "starts_at": serializers.DateTimeField(), "local_time": serializers.CharField(),
        }, many=True),
    }, many=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateTimeField()
        fields["to"] = serializers.DateTimeField()
        return fields


class FreelancerAvailabilityApi(FreelancerApi):
    @extend_schema(responses={200: AvailabilityOutput}, parameters=[
        OpenApiParameter("from", str, description="YYYY-MM-DD, in the zone below"),
        OpenApiParameter("to", str, description="YYYY-MM-DD, inclusive"),
        OpenApiParameter("language", str), OpenApiParameter("phone", bool),
        OpenApiParameter("timezone", str, description="IANA zone; defaults to the freelancer's"),
    ])
    def get(self, request):
        data = AvailabilityInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        return Response(selectors.case_availability(
            case=request.auth, now=timezone.now(), start_date=fields.get("from"), end_date=fields.get("to"),
            language=fields["language"], phone=fields["phone"], zone_name=fields.get("timezone"),
        ))


class FreelancerBookingApi(FreelancerApi):
    @extend_schema(request=BookingInput, responses={201: BookingOutput})
    def post(self, request):
        data = BookingInput(data=request.data)
        data.is_valid(raise_exception=True)
        booking = services.case_booking_create(case_id=request.auth.id, actor=ACTOR, now=timezone.now(),
                                               **data.validated_data)
        return Response(BookingOutput(booking).data, status=201)

    @extend_schema(request=RescheduleInput, responses={200: BookingOutput})
    def patch(self, request):
        data = RescheduleInput(data=request.data)
        data.is_valid(raise_exception=True)
        booking = services.case_booking_reschedule(case_id=request.auth.id, actor=ACTOR, now=timezone.now(),
                                                   **data.validated_data)
        return Response(BookingOutput(booking).data)

    @extend_schema(request=None, responses={200: BookingOutput})
    def delete(self, request):
        booking = services.case_booking_cancel(case_id=request.auth.id, actor=ACTOR, now=timezone.now())
        return Response(BookingOutput(booking).data)


class FreelancerBookingIcsApi(FreelancerApi):
    @extend_schema(responses={(200, "text/calendar"): bytes})
    def get(self, request):
        booking = booking_latest_for(case_ref=request.auth.id)
        if booking is None:
            raise services.BookingNotFound()
        response = HttpResponse(booking_invite(booking), content_type=f"text/calendar; charset=utf-8; "
                                                                       f"method={invite_method(booking)}")
        response["Content-Disposition"] = 'attachment; filename="verification-call.ics"'
        return response



class AccommodationInput(serializers.Serializer):
    need = serializers.ChoiceField(choices=AccommodationNeed.choices)
    note = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class CaseRequestOutput(serializers.ModelSerializer):
    class Meta:
        model = CaseRequest
        fields = ["id", "kind", "status", "need", "note", "created_at"]


class FreelancerExtensionApi(FreelancerApi):
    @extend_schema(request=None, responses={200: FreelancerCaseOutput})
    def post(self, request):
        case = services.case_extension_request(case_id=request.auth.id, actor=ACTOR, now=timezone.now())
        return Response(FreelancerCaseOutput(case).data)


class FreelancerAccommodationApi(FreelancerApi):
    @extend_schema(request=AccommodationInput, responses={201: CaseRequestOutput})
    def post(self, request):
        data = AccommodationInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.case_request_create(case_id=request.auth.id, kind=RequestKind.ACCOMMODATION, actor=ACTOR,
                                               now=timezone.now(), **data.validated_data)
        return Response(CaseRequestOutput(created).data, status=201)
