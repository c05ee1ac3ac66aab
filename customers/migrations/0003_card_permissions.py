from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0001_initial"),
        ("customers", "0002_card_import_segments"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="customer",
            options={
                "ordering": ["customer_no"],
                "permissions": [
                    ("view_unmasked_phone", "Can see full phone numbers"),
                    ("search_by_phone", "Can search customers by phone number"),
                    ("export_customers", "Can export customer data"),
                    ("import_dms", "Can import DMS exports"),
                    ("change_customer_flags", "Can set key-customer and confidentiality flags"),
                ],
                "verbose_name": "customer",
                "verbose_name_plural": "customers",
            },
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(fields=["name"], name="customer_name_prefix", opclasses=["varchar_pattern_ops"]),
        ),
    ]
