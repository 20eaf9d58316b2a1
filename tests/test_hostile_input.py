"""Hostile input never reaches a 500: each gets the documented 400 with a field message (or a
404 for a path), and changes nothing. docs/security.md#hostile-input."""

import pytest
from django.test import Client

from scheduling.models import WorkingHours
from tests.factories import RepresentativeFactory, UserFactory
from verification.links import freelancer_token
from verification.models import Case

pytestmark = pytest.mark.django_db

DEEP = 50_000


def deep_json() -> str:
    return "[" * DEEP + "]" * DEEP


def deep_object() -> str:
    return '{"a":' * DEEP + "1" + "}" * DEEP


@pytest.mark.parametrize("body", [deep_json(), deep_object()], ids=["array", "object"])
def test_json_nested_50000_deep_is_a_400(marketplace, freelancer, body):
    for client, url in ((marketplace, "/api/v1/cases"), (freelancer, "/api/v1/case/booking")):
        response = client.generic("POST", url, body, content_type="application/json")
        assert response.status_code == 400, (url, response.content[:200])
        assert response.json()["code"] == "malformed_json"
        assert "nested" in response.json()["detail"]
    assert Case.objects.count() == 1  # the freelancer's own case only


def test_json_nested_a_little_past_the_limit_is_a_400_too(marketplace):
    body = '{"freelancer":' + '{"a":' * 40 + "1" + "}" * 41
    response = marketplace.generic("POST", "/api/v1/cases", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "malformed_json"


def test_nul_in_a_json_value_or_key_names_the_field(marketplace):
    from tests.verification.test_marketplace_api import flag_body

    body = flag_body()
    body["freelancer"]["external_id"] = "fl-\x0042"
    response = marketplace.post("/api/v1/cases", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert response.json()["fields"] == {"freelancer.external_id": ["Null characters are not allowed."]}
    body = flag_body(standing={"bad\x00key": 1})
    response = marketplace.post("/api/v1/cases", body, format="json")
    assert response.status_code == 400 and "standing" in response.json()["fields"]
    assert not Case.objects.exists()


def test_nul_in_a_query_parameter_of_the_booking_page_is_a_400(case):
    response = Client().get(f"/c/{freelancer_token(case)}/book/", {"language": "\x00"})
    assert response.status_code == 400
    assert "language" in response.content.decode()


def test_nul_in_an_api_query_parameter_names_the_field(freelancer):
    response = freelancer.get("/api/v1/case/availability?language=%00")
    assert response.status_code == 400
    assert response.json()["fields"] == {"language": ["Null characters are not allowed."]}


def test_nul_in_a_path_is_a_404(marketplace):
    response = marketplace.get("/api/v1/freelancers/%00/eligibility")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert Client().get(f"/c/{'%00'}/").status_code == 404


@pytest.mark.parametrize("params", [{"from": "0001-01-01"}, {"to": "9999-12-31"},
                                    {"from": "0001-01-01", "to": "9999-12-31"}])
def test_availability_far_outside_any_bookable_time_is_a_400(freelancer, frozen_clock, params):
    response = freelancer.get("/api/v1/case/availability", params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and set(body["fields"]) == set(params)


def test_a_superscript_digit_on_the_console_hours_forms_changes_nothing(now):
    user = UserFactory(username="rep-super")
    RepresentativeFactory(user=user)
    client = Client()
    client.force_login(user)
    before = WorkingHours.objects.count()
    for url, data in (("hours/remove/", {"remove": "²"}), ("time-off/remove/", {"remove": "¹²"}),
                      ("hours/add/", {"hours-weekday": "²", "hours-starts": "0²:00", "hours-ends": "10:00"})):
        response = client.post(f"/console/{url}", data, follow=True)
        assert response.status_code == 200 and b"error" in response.content, url
    assert WorkingHours.objects.count() == before


@pytest.mark.parametrize("zone", ["Europe/London ", " Europe/London", "Europe/London\t"])
def test_a_time_zone_with_surrounding_space_is_refused(marketplace, freelancer, frozen_clock, zone):
    from tests.verification.test_marketplace_api import flag_body

    body = flag_body()
    body["freelancer"]["timezone"] = zone
    response = marketplace.post("/api/v1/cases", body, format="json")
    assert response.status_code == 400
    assert "timezone" in response.json()["fields"]["freelancer"]
    response = freelancer.get("/api/v1/case/availability", {"timezone": zone})
    assert response.status_code == 400 and "timezone" in response.json()["fields"]
    assert Case.objects.count() == 1


def test_a_case_id_of_the_wrong_shape_is_a_404(marketplace):
    response = marketplace.get("/api/v1/cases/not-a-uuid")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
