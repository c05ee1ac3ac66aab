"""Indexes the follow-up rules need on the customers app's tables (its models stay untouched)."""

from django.db import migrations

BIRTHDAY_INDEX = "followups_customer_birthday_md_idx"
MAINTENANCE_INDEX = "followups_ro_maintenance_idx"


class Migration(migrations.Migration):
    dependencies = [
        ("followups", "0001_initial"),
        ("customers", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            # The birthday rule matches month and day: (month * 100 + day) as the generation computes it.
            f"CREATE INDEX IF NOT EXISTS {BIRTHDAY_INDEX} ON customers_customer "
            "(((EXTRACT(MONTH FROM birthday) * 100 + EXTRACT(DAY FROM birthday))::int)) WHERE birthday IS NOT NULL",
            f"DROP INDEX IF EXISTS {BIRTHDAY_INDEX}",
        ),
        migrations.RunSQL(
            # maintenance_due reads a store's maintenance orders of the last interval without the table.
            f"CREATE INDEX IF NOT EXISTS {MAINTENANCE_INDEX} ON customers_repairorder (store_id, settle_date) "
            "INCLUDE (vehicle_id, mileage) WHERE repair_type IN ('first_service', 'scheduled_maintenance', 'maintenance')",
            f"DROP INDEX IF EXISTS {MAINTENANCE_INDEX}",
        ),
    ]
