"""The complaint types a store starts with (admin-editable afterwards)."""

from django.db import migrations

DEFAULT_TYPES = [
    ("服务态度", "", 10),
    ("维修质量", "service", 20),
    ("维修时间", "service", 30),
    ("收费价格", "", 40),
    ("配件供应", "service", 50),
    ("销售承诺", "sales", 60),
    ("交车流程", "sales", 70),
    ("车辆质量", "", 80),
    ("环境设施", "", 90),
    ("其他", "", 100),
]


def create_types(apps, schema_editor):
    ComplaintType = apps.get_model("complaints", "ComplaintType")
    for name, department, order in DEFAULT_TYPES:
        ComplaintType.objects.get_or_create(name=name, defaults={"department": department, "sort_order": order})


class Migration(migrations.Migration):
    dependencies = [("complaints", "0001_initial")]

    operations = [migrations.RunPython(create_types, migrations.RunPython.noop)]
