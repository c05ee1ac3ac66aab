"""pg_trgm is optional: the embedded PostgreSQL of `make run` has no contrib modules."""

import pytest
from django.apps import apps
from django.contrib.postgres.indexes import GinIndex
from django.db import connection
from django.db.migrations.state import ProjectState
from django.test.utils import CaptureQueriesContext

from crm import migration_operations
from crm.migration_operations import AddTrigramIndex, OptionalTrigramExtension


@pytest.mark.django_db
def test_without_pg_trgm_the_extension_and_its_index_are_skipped(monkeypatch):
    monkeypatch.setattr(migration_operations, "trigram_available", lambda schema_editor: False)
    index = AddTrigramIndex(
        model_name="customer", index=GinIndex(fields=["city"], name="test_city_trgm", opclasses=["gin_trgm_ops"])
    )
    state = ProjectState.from_apps(apps)
    new_state = state.clone()
    index.state_forwards("customers", new_state)

    with CaptureQueriesContext(connection) as queries, connection.schema_editor(atomic=False) as editor:
        OptionalTrigramExtension().database_forwards("customers", editor, state, new_state)
        index.database_forwards("customers", editor, state, new_state)

    assert [query["sql"] for query in queries.captured_queries] == []
    assert "test_city_trgm" in {i.name for i in new_state.models["customers", "customer"].options["indexes"]}


@pytest.mark.django_db
def test_with_pg_trgm_the_index_is_created():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'customer_name_trgm'")
        assert "gin_trgm_ops" in cursor.fetchone()[0]
