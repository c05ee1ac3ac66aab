"""schemathesis against the project's own OpenAPI schema, in-process (WSGI), for every role.

Each operation is called with generated data (valid and invalid), authenticated by API token, on
the real test database seeded with two stores, customers, vehicles, repair orders and complaints.
Every generated call is made as the administrator (who reaches every service with any data) and as
one of the other personas, chosen from the call itself (the same call, the same persona, so a
failure shrinks and replays alike): each persona meets about a quarter of an operation's calls, and
the suite does not spend five calls on every case (this module was a third of the suite's time).
Every answer must be no server error, a documented status code, a documented content type and a
body that matches the documented schema. Deterministic (derandomized, a fixed number of examples
per operation), so a failure is the same on every run."""

import datetime
import io
import json
import zlib

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from clubs.models import Referral
from crm.choices import Role
from tests.complaints.factories import ComplaintFactory, ComplaintTypeFactory
from tests.factories import CustomerFactory, RepairOrderFactory, StoreFactory, UserFactory, VehicleFactory

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 10
ROLES = [Role.CALL_AGENT, Role.SERVICE_ADVISOR, Role.SALES_CONSULTANT, Role.MANAGER, Role.ADMIN]


def personas_for(case, tokens: dict[str, str]) -> list[tuple[str, str]]:
    """The administrator and one other persona, picked by a checksum of the call (stable across runs
    and while Hypothesis shrinks a failure)."""
    call = repr((case.method, case.path, case.path_parameters, case.query, case.headers, case.body))
    others = [role for role in ROLES if role != Role.ADMIN]
    other = others[zlib.crc32(call.encode()) % len(others)]
    return [(Role.ADMIN, tokens[Role.ADMIN]), (other, tokens[other])]


def call_as_personas(case, tokens: dict[str, str]) -> None:
    for role, token in personas_for(case, tokens):
        try:
            case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
        except Exception as error:
            error.add_note(f"Called as the {role} persona.")
            raise


def _openapi_document() -> dict:
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated, renderer_context={}))


schema = schemathesis.openapi.from_dict(_openapi_document())
schema.app = get_wsgi_application()


@pytest.fixture(autouse=True)
def _in_process_wsgi(settings):
    """Requests through the WSGI app keep the test's database connection (and its transaction), as
    Django's own test client does, and come from schemathesis' host."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(db):
    """Two stores with a few customers, vehicles, repair orders and complaints each; their clubs
    started (every customer a member with opening points) and a referral each."""
    stores = [StoreFactory(code="NJ01", name="江宁店"), StoreFactory(code="NJ02", name="鼓楼店")]
    complaint_type = ComplaintTypeFactory()
    for store in stores:
        for number in range(2):
            customer = CustomerFactory(store=store, points_balance=10_000_000)
            vehicle = VehicleFactory(customer=customer, store=store)
            RepairOrderFactory(vehicle=vehicle, store=store)
            ComplaintFactory(store=store, customer=customer, complaint_type=complaint_type)
            del number
        # Started ten days ago: the opening lots still count today.
        started = (timezone.localdate() - datetime.timedelta(days=10)).isoformat()
        call_command("club_start", "--store", store.code, "--date", started, stdout=io.StringIO())
        Referral.objects.create(store=store, referrer=customer, prospect_name="陈明", prospect_mobile="13900001234")
    return stores


@pytest.fixture
def tokens(seeded) -> dict[str, str]:
    """An API token per persona: an admin sees both stores, everyone else the first one."""
    stores = seeded
    users = {
        role: UserFactory(
            username=f"fuzz_{role}",
            role=role,
            stores=stores if role == Role.ADMIN else stores[:1],
            is_staff=role == Role.ADMIN,
            sees_all_stores=role == Role.ADMIN,
        )
        for role in ROLES
    }
    return {role: Token.objects.create(user=user).key for role, user in users.items()}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, tokens):
    call_as_personas(case, tokens)


@schema.include(path_regex=r"^/api/members/\{id\}/").parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_club_member_operations_on_a_real_member(case, tokens):
    # A generated id is almost never a member: here every call names a member of the personas' store
    # (10,000,000 points, no stored value), so the generated bodies reach the desk's services.
    from clubs.models import Membership

    case.path_parameters = {**(case.path_parameters or {}), "id": Membership.objects.order_by("pk").first().pk}
    call_as_personas(case, tokens)


def test_every_persona_is_chosen_for_calls_of_every_kind():
    # The spread the rotation gives: over a handful of different calls each persona comes up.
    class Call:
        method, path, path_parameters, headers, body = "GET", "/api/customers/", {}, None, None

        def __init__(self, page):
            self.query = {"page": page}

    tokens = {role: f"token-{role}" for role in ROLES}
    chosen = [personas_for(Call(page), tokens) for page in range(40)]
    assert {pair[0][0] for pair in chosen} == {Role.ADMIN}
    assert {pair[1][0] for pair in chosen} == set(ROLES) - {Role.ADMIN}
    assert personas_for(Call(7), tokens) == personas_for(Call(7), tokens)
