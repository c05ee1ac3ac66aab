from django.db import migrations, models


class Migration(migrations.Migration):
    """The complaint list's order for staff of several stores (newest first): without it a group's
    list joined every open complaint to its card, store and vehicle before taking a page."""

    dependencies = [
        ("complaints", "0004_desk_origin"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(fields=["received_at", "id"], name="complaint_received_idx"),
        ),
    ]
