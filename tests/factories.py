"""factory_boy factories, one place for every test's data."""

from datetime import UTC, datetime, time, timedelta

import factory
from django.contrib.auth.models import User

from scheduling.models import Representative, RepresentativeLanguage, WorkingHours
from verification.models import Case, CaseStatus, Freelancer, GracePolicy, ReasonCode
from verification.policy import DEFAULT_POLICY

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.django.Password("secret-pass-1")


class RepresentativeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Representative
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    display_name = factory.Sequence(lambda n: f"Rep {n}")
    timezone = "Europe/London"
    can_take_phone_calls = True

    @factory.post_generation
    def languages(self, create, extracted, **kwargs):
        for code in extracted if extracted is not None else ["en"]:
            RepresentativeLanguage.objects.create(representative=self, code=code)


class WorkingHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkingHours

    representative = factory.SubFactory(RepresentativeFactory)
    weekday = 0
    starts = time(9, 0)
    ends = time(12, 0)


class FreelancerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Freelancer

    external_id = factory.Sequence(lambda n: f"fl-{n}")
    email = factory.LazyAttribute(lambda f: f"{f.external_id}@example.com")
    name = factory.Faker("name")
    timezone = "Asia/Kolkata"
    language = "en"
    created_at = T0
    updated_at = T0


class GracePolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GracePolicy
        django_get_or_create = ("reason_code",)

    reason_code = GracePolicy.DEFAULT
    grace_days = 7
    warning_offsets_hours = factory.LazyFunction(lambda: [72, 24])


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    freelancer = factory.SubFactory(FreelancerFactory)
    reason_code = ReasonCode.PROFILE_DETAILS
    public_reason = "The name on your profile differs from your payout account."
    profile_claims = factory.LazyFunction(lambda: [{"field": "country", "value": "India"}])
    standing_snapshot = factory.LazyFunction(lambda: {"badges": ["Top Rated"]})
    status = CaseStatus.OPEN
    policy_snapshot = factory.LazyFunction(lambda: DEFAULT_POLICY.snapshot())
    notice_sent_at = T0
    deadline_at = factory.LazyAttribute(lambda c: c.notice_sent_at + timedelta(days=7))
    created_by = "marketplace:test"
    created_at = T0
    updated_at = T0
