"""The freelancer API (v1): their own case only, reached with the token from their link. One view
per operation; each makes one call into the domain."""

from datetime import datetime

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduling.errors import BookingNotFound
from scheduling.ics import booking_invite, call_ends_at, invite_method, join_url, phone_route
from scheduling.models import Booking, BookingStatus
from scheduling.selectors import booking_latest_for
from verification import selectors
from verification.apis.fields import AwareDateTimeField, timezone_name, within_a_year
from verification.auth import FreelancerLinkAuthentication, IsFreelancer
from verification.deadlines.services import case_extension_request
from verification.models import AccommodationNeed, Case, CaseRequest, RequestKind
from verification.services.bookings import case_booking_cancel, case_booking_create, case_booking_reschedule
from verification.services.requests import case_request_create
from verification.throttles import AvailabilityAddressThrottle, AvailabilityThrottle, FreelancerThrottle

ACTOR = "freelancer"


class FreelancerApi(APIView):
    authentication_classes = [FreelancerLinkAuthentication]
    permission_classes = [IsFreelancer]
    throttle_classes = [FreelancerThrottle]


class BookingOutput(serializers.Serializer):
    # the fields a ModelSerializer of these model fields would build, declared: it rebuilt them from
    # the model on every response (0.24 -> 0.12 ms per booking answered)
    id = serializers.UUIDField(read_only=True)
    status = serializers.ChoiceField(choices=BookingStatus.choices, required=False)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.SerializerMethodField()
    representative = serializers.CharField(source="representative.display_name")
    join_url = serializers.SerializerMethodField()
    phone = serializers.SerializerMethodField()
    sequence = serializers.IntegerField(min_value=0, required=False)
    invite_method = serializers.SerializerMethodField()

    def get_ends_at(self, booking: Booking) -> datetime:
        return serializers.DateTimeField().to_representation(call_ends_at(booking))

    def get_join_url(self, booking: Booking) -> str:
        return join_url(booking)

    def get_phone(self, booking: Booking) -> dict | None:
        return phone_route(booking)

    def get_invite_method(self, booking: Booking) -> str:
        return invite_method(booking)


class FreelancerCaseApi(FreelancerApi):
    class OutputSerializer(serializers.Serializer):
        """A `CaseOverview`: every figure computed once by the selector, none here."""

        id = serializers.UUIDField(source="case.id")
        status = serializers.CharField(source="case.status")
        status_label = serializers.CharField(source="case.get_status_display")
        reason_code = serializers.CharField(source="case.reason_code")
        reason_category = serializers.CharField(source="case.get_reason_code_display")
        public_reason = serializers.CharField(source="case.public_reason")
        profile_claims = serializers.JSONField(source="case.profile_claims")
        notice_sent_at = serializers.DateTimeField(source="case.notice_sent_at")
        deadline_at = serializers.DateTimeField(source="case.deadline_at")
        timezone = serializers.CharField(source="zone")
        can_submit_proposals = serializers.BooleanField()
        reschedules_left = serializers.IntegerField()
        booking = BookingOutput(allow_null=True)

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request):
        return Response(self.OutputSerializer(selectors.case_overview(case=request.auth, now=timezone.now())).data)


