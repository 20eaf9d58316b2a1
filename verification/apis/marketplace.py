"""The marketplace API (v1), authenticated with an Api-Key. One view per operation; each makes one
call into the domain."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from verification import selectors
from verification.apis.fields import timezone_name
from verification.auth import IsMarketplace, MarketplaceKeyAuthentication, marketplace_actor
from verification.idempotency import HEADER as IDEMPOTENCY_HEADER
from verification.idempotency import idempotent
from verification.links import freelancer_url
from verification.models import Case, CaseStatus, ReasonCode
from verification.services.cases import case_flag, case_withdraw
from verification.services.privacy import freelancer_erase, freelancer_export
from verification.throttles import MarketplaceThrottle


class MarketplaceApi(APIView):
    authentication_classes = [MarketplaceKeyAuthentication]
    permission_classes = [IsMarketplace]
    throttle_classes = [MarketplaceThrottle]


_idempotency_parameter = OpenApiParameter(
    IDEMPOTENCY_HEADER, location=OpenApiParameter.HEADER, required=False,
    description="Any unique string; a retry with the same key returns the first response.",
)


class CaseDetailOutput(serializers.ModelSerializer):
    external_id = serializers.CharField(source="freelancer.external_id")

    class Meta:
        model = Case
        fields = ["id", "external_id", "status", "reason_code", "public_reason", "notice_sent_at", "deadline_at",
                  "closed_at", "created_at", "updated_at"]


class FreelancerInput(serializers.Serializer):
    external_id = serializers.CharField(max_length=100)
    email = serializers.EmailField()
    name = serializers.CharField(max_length=200)
    timezone = serializers.CharField(max_length=64, trim_whitespace=False, validators=[timezone_name])
    language = serializers.RegexField(
        r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=16,
        error_messages={"invalid": _("Use a language tag such as en, fr or pt-BR.")},
    )


class ClaimInput(serializers.Serializer):
    field = serializers.CharField(max_length=100)
    value = serializers.CharField(max_length=500)


class CaseCreateApi(MarketplaceApi):
    """Flag a freelancer: open a case and queue the notice."""

    class InputSerializer(serializers.Serializer):
        freelancer = FreelancerInput()
        reason_code = serializers.ChoiceField(choices=ReasonCode.choices)
        public_reason = serializers.CharField(max_length=2000)
        profile_claims = ClaimInput(many=True, max_length=20, required=False, default=list)
        standing = serializers.DictField(required=False, default=dict)

    class OutputSerializer(serializers.Serializer):
        # the fields a ModelSerializer of these model fields would build, declared: it rebuilt them
        # from the model on every response
        id = serializers.UUIDField(read_only=True)
        status = serializers.ChoiceField(choices=CaseStatus.choices, required=False)
        notice_sent_at = serializers.DateTimeField(allow_null=True, required=False)
        deadline_at = serializers.DateTimeField(allow_null=True, required=False)
        freelancer_url = serializers.SerializerMethodField()

        def get_freelancer_url(self, case: Case) -> str:
            return freelancer_url(case)

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer}, parameters=[_idempotency_parameter])
    def post(self, request):
        def create() -> Response:
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            fields = data.validated_data
            case = case_flag(
                **fields["freelancer"], reason_code=fields["reason_code"], public_reason=fields["public_reason"],
                profile_claims=[dict(claim) for claim in fields["profile_claims"]], standing=fields["standing"],
                actor=marketplace_actor(request), now=timezone.now(),
            )
            return Response(self.OutputSerializer(case).data, status=201)

        return idempotent(request, create)


class CaseDetailApi(MarketplaceApi):
    @extend_schema(responses={200: CaseDetailOutput})
    def get(self, request, case_id):
        return Response(CaseDetailOutput(selectors.case_get(case_id=case_id)).data)


class CaseWithdrawApi(MarketplaceApi):
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=1000, required=False, default="Withdrawn by the marketplace.")

    @extend_schema(request=InputSerializer, responses={200: CaseDetailOutput}, parameters=[_idempotency_parameter])
    def post(self, request, case_id):
        def withdraw() -> Response:
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            case = case_withdraw(case_id=case_id, actor=marketplace_actor(request), now=timezone.now(),
                                 **data.validated_data)
            return Response(CaseDetailOutput(case).data)

        return idempotent(request, withdraw)


class EligibilityApi(MarketplaceApi):
    class OutputSerializer(serializers.Serializer):
        external_id = serializers.CharField()
        can_submit_proposals = serializers.BooleanField()
        case = inline_serializer(
            "EligibilityCase",
            {"id": serializers.UUIDField(), "status": serializers.CharField(),
             "deadline_at": serializers.DateTimeField()},
            allow_null=True,
        )

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request, external_id):
        eligibility = selectors.freelancer_eligibility(external_id=external_id, now=timezone.now())
        return Response(self.OutputSerializer(eligibility).data)


class FreelancerExportApi(MarketplaceApi):
    """Everything held about a freelancer (right of access), as JSON. Audited on each case."""

    class OutputSerializer(serializers.Serializer):
        exported_at = serializers.DateTimeField()
        freelancer = inline_serializer("ExportFreelancer", {
            "external_id": serializers.CharField(), "email": serializers.EmailField(),
            "name": serializers.CharField(), "timezone": serializers.CharField(),
            "language": serializers.CharField(), "created_at": serializers.DateTimeField(),
            "updated_at": serializers.DateTimeField()})
        cases = serializers.ListField(child=serializers.DictField(), help_text=(
            "Each case: its facts (reason, claims, standing, dates), requests, bookings, calls, reviews, "
            "audit trail and the emails sent about it."))

    @extend_schema(responses={200: OutputSerializer}, summary="Export everything held about a freelancer")
    def get(self, request, external_id):
        return Response(freelancer_export(external_id=external_id, actor=marketplace_actor(request),
                                          now=timezone.now()))


class FreelancerEraseApi(MarketplaceApi):
    """Erase a freelancer's personal data (right to erasure): 409 `freelancer_case_open` while a
    case is open; afterwards the external id is unknown (404 `freelancer_not_found`)."""

    class OutputSerializer(serializers.Serializer):
        erased_at = serializers.DateTimeField()
        cases = serializers.IntegerField(help_text="Cases whose personal data was erased by this request.")

    @extend_schema(request=None, responses={200: OutputSerializer}, parameters=[_idempotency_parameter],
                   summary="Erase a freelancer's personal data")
    def post(self, request, external_id):
        def erase() -> Response:
            result = freelancer_erase(external_id=external_id, actor=marketplace_actor(request), now=timezone.now())
            return Response(self.OutputSerializer(result).data)

        return idempotent(request, erase)
