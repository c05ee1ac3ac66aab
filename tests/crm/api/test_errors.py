"""The API answers in JSON and as its schema documents, even for paths and values it does not know."""

import json

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_a_path_no_operation_matches_is_a_json_404(client, manager_a):
    client.force_login(manager_a)

    for path in ("/api/customers/abc/", "/api/complaints/0.5/close/", "/api/nothing-here/"):
        response = client.post(path) if path.endswith("close/") else client.get(path)

        assert (response.status_code, response["Content-Type"]) == (404, "application/json"), path
        assert set(response.json()) == {"detail"}


def test_a_missing_slash_is_still_redirected(client, manager_a):
    client.force_login(manager_a)

    response = client.get("/api/customers")

    assert (response.status_code, response["Location"]) == (301, "/api/customers/")


def test_the_schema_documents_every_error_answer(tmp_path):
    output = tmp_path / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(output))

    schema = json.loads(output.read_text())
    responses = {
        (method.upper(), path): sorted(operation["responses"])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }
    assert responses[("GET", "/api/customers/")] == ["200", "400", "401", "403", "404", "429"]
    assert responses[("GET", "/api/customers/{id}/")] == ["200", "400", "401", "403", "404", "429"]
    assert responses[("POST", "/api/complaints/")] == ["201", "400", "401", "403", "429"]
    store = schema["components"]["schemas"]["Store"]["properties"]["morning_call_start"]
    assert "format" not in store
    assert store["pattern"] == r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$"
    confirmation = schema["components"]["schemas"]["Complaint"]["properties"]["customer_confirmation"]
    assert {"$ref": "#/components/schemas/BlankEnum"} in confirmation["oneOf"]
