"""The mobile API against its own OpenAPI schema: generated requests, no 5xx, no response that
breaks the schema. Bounded: a few examples per operation, authenticated with a real knox token."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from config.wsgi import application
from tests.factories import AlertFactory, DeviceFactory, IncidentFactory, VolunteerFactory
from volunteers.services.accounts import auth_token_create

pytestmark = pytest.mark.usefixtures("fresh_cache")  # throttle counters from zero


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """As Django's test client does: the WSGI requests must not close the test's transaction."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _fresh_token() -> str:
    return auth_token_create(user=VolunteerFactory().user)


@pytest.fixture
def token(reference_geography):
    volunteer = VolunteerFactory()
    DeviceFactory(volunteer=volunteer)
    AlertFactory(volunteer=volunteer, incident=IncidentFactory(), state="sent")
    return auth_token_create(user=volunteer.user)


@pytest.fixture
def cad_key(reference_geography):
    from tests.cad import cad_system

    return cad_system()[1]


@pytest.mark.django_db
def test_api_conforms_to_its_schema(token, cad_key):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    headers = {"Authorization": f"Token {token}"}

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=5,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            revokes = case.path in ("/api/v1/auth/logout/", "/api/v1/me/") and (
                case.method.upper() in ("POST", "DELETE")
            )
            own = {"Authorization": f"Token {_fresh_token()}"} if revokes else headers
            if case.path.startswith("/api/cad/"):
                own = {"Authorization": f"Bearer {cad_key}"}  # the CAD integration's key
            response = case.call(headers=own)
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )

        check()
