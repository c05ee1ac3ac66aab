"""Migration operations for optional PostgreSQL extensions.

pg_trgm (trigram indexes for "any part of" searches) ships with every packaged PostgreSQL server,
but not with the embedded server `make run` uses (pgserver bundles no contrib modules). There the
extension and its indexes are skipped: searches still work, without the index.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


def trigram_available(schema_editor) -> bool:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        return cursor.fetchone() is not None


class OptionalTrigramExtension(TrigramExtension):
    """CREATE EXTENSION pg_trgm where the server has it; nothing where it does not."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if trigram_available(schema_editor):
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if trigram_available(schema_editor):
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class AddTrigramIndex(migrations.AddIndex):
    """A ``gin_trgm_ops`` index, created only where pg_trgm is available (the state always has it)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if trigram_available(schema_editor):
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if trigram_available(schema_editor):
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(self.index.name)}")
