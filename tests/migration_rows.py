"""The rows the migrations write: the default complaint types, the import's reference header
profiles, the erasure key. A transactional test (and the page sweep) ends with a flush that empties
them with everything else."""

from importlib import import_module

MIGRATION_ROWS = [
    ("complaints.migrations.0002_default_complaint_types", "create_types"),
    ("customers.migrations.0002_card_import_segments", "create_reference_profiles"),
    ("customers.migrations.0023_reference_profile_name", "rename"),
    ("customers.migrations.0013_erasure_hash_key", "keep_the_current_key"),
]


def migration_rows_restore() -> None:
    """Write them again if a flush removed them (the complaint types tell)."""
    from django.apps import apps

    from complaints.models import ComplaintType

    if ComplaintType.objects.exists():
        return
    for module, function in MIGRATION_ROWS:
        getattr(import_module(module), function)(apps, None)
