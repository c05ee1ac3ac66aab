"""The admin import's preview shows what changes on each updated row (field: old → new, in the
reader's words, labelled by the export's own headers), warns about rows without a name, caps the
rows it shows and counts them all with the same queries whatever the file's size; the upload
form lists the report's columns and lets an administrator of several stores choose the store of rows that name none."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from crm.models import Role
from customers.choices import ImportStatus, IssueSeverity
from customers.dms_import import importer as importer_module
from customers.models import Customer, ImportBatch
from tests.customers.dms_helpers import customer_row, run_import, write_csv
from tests.customers.test_admin_import import upload
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_preview_shows_old_and_new_of_every_changed_field_in_chinese(client, admin_user, store_a, tmp_path):
    run_import("customers", write_csv(tmp_path / "first.csv", [customer_row("C001"), customer_row("C002")]))
    client.force_login(admin_user)
    rows = [customer_row("C001", 客户姓名="李娜", 性别="女", 手机号码="13912345678"), customer_row("C002")]

    with translation.override("zh-hans"):
        preview = upload(client, write_csv(tmp_path / "second.csv", rows))

    result = preview.context["result"]
    assert (result.dms_batch.updated_count, result.dms_batch.unchanged_count) == (1, 1)
    [change] = result.dms_changes
    assert (change.row_number, change.key) == (2, "C001")
    with translation.override("zh-hans"):
        shown = [(field.label, field.old_display, field.new_display) for field in change.fields]
    assert shown == [("客户姓名", "张伟", "李娜"), ("性别", "男", "女"), ("手机号码", "138****5678", "139****5678")]
    page = preview.content.decode()
    assert '<tr data-change-row="2" data-field="name"><td>2</td><td>C001</td><td class="label">客户姓名</td>' in page
    assert '<td class="old">张伟</td><td class="new">李娜</td>' in page
    assert "13912345678" not in page  # a preview reveals no whole number
    assert Customer.objects.get(customer_no="C001").name == "张伟"  # a preview changes nothing


def test_the_preview_caps_the_rows_it_shows_counts_all_and_costs_the_same_queries_for_any_size(
    admin_user, store_a, tmp_path, monkeypatch
):
    monkeypatch.setattr(importer_module, "PREVIEW_CHANGES", 3)
    from customers.dms.sources import source_from_path
    from customers.services import dms_import_run, import_batch_create

    def preview_queries(count: int, name: str) -> tuple[int, object]:
        rows = [customer_row(f"C{number:04d}", 客户姓名=name) for number in range(count)]
        path = write_csv(tmp_path / f"{name}-{count}.csv", rows)
        batch = import_batch_create(kind="customers", file_name=path.name, user=admin_user, dry_run=True)
        with CaptureQueriesContext(connection) as queries:
            outcome = dms_import_run(batch=batch, source=source_from_path(str(path)))
        return len(queries), outcome

    run_import("customers", write_csv(tmp_path / "base.csv", [customer_row(f"C{n:04d}") for n in range(40)]))
    small, small_outcome = preview_queries(5, "王芳")
    large, large_outcome = preview_queries(40, "王芳")

    assert (small_outcome.updated, len(small_outcome.changes)) == (5, 3)
    assert (large_outcome.updated, len(large_outcome.changes)) == (40, 3)
    assert [change.row_number for change in large_outcome.changes] == [2, 3, 4]
    assert small == large


def test_a_row_without_a_name_is_imported_with_a_warning(tmp_path, store_a):
    rows = [customer_row("C001"), customer_row("C002", 客户姓名=""), customer_row("C003", 客户姓名="NULL")]

    summary = run_import("customers", write_csv(tmp_path / "c.csv", rows))

    assert summary == "created=3 updated=0 unchanged=0 rejected=0 warnings=2"
    batch = ImportBatch.objects.get()
    issues = [(issue.row_number, issue.column, issue.severity) for issue in batch.issues.order_by("row_number")]
    assert issues == [(3, "客户姓名", IssueSeverity.WARNING), (4, "客户姓名", IssueSeverity.WARNING)]
    with translation.override("zh-hans"):
        reason = batch.issues.first().reason_display
    assert reason == "没有客户姓名：该行照常导入，客户卡在以后的导出给出姓名之前不显示姓名"
    assert sorted(Customer.objects.values_list("customer_no", "name")) == [("C001", "张伟"), ("C002", ""), ("C003", "")]


def test_a_customers_file_without_a_name_column_warns_on_every_row(tmp_path, store_a):
    rows = [{"客户编号": "C001", "所属门店": "NJ01"}, {"客户编号": "C002", "所属门店": "NJ01"}]

    summary = run_import("customers", write_csv(tmp_path / "c.csv", rows))

    assert summary == "created=2 updated=0 unchanged=0 rejected=0 warnings=2"


def test_the_upload_form_lists_the_reports_columns_and_the_users_stores(client, store_a, store_b):
    admin = UserFactory(username="admin_a", role=Role.ADMIN, stores=[store_a], is_staff=True)
    client.force_login(admin)

    with translation.override("zh-hans"):
        page = client.get(reverse("admin:customers_customer_import"), HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert page.status_code == 200
    html = page.content.decode()
    assert "客户编号, 客户姓名, 性别, 手机号码" in html
    assert 'data-required-columns="客户编号"' in html
    store_field = page.context["form"].fields["store"]
    assert [store.code for store in store_field.queryset] == ["NJ01"]


def test_an_admin_imports_rows_without_a_store_code_into_the_chosen_store(client, admin_user, store_a, store_b,
                                                                          tmp_path):  # fmt: skip
    client.force_login(admin_user)
    path = write_csv(tmp_path / "c.csv", [customer_row("C001", 所属门店=""), customer_row("C002")])
    with open(path, "rb") as handle:
        preview = client.post(reverse("admin:customers_customer_import"),
                              {"resource": "0", "format": "0", "import_file": handle, "store": store_b.pk})  # fmt: skip
    assert preview.context["result"].dms_batch.summary() == "created=2 updated=0 unchanged=0 rejected=0 warnings=0"
    confirm_form = preview.context["confirm_form"]
    assert confirm_form.initial["store"] == store_b.pk

    client.post(reverse("admin:customers_customer_process_import"),
                {name: confirm_form.initial.get(name, "") for name in confirm_form.fields})  # fmt: skip

    final = ImportBatch.objects.order_by("-pk").first()
    assert (final.status, final.store, final.summary()) == (
        ImportStatus.DONE, store_b, "created=2 updated=0 unchanged=0 rejected=0 warnings=0"
    )  # fmt: skip
    assert sorted(Customer.objects.values_list("customer_no", "store__code")) == [("C001", "NJ02"), ("C002", "NJ01")]


def test_an_admin_cannot_choose_a_store_they_do_not_work_for(client, store_a, store_b, tmp_path):
    admin = UserFactory(username="admin_a", role=Role.ADMIN, stores=[store_a], is_staff=True)
    client.force_login(admin)
    path = write_csv(tmp_path / "c.csv", [customer_row("C001", 所属门店="")])
    with open(path, "rb") as handle:
        page = client.post(reverse("admin:customers_customer_import"),
                           {"resource": "0", "format": "0", "import_file": handle, "store": store_b.pk})  # fmt: skip

    assert page.status_code == 200
    assert "store" in page.context["form"].errors
    assert (ImportBatch.objects.count(), Customer.objects.count()) == (0, 0)


def test_a_vehicle_preview_names_the_new_owner_and_store_by_their_numbers(admin_user, store_a, store_b, tmp_path):
    from customers.dms.sources import source_from_path
    from customers.services import dms_import_run, import_batch_create
    from tests.customers.dms_helpers import make_vin, vehicle_row

    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("C001"), customer_row("C002")]))
    vin = make_vin(1)
    run_import("vehicles", write_csv(tmp_path / "v1.csv", [vehicle_row(vin, "C001")]))
    path = write_csv(tmp_path / "v2.csv", [vehicle_row(vin, "C002", 所属门店="NJ02", 交车日期="2025-03-02")])
    batch = import_batch_create(kind="vehicles", file_name=path.name, user=admin_user, dry_run=True)

    outcome = dms_import_run(batch=batch, source=source_from_path(str(path)))

    [change] = outcome.changes
    assert (change.row_number, change.key) == (2, vin)
    assert [(field.label, field.old_display, field.new_display) for field in change.fields] == [
        ("客户编号", "C001", "C002"),
        ("所属门店", "NJ01", "NJ02"),
        ("交车日期", "2025-03-01", "2025-03-02"),
    ]
