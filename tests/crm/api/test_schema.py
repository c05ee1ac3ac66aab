import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_openapi_schema_generates_without_warnings(tmp_path):
    output = tmp_path / "schema.yml"

    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(output))

    schema = output.read_text()
    assert "/api/customers/{id}/" in schema
    assert "'401':" in schema
    assert "'403':" in schema


@pytest.mark.django_db
def test_schema_and_docs_need_login(client, manager_a):
    assert client.get("/api/schema/").status_code == 401
    client.force_login(manager_a)
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
