"""A schema-driven fuzz of the whole API (Schemathesis): every operation of /api/schema/, with
generated inputs (a bounded number each), called with the marketplace's API key or a freelancer's
token as the operation asks. No answer is a 5xx, and every answer is one the schema documents
(status code, content type, body). docs/security.md#hostile-input."""

import json

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework_api_key.models import APIKey
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import CaseFactory
from verification.links import freelancer_token

EXAMPLES = 8  # per operation: the dozen operations run in well under a minute

schema = schemathesis.openapi.from_dict(json.loads(json.dumps(SchemaGenerator().get_schema(public=True),
                                                              default=str)))
schema.app = get_wsgi_application()

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
UNLIMITED = dict.fromkeys(("auth_failure", "marketplace", "freelancer", "availability", "availability_address"),
                          "100000/min")


@pytest.fixture
def credentials(db, settings):
    """An API key and a freelancer's token, in the test's transaction: the WSGI app is called in
    this thread, and (as Django's test client does) does not close the connection after a request."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    _, key = APIKey.objects.create_key(name="fuzz")
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield {"MarketplaceApiKey": f"Api-Key {key}", "FreelancerLink": f"Bearer {freelancer_token(CaseFactory())}"}
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_every_operation_documents_its_error_answers_in_the_error_shape():
    operations = [(path, method, operation) for path, methods in schema.raw_schema["paths"].items()
                  for method, operation in methods.items()]
    assert len(operations) >= 12
    for path, method, operation in operations:
        # the marketplace's and freelancers' API: every error; the calendar feed (no credentials
        # but its token, no body): the errors it documents
        errors = ("400", "401", "403", "404", "409", "429") if path.startswith("/api/v1/") else \
            [status for status in operation["responses"] if status >= "400"]
        assert errors, (path, method)
        for status in errors:
            content = operation["responses"][status]["content"]["application/json"]["schema"]
            assert content == {"$ref": "#/components/schemas/Error"}, (path, method, status)
    assert set(schema.raw_schema["components"]["schemas"]["Error"]["required"]) == {"code", "detail"}


@pytest.mark.slow
@pytest.mark.postgres
@schema.parametrize()
@hypothesis_settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                            HealthCheck.filter_too_much])
@override_settings(API_THROTTLE_RATES=UNLIMITED)
def test_the_api_answers_every_generated_request_as_documented(case, credentials):
    schemes = [name for requirement in case.operation.definition.raw.get("security", []) for name in requirement]
    # the calendar feed's only credential is the token in its path
    headers = {"Authorization": credentials[schemes[0]]} if schemes else {}
    case.call_and_validate(headers=headers, checks=CHECKS)
