"""Bad DMS files, through ``manage.py import_dms`` and through the admin's upload: each gives one clear
line (a non-zero exit / a form error, never a traceback or a 500) and writes nothing."""

import io
import zipfile

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from customers.choices import ImportStatus
from customers.models import Customer, ImportBatch, RepairOrder, Vehicle
from tests.customers.dms_helpers import CUSTOMER_HEADER, customer_row, make_vin, vehicle_row, write_csv

pytestmark = pytest.mark.django_db

TEN_MB = 10 * 1024 * 1024


def _xlsx(path, rows):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def _good_xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    workbook = openpyxl.Workbook()
    workbook.active.append(CUSTOMER_HEADER)
    workbook.active.append([customer_row("C001")[name] for name in CUSTOMER_HEADER])
    workbook.save(buffer)
    return buffer.getvalue()


def garbage_xlsx(tmp_path):
    path = tmp_path / "客户.xlsx"
    path.write_bytes(b"This is not a spreadsheet at all.\n" * 50)
    return path


def truncated_xlsx(tmp_path):
    path = tmp_path / "客户.xlsx"
    data = _good_xlsx_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def zip_not_xlsx(tmp_path):
    path = tmp_path / "客户.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return path


def huge_cell_xlsx(tmp_path):
    row = customer_row("C001")
    row["工作单位"] = "x" * TEN_MB
    return _xlsx(tmp_path / "客户.xlsx", [CUSTOMER_HEADER, [row[name] for name in CUSTOMER_HEADER]])


def huge_cell_csv(tmp_path):
    return write_csv(tmp_path / "客户.csv", [customer_row("C001", 工作单位="x" * TEN_MB)])


def empty_csv(tmp_path):
    path = tmp_path / "客户.csv"
    path.write_bytes(b"")
    return path


def empty_xlsx(tmp_path):
    return _xlsx(tmp_path / "客户.xlsx", [])


def header_only_csv(tmp_path):
    path = tmp_path / "客户.csv"
    path.write_bytes((",".join(CUSTOMER_HEADER) + "\r\n").encode("utf-8-sig"))
    return path


def header_only_xlsx(tmp_path):
    return _xlsx(tmp_path / "客户.xlsx", [CUSTOMER_HEADER])


def unknown_header_csv(tmp_path):
    return write_csv(tmp_path / "客户.csv", [{"foo": "1", "bar": "2", "baz": "3"}])


def binary_csv(tmp_path):
    path = tmp_path / "客户.csv"
    path.write_bytes(bytes(range(256)) * 64)
    return path


def vehicles_as_customers(tmp_path):
    return write_csv(tmp_path / "车辆.csv", [vehicle_row(make_vin(1)), vehicle_row(make_vin(2))])


# file → (its builder, the words the one-line message holds: one of them)
CORPUS = {
    "garbage.xlsx": (garbage_xlsx, ["not a readable XLSX workbook"]),
    "truncated.xlsx": (truncated_xlsx, ["not a readable XLSX workbook"]),
    "zip-not-xlsx.xlsx": (zip_not_xlsx, ["not a readable XLSX workbook"]),
    "10MB-cell.xlsx": (huge_cell_xlsx, ["Row 2 has a cell of 32767 characters or more"]),
    "10MB-cell.csv": (
        huge_cell_csv,
        ["Row 2 has a cell of 32767 characters or more", "A cell has 32767 characters or more"],
    ),
    "empty.csv": (empty_csv, ["is empty"]),
    "empty.xlsx": (empty_xlsx, ["is empty"]),
    # The admin says it in django-import-export's words before the importer sees the file.
    "header-only.csv": (header_only_csv, ["no data rows", "No valid data to import"]),
    "header-only.xlsx": (header_only_xlsx, ["no data rows", "No valid data to import"]),
    "unknown-header.csv": (unknown_header_csv, ["customer_no"]),
    "binary.csv": (binary_csv, ["not a text file", "neither UTF-8 nor GBK"]),
    "vehicles-as-customers.csv": (vehicles_as_customers, ["This looks like a Vehicles file, not Customers"]),
}


