"""The DMS import in the admin through django-import-export: upload → preview → confirm, and the
Celery path for large files with its progress page."""

import pytest
from django.urls import reverse

from customers import resources
from customers.choices import ImportStatus
from customers.models import Customer, ImportBatch
from tests.customers.dms_helpers import customer_row, write_csv

pytestmark = pytest.mark.django_db


def upload(client, path, format_index=0):
    with open(path, "rb") as handle:
        return client.post(
            reverse("admin:customers_customer_import"),
            {"resource": "0", "format": str(format_index), "import_file": handle},
        )


def test_upload_previews_with_rejected_rows_and_reasons_then_confirm_imports(client, admin_user, tmp_path):
    rows = [customer_row("C001"), customer_row("", 客户姓名="李娜"), customer_row("C002")]
    path = write_csv(tmp_path / "客户.csv", rows, encoding="gbk")
    client.force_login(admin_user)

    preview = upload(client, path)

    assert preview.status_code == 200
    assert Customer.objects.count() == 0
    batch = preview.context["result"].dms_batch
    assert (batch.status, batch.created_count, batch.rejected_count) == (ImportStatus.PREVIEWED, 2, 1)
    page = preview.content.decode()
    assert 'data-row="3" data-severity="rejected"' in page
    assert "缺少客户编号" in page or "Missing customer number" in page
    confirm_form = preview.context["confirm_form"]

    done = client.post(reverse("admin:customers_customer_process_import"), {
        name: confirm_form.initial.get(name, "") for name in confirm_form.fields
    })  # fmt: skip

    assert done.status_code == 302
    final = ImportBatch.objects.order_by("-pk").first()
    assert done["Location"] == reverse("admin:customers_importbatch_change", args=[final.pk])
    assert (final.status, final.is_dry_run, final.summary()) == (
        ImportStatus.DONE,
        False,
        "created=2 updated=0 unchanged=0 rejected=1 warnings=0",
    )
    assert sorted(Customer.objects.values_list("customer_no", flat=True)) == ["C001", "C002"]
    download = client.get(reverse("customers:import_errors", args=[final.pk]))
    assert download.content.startswith(b"\xef\xbb\xbf")
    assert ",李娜," in download.content.decode("utf-8-sig")
    change_page = client.get(reverse("admin:customers_importbatch_change", args=[final.pk]))
    assert change_page.status_code == 200


def test_a_file_without_a_key_column_is_a_clear_error(client, admin_user, tmp_path):
    path = write_csv(tmp_path / "c.csv", [{"姓名": "张伟"}])
    client.force_login(admin_user)

    preview = upload(client, path)

    assert preview.status_code == 200
    assert preview.context["result"].has_errors()
    assert "customer_no" in preview.content.decode()


def test_import_needs_the_import_permission(client, manager_a, tmp_path):
    manager_a.is_staff = True
    manager_a.save()
    client.force_login(manager_a)

    response = upload(client, write_csv(tmp_path / "c.csv", [customer_row("C001")]))

    assert response.status_code == 403
    assert ImportBatch.objects.count() == 0


def test_large_confirmed_files_run_as_a_task_with_progress(
    client, admin_user, tmp_path, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    monkeypatch.setattr(resources, "ASYNC_ROW_THRESHOLD", 2)
    rows = [customer_row(f"C{n:03d}") for n in range(5)]
    client.force_login(admin_user)
    preview = upload(client, write_csv(tmp_path / "c.csv", rows))
    confirm_form = preview.context["confirm_form"]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:customers_customer_process_import"), {
            name: confirm_form.initial.get(name, "") for name in confirm_form.fields
        })  # fmt: skip

    batch = ImportBatch.objects.order_by("-pk").first()
    assert (batch.status, batch.created_count, batch.progress_percent) == (ImportStatus.DONE, 5, 100)
    assert Customer.objects.count() == 5
    progress = client.get(reverse("customers:import_progress", args=[batch.pk]))
    assert 'data-status="done"' in progress.content.decode()
    assert "hx-trigger" not in progress.content.decode()
    from customers.tasks import run_dms_import

    assert run_dms_import(batch.pk) == "skipped"  # a second run leaves a finished batch alone


def test_preview_row_numbers_are_the_files_even_after_a_blank_line(client, admin_user, tmp_path):
    path = write_csv(tmp_path / "c.csv", [customer_row("C001"), customer_row("C002"), customer_row("")])
    lines = path.read_bytes().split(b"\r\n")
    path.write_bytes(b"\r\n".join([*lines[:2], b"", *lines[2:]]))  # a blank line 3: the bad row is line 5
    client.force_login(admin_user)

    preview = upload(client, path)

    batch = preview.context["result"].dms_batch
    assert (batch.created_count, batch.rejected_count) == (2, 1)
    assert 'data-row="5" data-severity="rejected"' in preview.content.decode()