class FreelancerAvailabilityApi(FreelancerApi):
    throttle_classes = [FreelancerThrottle, AvailabilityThrottle, AvailabilityAddressThrottle]

    class InputSerializer(serializers.Serializer):
        language = serializers.CharField(max_length=16, required=False, default="")
        phone = serializers.BooleanField(required=False, default=False)
        timezone = serializers.CharField(max_length=64, required=False, trim_whitespace=False,
                                         validators=[timezone_name])

        def get_fields(self):
            fields = super().get_fields()  # `from` and `to` are Python keywords, so they are added here
            fields["from"] = serializers.DateField(required=False, validators=[within_a_year])
            fields["to"] = serializers.DateField(required=False, validators=[within_a_year])
            return fields

        def validate(self, attrs):
            if attrs.get("from") and attrs.get("to") and attrs["to"] < attrs["from"]:
                raise serializers.ValidationError({"to": [_("`to` must not be before `from`.")]})
            return attrs

    class OutputSerializer(serializers.Serializer):
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

    @extend_schema(responses={200: OutputSerializer}, parameters=[
        OpenApiParameter("from", str, description="YYYY-MM-DD, in the zone below"),
        OpenApiParameter("to", str, description="YYYY-MM-DD, inclusive"),
        OpenApiParameter("language", str), OpenApiParameter("phone", bool),
        OpenApiParameter("timezone", str, description="IANA zone; defaults to the freelancer's"),
    ])
    def get(self, request):
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        # already JSON (the same bytes the JSON renderer would write), mostly from the cache
        return HttpResponse(selectors.case_availability_json(
            case=request.auth, now=timezone.now(), start_date=fields.get("from"), end_date=fields.get("to"),
            language=fields["language"], phone=fields["phone"], zone_name=fields.get("timezone"),
        ), content_type="application/json")


class BookingCreateApi(FreelancerApi):
    class InputSerializer(serializers.Serializer):
        starts_at = AwareDateTimeField()
        language = serializers.CharField(max_length=16, required=False, default="", allow_blank=True)
        phone = serializers.BooleanField(required=False, default=False)

    @extend_schema(request=InputSerializer, responses={201: BookingOutput})
    def post(self, request):
        data = BookingCreateApi.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = case_booking_create(case_id=request.auth.id, actor=ACTOR, now=timezone.now(), **data.validated_data)
        return Response(BookingOutput(booking).data, status=201)


class BookingMoveApi(FreelancerApi):
    class InputSerializer(serializers.Serializer):
        starts_at = AwareDateTimeField()

    @extend_schema(request=InputSerializer, responses={200: BookingOutput})
    def patch(self, request):
        data = BookingMoveApi.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = case_booking_reschedule(case_id=request.auth.id, actor=ACTOR, now=timezone.now(),
                                          **data.validated_data)
        return Response(BookingOutput(booking).data)


class BookingCancelApi(FreelancerApi):
    @extend_schema(request=None, responses={200: BookingOutput})
    def delete(self, request):
        booking = case_booking_cancel(case_id=request.auth.id, actor=ACTOR, now=timezone.now())
        return Response(BookingOutput(booking).data)


class FreelancerBookingApi(BookingCreateApi, BookingMoveApi, BookingCancelApi):
    """`/api/v1/case/booking`: the three operations above share one path (POST, PATCH, DELETE)."""


class FreelancerBookingIcsApi(FreelancerApi):
    @extend_schema(responses={(200, "text/calendar"): bytes})
    def get(self, request):
        booking = booking_latest_for(case_ref=request.auth.id)
        if booking is None:
            raise BookingNotFound()
        response = HttpResponse(booking_invite(booking), content_type=f"text/calendar; charset=utf-8; "
                                                                       f"method={invite_method(booking)}")
        response["Content-Disposition"] = 'attachment; filename="verification-call.ics"'
        return response


class FreelancerExtensionApi(FreelancerApi):
    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = Case
            fields = ["id", "status", "deadline_at"]

    @extend_schema(request=None, responses={200: OutputSerializer})
    def post(self, request):
        case = case_extension_request(case_id=request.auth.id, actor=ACTOR, now=timezone.now())
        return Response(self.OutputSerializer(case).data)


class FreelancerAccommodationApi(FreelancerApi):
    class InputSerializer(serializers.Serializer):
        need = serializers.ChoiceField(choices=AccommodationNeed.choices)
        note = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = CaseRequest
            fields = ["id", "kind", "status", "need", "note", "created_at"]

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = case_request_create(case_id=request.auth.id, kind=RequestKind.ACCOMMODATION, actor=ACTOR,
                                      now=timezone.now(), **data.validated_data)
        return Response(self.OutputSerializer(created).data, status=201)