def _nothing_written():
    assert (Customer.objects.count(), Vehicle.objects.count(), RepairOrder.objects.count()) == (0, 0, 0)
    assert not ImportBatch.objects.exclude(status=ImportStatus.FAILED).exists()


@pytest.mark.parametrize("case", list(CORPUS))
def test_command_gives_one_clear_line_and_writes_nothing(case, tmp_path, store_a, settings):
    settings.LANGUAGE_CODE = "en"
    build, words = CORPUS[case]
    path = build(tmp_path)

    with pytest.raises(CommandError) as raised:
        call_command("import_dms", "customers", str(path), "--no-progress", stdout=io.StringIO())

    message = str(raised.value)
    assert "\n" not in message
    assert 0 < len(message) <= 300
    assert "Traceback" not in message
    assert any(word in message for word in words), message
    _nothing_written()


def test_command_exits_non_zero_from_the_shell(tmp_path, store_a):
    """The command line itself: exit code 1 and one line on stderr, no traceback."""
    import subprocess
    import sys

    from tests.conftest import BASE_DIR

    path = garbage_xlsx(tmp_path)
    done = subprocess.run(
        [sys.executable, "manage.py", "import_dms", "customers", str(path), "--no-progress"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("case", list(CORPUS))
def test_admin_upload_gives_a_form_error_and_writes_nothing(case, client, admin_user, tmp_path, settings):
    settings.LANGUAGE_CODE = "en"
    build, words = CORPUS[case]
    path = build(tmp_path)
    format_index = 1 if path.name.endswith(".xlsx") else 0
    client.force_login(admin_user)

    with open(path, "rb") as handle:
        response = client.post(
            reverse("admin:customers_customer_import"),
            {"resource": "0", "format": str(format_index), "import_file": handle},
            HTTP_ACCEPT_LANGUAGE="en",
        )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Traceback" not in page
    assert any(word in page for word in words), case
    assert "confirm_form" not in response.context or response.context["confirm_form"] is None
    _nothing_written()


def test_an_errors_file_that_cannot_be_written_is_refused_before_the_import(tmp_path, store_a, settings):
    settings.LANGUAGE_CODE = "en"
    path = write_csv(tmp_path / "客户.csv", [customer_row("C001")])
    errors_file = tmp_path / "missing-folder" / "rejected.csv"

    with pytest.raises(CommandError) as raised:
        call_command("import_dms", "customers", str(path), "--errors-file", str(errors_file), "--no-progress",
                     stdout=io.StringIO())  # fmt: skip

    assert str(raised.value) == f"Cannot write the errors file {errors_file}: no such folder, or not writable."
    assert (Customer.objects.count(), ImportBatch.objects.count()) == (0, 0)


def test_the_admin_says_no_data_rows_in_chinese(client, admin_user, tmp_path):
    """django-import-export's own message for a header-only file, translated by our catalogue."""
    client.force_login(admin_user)

    with open(header_only_csv(tmp_path), "rb") as handle:
        response = client.post(
            reverse("admin:customers_customer_import"),
            {"resource": "0", "format": "0", "import_file": handle},
            HTTP_ACCEPT_LANGUAGE="zh-hans",
        )

    assert response.context["form"].errors["import_file"] == [
        "没有可导入的数据：文件只有表头、没有数据行。请检查表头和数据后重新上传。"
    ]
    assert ImportBatch.objects.count() == 0


@pytest.mark.parametrize("case", ["10MB-cell.csv", "binary.csv", "header-only.csv", "empty.csv"])
def test_the_streamed_csv_path_gives_the_same_lines(case, tmp_path, store_a, settings, monkeypatch):
    """Files past WHOLE_FILE_DECODE_LIMIT are read in chunks: the same messages, nothing written."""
    from customers.dms import sources

    settings.LANGUAGE_CODE = "en"
    monkeypatch.setattr(sources, "WHOLE_FILE_DECODE_LIMIT", 0)
    build, words = CORPUS[case]

    with pytest.raises(CommandError) as raised:
        call_command("import_dms", "customers", str(build(tmp_path)), "--no-progress", stdout=io.StringIO())

    assert any(word in str(raised.value) for word in words), str(raised.value)
    _nothing_written()
