"""The rejected rows of a DMS import are an export of customer rows too: each download is audited
(no approval: they are the uploaded file's own rows, not yet cards of the CRM)."""

import pytest
from django.urls import reverse

from crm.choices import AuditAction
from crm.models import AuditLog
from customers.models import ImportBatch
from tests.customers.dms_helpers import customer_row, run_import, write_csv

pytestmark = pytest.mark.django_db


def test_each_download_of_the_rejected_rows_is_one_audit_row(client, admin_user, store_a, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("C001"), customer_row("", 客户姓名="王芳")]))
    batch = ImportBatch.objects.get()
    client.force_login(admin_user)

    response = client.get(reverse("customers:import_errors", args=[batch.pk]))

    assert response["Content-Disposition"] == f'attachment; filename="rejected-{batch.pk}.csv"'
    assert "王芳" in response.content.decode("utf-8-sig")
    entry = AuditLog.objects.get(action=AuditAction.EXPORT)
    assert (entry.actor, entry.object_type, entry.object_ids, entry.detail) == (
        admin_user,
        "customers.importbatch",
        [str(batch.pk)],
        {"kind": "rejected_rows", "rows": 1, "format": "csv"},
    )


def test_an_import_without_its_file_answers_404_and_audits_nothing(client, admin_user, store_a, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("", 客户姓名="王芳")]))
    batch = ImportBatch.objects.get()
    batch.errors_file.storage.delete(batch.errors_file.name)
    client.force_login(admin_user)

    missing = client.get(reverse("customers:import_errors", args=[batch.pk]))

    assert missing.status_code == 404
    assert AuditLog.objects.filter(action=AuditAction.EXPORT).count() == 0
