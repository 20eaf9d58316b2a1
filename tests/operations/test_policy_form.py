"""Grace policies in the admin: offsets typed as lists, validated, prefilled from the default, and
the form says what a change affects."""

import re

import pytest

from tests.factories import CaseFactory, GracePolicyFactory
from verification.models import CaseStatus, GracePolicy
from verification.operations.forms import GracePolicyForm

pytestmark = pytest.mark.django_db
ADD = "/admin/verification/gracepolicy/add/"


def form_data(**changes) -> dict:
    data = {f: getattr(GracePolicy(), f) for f in GracePolicyForm._meta.fields}
    data.update({"reason_code": "payment_details", "warning_offsets_hours": "72, 24",
                 "reminder_offsets_minutes": "1440, 60, 10"}, **changes)
    return data


def test_adding_a_policy_with_typed_lists_saves_them_as_lists(admin_client):
    # Before: both list fields were JSON, required, shown as "[]": "This field is required" on add.
    response = admin_client.post(ADD, form_data(warning_offsets_hours="96, 48, 24"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy = GracePolicy.objects.get(reason_code="payment_details")
    assert policy.warning_offsets_hours == [96, 48, 24] and policy.reminder_offsets_minutes == [1440, 60, 10]
    assert policy.policy().warning_offsets_hours == (96, 48, 24)


def test_add_is_prefilled_with_the_default_policys_values(admin_client):
    GracePolicy.objects.update_or_create(reason_code="default", defaults={
        "grace_days": 10, "warning_offsets_hours": [120, 36], "min_warning_lead_hours": 20,
        "reminder_offsets_minutes": [120, 15]})
    page = admin_client.get(ADD).content.decode()
    assert 'value="120, 36"' in page and 'value="120, 15"' in page and 'name="grace_days" value="10"' in page
    assert 'value="[]"' not in page


def test_without_a_default_row_the_built_in_values_are_prefilled(admin_client):
    GracePolicy.objects.all().delete()
    page = admin_client.get(ADD).content.decode()
    assert 'value="72, 24"' in page and 'value="1440, 60, 10"' in page


@pytest.mark.parametrize(("field", "typed", "message"), [
    ("warning_offsets_hours", "24, 72", "from the largest to the smallest: 72, 24"),
    ("warning_offsets_hours", "72, 72, 24", "72 is listed twice"),
    ("warning_offsets_hours", "72, 0", "0 is not more than 0"),
    ("warning_offsets_hours", "72, -24", "-24 is not more than 0"),
    ("warning_offsets_hours", "72, soon", "“soon” is not a whole number of hours"),
    ("warning_offsets_hours", "", "Give at least one time, in hours"),
    ("warning_offsets_hours", "200, 24", "200 h is not inside the grace period (7 days = 168 h)"),
    ("warning_offsets_hours", "72, 6", "The last warning (6 h before the deadline) must be at least the minimum"),
    ("reminder_offsets_minutes", "20000, 60", "20000 minutes is more than the most allowed (10080)"),
    ("reminder_offsets_minutes", "10, 60", "from the largest to the smallest: 60, 10"),
])
def test_bad_lists_are_refused_with_a_clear_message_and_nothing_saved(admin_client, field, typed, message):
    response = admin_client.post(ADD, form_data(**{field: typed}))
    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors[field])
    assert not GracePolicy.objects.filter(reason_code="payment_details").exists()


def test_the_form_says_running_cases_keep_their_snapshot(admin_client):
    policy = GracePolicyFactory(reason_code="payment_details")
    GracePolicyFactory()  # the default
    for status in (CaseStatus.OPEN, CaseStatus.FROZEN, CaseStatus.VERIFIED):
        CaseFactory(reason_code="payment_details", status=status)
    CaseFactory(reason_code="profile_details")
    change = admin_client.get(f"/admin/verification/gracepolicy/{policy.pk}/change/").content.decode()
    assert "Running cases keep the values they started with" in change
    assert "2 running cases will keep their deadline, warnings and reminders as they are" in change
    default = GracePolicy.objects.get(reason_code="default")
    page = admin_client.get(f"/admin/verification/gracepolicy/{default.pk}/change/").content.decode()
    [reach] = re.findall(r'<div class="readonly">(.*?)</div>', page)
    assert "1 running case will keep its deadline" in reach
    assert "Routine periodic identity check" in reach and "Your payment details changed" not in reach


def test_saving_a_policy_does_not_touch_running_cases(admin_client):
    policy = GracePolicyFactory()
    case = CaseFactory(policy_snapshot=policy.policy().snapshot())
    before = (case.deadline_at, case.policy_snapshot)
    response = admin_client.post(f"/admin/verification/gracepolicy/{policy.pk}/change/",
                                 form_data(reason_code="default", grace_days=14, warning_offsets_hours="96, 24"))
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.deadline_at, case.policy_snapshot) == before
    assert GracePolicy.objects.get(pk=policy.pk).warning_offsets_hours == [96, 24]
