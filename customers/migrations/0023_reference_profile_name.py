"""The default header profiles were named "参考格式 (reference)": an English word shown in the Chinese
admin. A profile nobody renamed is now "参考格式" (the name is data: a dealer may rename it)."""

from django.db import migrations

OLD, NEW = "参考格式 (reference)", "参考格式"


def rename(apps, schema_editor, old=OLD, new=NEW):
    HeaderMappingProfile = apps.get_model("customers", "HeaderMappingProfile")
    for profile in HeaderMappingProfile.objects.filter(name=old):
        if not HeaderMappingProfile.objects.filter(kind=profile.kind, name=new).exists():
            profile.name = new
            profile.save(update_fields=["name"])


def rename_back(apps, schema_editor):
    rename(apps, schema_editor, old=NEW, new=OLD)


class Migration(migrations.Migration):
    dependencies = [("customers", "0022_store_day_volumes")]

    operations = [migrations.RunPython(rename, rename_back)]
