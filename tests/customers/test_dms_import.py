"""Every rule of docs/dms-import.md, through `import_dms` and the import service."""

import datetime
import io
import re
from decimal import Decimal

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from crm import bulk
from customers.choices import Confidentiality, ImportStatus, IssueSeverity
from customers.dms import sources
from customers.dms_import import columns as columns_module
from customers.dms_import import importer as importer_module
from customers.management.commands import import_dms as import_dms_command
from customers.models import Customer, HeaderMappingProfile, ImportBatch, ImportIssue, RepairOrder, Vehicle
from tests.customers.dms_helpers import (
    CUSTOMER_HEADER,
    customer_row,
    make_vin,
    repair_row,
    run_import,
    vehicle_row,
    write_csv,
)
from tests.factories import CustomerFactory, StoreFactory, UserFactory, VehicleFactory

REASON_NO_NAME_MSGID = (
    "No customer name: the row is imported, and the card shows no name until a later export gives one"
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def stores(store_a, store_b):
    return store_a, store_b


@pytest.fixture(autouse=True, params=["row by row", "bulk"])
def write_mode(request, monkeypatch):
    """Every rule holds both ways the importer writes: row by row into a table, and the bulk load
    (indexes and foreign keys built after the write) of a write that at least doubles the table."""
    if request.param == "bulk":
        monkeypatch.setattr(bulk, "worth_bulk_loading", lambda cursor, table, *, new_rows: new_rows > 0)
    return request.param


def warnings_of(kind=None):
    issues = ImportIssue.objects.filter(severity=IssueSeverity.WARNING).order_by("row_number", "id")
    return [(issue.row_number, issue.column, issue.value, issue.reason) for issue in issues]


def rejections():
    issues = ImportIssue.objects.filter(severity=IssueSeverity.REJECTED).order_by("row_number", "id")
    return [(issue.row_number, issue.reason) for issue in issues]


# --- encodings -------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk", "gb18030"])
def test_every_accepted_encoding_reads_chinese_correctly(tmp_path, encoding):
    path = write_csv(
        tmp_path / "c.csv", [customer_row("C001", 客户姓名="张伟", 详细地址="天元路1号")], encoding=encoding
    )

    assert run_import("customers", path) == "created=1 updated=0 unchanged=0 rejected=0 warnings=0"

    customer = Customer.objects.get()
    assert (customer.name, customer.address, customer.name_pinyin, customer.name_initials) == (
        "张伟",
        "天元路1号",
        "zhangwei",
        "zw",
    )
    # GB18030 text that stays within GBK is named GBK (the same characters either way).
    assert ImportBatch.objects.get().encoding == {"gb18030": "gbk"}.get(encoding, encoding)


def test_gb18030_only_characters_survive(tmp_path):
    name = "王䶮"  # U+4DAE is in GB18030 but not in GBK
    with pytest.raises(UnicodeEncodeError):
        name.encode("gbk")
    path = write_csv(tmp_path / "c.csv", [customer_row("C001", 客户姓名=name)], encoding="gb18030")

    run_import("customers", path)

    assert Customer.objects.get().name == name
    assert ImportBatch.objects.get().encoding == "gb18030"


def test_utf8_text_that_is_also_valid_gbk_is_read_as_utf8(tmp_path):
    # "浣犲ソ"-style mojibake would appear if these UTF-8 bytes were decoded as GBK.
    name = "张张"
    data = name.encode("utf-8")
    assert data.decode("gbk", errors="strict")  # the bytes are valid GBK too
    path = write_csv(tmp_path / "c.csv", [customer_row("C001", 客户姓名=name)], encoding="utf-8")

    run_import("customers", path)

    assert Customer.objects.get().name == name


def test_large_files_are_checked_in_chunks_by_the_same_rules(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "WHOLE_FILE_DECODE_LIMIT", 10)
    monkeypatch.setattr(sources, "CHUNK_SIZE", 7)  # splits multi-byte characters across chunks
    rows = [customer_row(f"C{n:03d}", 客户姓名="欧阳娜娜") for n in range(30)]
    for encoding in ("utf-8-sig", "utf-8", "gbk"):
        path = write_csv(tmp_path / f"{encoding}.csv", rows, encoding=encoding)
        assert sources.detect_file_encoding(str(path)) == encoding
    run_import("customers", tmp_path / "gbk.csv")
    assert set(Customer.objects.values_list("name", flat=True)) == {"欧阳娜娜"}


def test_a_file_in_no_accepted_encoding_is_refused_and_nothing_changes(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes("客户编号\nC001\n".encode("utf-16"))

    with pytest.raises(CommandError, match="UTF-16"):
        run_import("customers", path)

    assert Customer.objects.count() == 0


# --- field values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["2024-03-05", "2024/3/5", "20240305", "2024年3月5日", "2024-03-05 00:00:00", "45356", "２０２４－０３－０５"],
)
def test_every_date_shape(tmp_path, text):
    path = write_csv(tmp_path / "c.csv", [customer_row("C001", 出生日期=text)])

    run_import("customers", path)

    assert Customer.objects.get().birthday == datetime.date(2024, 3, 5)


def test_xlsx_date_cells_and_serial_numbers(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(CUSTOMER_HEADER)
    row_with_date_cell = customer_row("C001")
    row_with_date_cell["出生日期"] = datetime.datetime(1990, 5, 17)  # noqa: DTZ001 - XLSX cells are naive
    row_with_serial = customer_row("C002", 手机号码=13900001111)
    row_with_serial["出生日期"] = 45356
    row_with_serial["积分余额"] = 1200.0
    sheet.append([row_with_date_cell[column] for column in CUSTOMER_HEADER])
    sheet.append([row_with_serial[column] for column in CUSTOMER_HEADER])
    path = tmp_path / "customers.xlsx"
    workbook.save(path)

    assert run_import("customers", path) == "created=2 updated=0 unchanged=0 rejected=0 warnings=0"

    first, second = Customer.objects.order_by("customer_no")
    assert first.birthday == datetime.date(1990, 5, 17)
    assert (second.birthday, second.mobile, second.points_balance) == (datetime.date(2024, 3, 5), "13900001111", 1200)


@pytest.mark.parametrize(
    "raw",
    [
        "138 1234 5678",
        "138-1234-5678",
        "+8613812345678",
        "008613812345678",
        "+86 138-1234-5678",
        "１３８１２３４５６７８",
    ],
)
def test_phones_are_normalised(tmp_path, raw):
    path = write_csv(tmp_path / "c.csv", [customer_row("C001", 手机号码=raw, 固定电话="(025) 8456 1234")])

    run_import("customers", path)

    customer = Customer.objects.get()
    assert (customer.mobile, customer.landline) == ("13812345678", "025-84561234")


def test_gender_money_and_null_values(tmp_path):
    rows = [
        customer_row("C1", 性别="女", 积分余额="NULL"),
        customer_row("C2", 性别="M", 工作单位="null"),
        customer_row("C3", 性别="F"),
        customer_row("C4", 性别="1"),
        customer_row("C5", 性别="0"),
        customer_row("C6", 性别=""),
    ]
    run_import("customers", write_csv(tmp_path / "c.csv", rows))

    genders = dict(Customer.objects.values_list("customer_no", "gender"))
    assert genders == {"C1": "F", "C2": "M", "C3": "F", "C4": "M", "C5": "F", "C6": ""}
    assert Customer.objects.get(customer_no="C1").points_balance is None
    assert Customer.objects.get(customer_no="C2").employer == ""

    customer = Customer.objects.get(customer_no="C1")
    vin = make_vin(1)
    run_import("vehicles", write_csv(tmp_path / "v.csv", [vehicle_row(vin, "C1", 发票价格="158000")]))
    rows = [repair_row("RO1", vin, 工时费="300", 材料费="200.5", 结算金额="¥500.50")]
    run_import("repair_orders", write_csv(tmp_path / "r.csv", rows))
    order = RepairOrder.objects.get()
    assert (order.labor_amount, order.parts_amount, order.total_amount) == (
        Decimal("300.00"),
        Decimal("200.50"),
        Decimal("500.50"),
    )
    assert (order.repair_type, order.mileage, order.vehicle.customer) == ("maintenance", 12000, customer)
    assert Vehicle.objects.get().invoice_price == Decimal("158000.00")


def test_a_bad_field_keeps_the_row_with_the_field_empty_and_a_warning(tmp_path):
    rows = [customer_row("C001", 出生日期="2023-02-30", 手机号码="12345", 性别="男")]

    summary = run_import("customers", write_csv(tmp_path / "c.csv", rows))

    assert summary == "created=1 updated=0 unchanged=0 rejected=0 warnings=2"
    customer = Customer.objects.get()
    assert (customer.birthday, customer.mobile, customer.name) == (None, "", "张伟")
    assert warnings_of() == [
        (2, "手机号码", "12345", "Not a mainland mobile number"),
        (2, "出生日期", "2023-02-30", "Impossible date"),
    ]


def test_the_command_reports_every_rejection_and_warning_in_the_admins_language(tmp_path):
    rows = [customer_row("C001", 出生日期="2023-02-30", 手机号码="12345"), customer_row("")]
    path = write_csv(tmp_path / "c.csv", rows)
    out, err = io.StringIO(), io.StringIO()

    with translation.override("zh-hans"):
        call_command("import_dms", "customers", str(path), "--no-progress", stdout=out, stderr=err)

    assert err.getvalue().splitlines() == [
        "第 2 行，手机号码 “12345”：不是中国大陆手机号码（警告）",
        "第 2 行，出生日期 “2023-02-30”：无效日期（警告）",
        "第 3 行，客户编号 “”：缺少客户编号（被拒绝的行）",
    ]
    assert out.getvalue().splitlines()[-1] == "created=1 updated=0 unchanged=0 rejected=1 warnings=2"


def test_the_command_with_v2_times_each_step_and_its_own_work(tmp_path, write_mode):
    # The bench reads these lines: each file's steps, then the command's own time (no start-up).
    path = write_csv(tmp_path / "c.csv", [customer_row("C001"), customer_row("C002")])
    err = io.StringIO()

    call_command("import_dms", "customers", str(path), "--no-progress", "-v2", stdout=io.StringIO(), stderr=err)

    batch = ImportBatch.objects.get()
    seconds = r"\d+\.\d\ds"
    steps = " ".join(f"{step}={seconds}" for step in ("stage", "adopt", "repeats", "classify", "upsert", "history",
                                                      "confirm", "total"))  # fmt: skip
    bulk = " bulk=customers_customer,customers_historicalcustomer" if write_mode == "bulk" else ""
    first, second = err.getvalue().splitlines()
    assert re.fullmatch(rf"batch #{batch.pk} {steps}{bulk}", first), first
    assert re.fullmatch(rf"import_dms work={seconds}", second), second


def test_the_command_shows_the_first_fifty_issues_and_says_how_many_more(tmp_path, monkeypatch):
    monkeypatch.setattr(import_dms_command, "ISSUES_SHOWN", 2)
    rows = [customer_row(f"C{number:03d}", 手机号码="12345") for number in range(1, 5)]
    err = io.StringIO()

    with translation.override("en"):
        call_command("import_dms", "customers", str(write_csv(tmp_path / "c.csv", rows)), "--no-progress",
                     stdout=io.StringIO(), stderr=err)  # fmt: skip

    lines = err.getvalue().splitlines()
    batch = ImportBatch.objects.get()
    assert lines == [
        "Row 2, 手机号码 “12345”: Not a mainland mobile number (Warning)",
        "Row 3, 手机号码 “12345”: Not a mainland mobile number (Warning)",
        f"… and 2 more: see import #{batch.pk} in the admin, or use --errors-file.",
    ]


# --- the column-wise stage: every cell by the same rules, however the chunk looks ------------


def test_numbers_too_large_for_the_crm_are_a_bad_field_not_a_crash(tmp_path):
    # (Past 4,300 digits Python would not even turn the text into a number.)
    rows = [customer_row("C001", 积分余额="9" * 5000)]
    run_import("customers", write_csv(tmp_path / "c.csv", rows))
    vin = make_vin(1)
    run_import("vehicles", write_csv(tmp_path / "v.csv", [vehicle_row(vin, 发票价格="12345678901")]))
    rows = [repair_row("RO1", vin, 进厂里程="3000000000", 结算金额="10000000000.00")]

    summary = run_import("repair_orders", write_csv(tmp_path / "r.csv", rows))

    assert summary == "created=1 updated=0 unchanged=0 rejected=0 warnings=2"
    assert Customer.objects.get().points_balance is None
    assert Vehicle.objects.get().invoice_price is None
    order = RepairOrder.objects.get()
    assert (order.mileage, order.total_amount, order.labor_amount) == (None, None, Decimal("300.00"))
    assert [(row, column, reason) for row, column, _value, reason in warnings_of()] == [
        (2, "积分余额", "Too large a number"),
        (2, "发票价格", "Too large a number"),
        (2, "进厂里程", "Too large a number"),
        (2, "结算金额", "Too large a number"),
    ]


def test_text_cells_that_need_care_among_clean_ones(tmp_path, monkeypatch):
    # Small chunks, so that some chunks are all clean and others hold one cell that needs care.
    monkeypatch.setattr(importer_module, "STAGE_CHUNK_ROWS", 3)
    rows = [customer_row(f"C{number:03d}", 客户姓名=f"张{number}") for number in range(1, 10)]
    rows[1]["客户姓名"] = " Null "  # a NULL marker: an empty field (a name: a warning)
    rows[3]["详细地址"] = "中山路\\8号\t3楼"  # a backslash and a tab survive COPY
    rows[5]["工作单位"] = "某" * 201  # too long: a warning
    rows[7]["客户编号"] = "  "  # a blank key: rejected
    rows[8]["客户姓名"] = "  李娜 "

    summary = run_import("customers", write_csv(tmp_path / "c.csv", rows))

    assert summary == "created=8 updated=0 unchanged=0 rejected=1 warnings=2"
    names = dict(Customer.objects.values_list("customer_no", "name"))
    assert (names["C001"], names["C002"], names["C009"]) == ("张1", "", "李娜")
    assert Customer.objects.get(customer_no="C004").address == "中山路\\8号\t3楼"
    assert Customer.objects.get(customer_no="C006").employer == ""
    assert warnings_of() == [
        (3, "客户姓名", " Null ", str(REASON_NO_NAME_MSGID)),
        (7, "工作单位", "某" * 201, "Too long (at most %(limit)s characters)"),
    ]
    assert rejections() == [(9, "Missing customer number")]
    issue = ImportIssue.objects.get(row_number=7)
    with translation.override("en"):
        assert issue.reason_display == "Too long (at most 200 characters)"
    with translation.override("zh-hans"):
        assert issue.reason_display == "过长（最多 200 个字符）"


def test_a_bad_cell_seen_before_is_still_reported_when_its_column_stops_caching(tmp_path, monkeypatch):
    # Chunks of 4 rows: after the second chunk 7 of the 8 birthdays seen needed parsing, so the column
    # gives up caching in the very chunk that holds the impossible date it cached in the first.
    monkeypatch.setattr(importer_module, "STAGE_CHUNK_ROWS", 4)
    monkeypatch.setattr(columns_module, "CACHE_TRIAL_CELLS", 5)
    births = ["2023-02-30", "1990-01-01", "1990-01-02", "1990-01-03",
              "2023-02-30", "1990-01-04", "1990-01-05", "1990-01-06"]  # fmt: skip
    rows = [customer_row(f"C{number}", 出生日期=birth) for number, birth in enumerate(births, start=1)]

    summary = run_import("customers", write_csv(tmp_path / "c.csv", rows))

    assert summary == "created=8 updated=0 unchanged=0 rejected=0 warnings=2"
    assert warnings_of() == [(2, "出生日期", "2023-02-30", "Impossible date"),
                             (6, "出生日期", "2023-02-30", "Impossible date")]  # fmt: skip


def test_short_and_long_rows_of_a_csv_file(tmp_path):
    path = tmp_path / "c.csv"
    header = ",".join(CUSTOMER_HEADER)
    path.write_text(f"{header}\nC001,张伟,男,13812345678\nC002,李娜,女,13900001111,,,,,,,,,,,,,,NJ01,extra\n",
                    encoding="utf-8")  # fmt: skip

    summary = run_import("customers", path, "--store", "NJ01")

    assert summary == "created=2 updated=0 unchanged=0 rejected=0 warnings=0"
    assert list(Customer.objects.values_list("customer_no", "name", "gender", "mobile", "district")) == [
        ("C001", "张伟", "M", "13812345678", ""),
        ("C002", "李娜", "F", "13900001111", ""),
    ]


def test_typed_xlsx_cells_equal_as_numbers_stay_apart(tmp_path):
    # 1 and True are equal keys to Python; as cells they are male and an unknown gender.
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(CUSTOMER_HEADER)
    for customer_no, gender in (("C001", 1), ("C002", True), ("C003", "1"), ("C004", 1.0)):
        row = customer_row(customer_no)
        row["性别"] = gender
        sheet.append([row[column] for column in CUSTOMER_HEADER])
    path = tmp_path / "customers.xlsx"
    workbook.save(path)

    assert run_import("customers", path) == "created=4 updated=0 unchanged=0 rejected=0 warnings=1"

    genders = dict(Customer.objects.values_list("customer_no", "gender"))
    assert genders == {"C001": "M", "C002": "", "C003": "M", "C004": "M"}
    assert warnings_of() == [(3, "性别", "True", "Unknown gender")]


# --- VIN -------------------------------------------------------------------------------------


def test_vin_is_trimmed_and_upper_cased_and_a_wrong_check_digit_only_warns(tmp_path):
    CustomerFactory(customer_no="C001")
    good, wrong_check = make_vin(1), make_vin(2, valid=False)
    rows = [vehicle_row(f"  {good.lower()} "), vehicle_row(wrong_check, 车牌号="苏A99999")]

    summary = run_import("vehicles", write_csv(tmp_path / "v.csv", rows))

    assert summary == "created=2 updated=0 unchanged=0 rejected=0 warnings=1"
    assert sorted(Vehicle.objects.values_list("vin", flat=True)) == sorted([good, wrong_check])
    assert warnings_of() == [(3, "VIN码", wrong_check, "The VIN check digit (position 9) is wrong")]


@pytest.mark.parametrize(
    ("vin", "reason"),
    [
        ("", "Missing VIN"),
        ("LGBH52E0I12345678", "A VIN must not contain the letters I, O or Q"),
        ("LGBH52E01234", "A VIN must be 17 characters long"),
        ("LGBH52E0-12345678", "A VIN may contain only letters and digits"),
    ],
)
def test_a_malformed_vin_rejects_the_row(tmp_path, vin, reason):
    CustomerFactory(customer_no="C001")
    rows = [vehicle_row(make_vin(1)), vehicle_row(vin)]

    summary = run_import("vehicles", write_csv(tmp_path / "v.csv", rows))

    assert summary == "created=1 updated=0 unchanged=0 rejected=1 warnings=0"
    assert rejections() == [(3, reason)]


# --- rejections ------------------------------------------------------------------------------


def test_a_customer_without_customer_no_is_rejected(tmp_path):
    rows = [customer_row("C001"), customer_row("", 客户姓名="李娜")]

    summary = run_import("customers", write_csv(tmp_path / "c.csv", rows))

    assert summary == "created=1 updated=0 unchanged=0 rejected=1 warnings=0"
    assert rejections() == [(3, "Missing customer number")]


def test_vehicle_owner_may_come_from_this_import_or_the_crm_but_not_from_nowhere(tmp_path):
    CustomerFactory(customer_no="C_OLD")
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("C_NEW")]))
    rows = [vehicle_row(make_vin(1), "C_OLD"), vehicle_row(make_vin(2), "C_NEW"), vehicle_row(make_vin(3), "C_NONE")]

    summary = run_import("vehicles", write_csv(tmp_path / "v.csv", rows))

    assert summary == "created=2 updated=0 unchanged=0 rejected=1 warnings=0"
    assert rejections() == [(4, "Unknown customer number (neither in this import nor in the CRM)")]
    assert Vehicle.objects.get(vin=make_vin(2)).customer.customer_no == "C_NEW"


def test_a_repair_order_with_an_unknown_vin_is_rejected(tmp_path):
    vehicle = VehicleFactory(vin=make_vin(1))
    rows = [repair_row("RO1", vehicle.vin), repair_row("RO2", make_vin(2))]

    summary = run_import("repair_orders", write_csv(tmp_path / "r.csv", rows))

    assert summary == "created=1 updated=0 unchanged=0 rejected=1 warnings=0"
    assert rejections() == [(3, "Unknown VIN (neither in this import nor in the CRM)")]
    assert RepairOrder.objects.get().vehicle == vehicle


def test_exact_repeats_are_harmless_and_conflicting_repeats_reject_every_row_of_the_key(tmp_path):
    rows = [
        customer_row("C001"),
        customer_row("C002", 客户姓名="李娜"),
        customer_row("C001"),
        customer_row("C002", 客户姓名="李娜娜"),
        customer_row("C003"),
    ]

    summary = run_import("customers", write_csv(tmp_path / "c.csv", rows))

    assert summary == "created=2 updated=0 unchanged=0 rejected=2 warnings=0"
    assert sorted(Customer.objects.values_list("customer_no", flat=True)) == ["C001", "C003"]
    reason = "The key appears more than once in this file with different data"
    assert rejections() == [(3, reason), (5, reason)]


@pytest.mark.parametrize("listed", [10000, 0], ids=["keys-counted-by-the-parse", "keys-found-in-the-stage"])
def test_repeated_keys_found_by_the_parse_are_those_the_stage_holds(tmp_path, monkeypatch, listed):
    """The parse counts each staged key: the repeats' pass reads only the keys seen twice (their COPY
    escapes undone: a backslash in a key); with more than REPEATED_KEYS_LISTED of them it groups the
    whole stage as before. Both find the same repeats."""
    monkeypatch.setattr(importer_module, "REPEATED_KEYS_LISTED", listed)
    rows = [
        customer_row("C\\01"),
        customer_row("C\\02", 客户姓名="李娜"),
        customer_row("C\\01"),
        customer_row("C\\02", 客户姓名="李娜娜"),
        customer_row("C003"),
        customer_row(""),  # rejected by the parse: not staged, not counted
        customer_row(""),
    ]

    summary = run_import("customers", write_csv(tmp_path / "c.csv", rows))

    assert summary == "created=2 updated=0 unchanged=0 rejected=4 warnings=0"
    assert sorted(Customer.objects.values_list("customer_no", flat=True)) == ["C003", "C\\01"]
    assert [row for row, _reason in rejections()] == [3, 5, 7, 8]


def test_a_copy_text_is_read_back_as_its_value():
    for value in ("C001", "a\\b", "a\tb", "x\\ty", "\\\\n", "\n\r"):
        assert columns_module.copy_value(columns_module.copy_text(value)) == value


def test_unknown_store_code_is_rejected_and_default_store_fills_a_blank_one(tmp_path, store_b):
    rows = [customer_row("C001", 所属门店=""), customer_row("C002", 所属门店="XX99")]

    summary = run_import("customers", write_csv(tmp_path / "c.csv", rows), "--store", "NJ02")

    assert summary == "created=1 updated=0 unchanged=0 rejected=1 warnings=0"
    assert Customer.objects.get().store == store_b
    assert rejections() == [(3, "Unknown store code")]


def test_missing_key_column_refuses_the_file(tmp_path):
    path = write_csv(tmp_path / "c.csv", [{"客户姓名": "张伟"}])

    with pytest.raises(CommandError, match="customer_no"):
        run_import("customers", path)

    assert Customer.objects.count() == 0


def test_rejected_rows_file_is_utf8_with_bom_and_can_be_fixed_and_imported_again(tmp_path):
    rows = [customer_row("C001"), customer_row("", 客户姓名="李娜", 手机号码="13900001111")]
    errors = tmp_path / "errors.csv"

    run_import("customers", write_csv(tmp_path / "c.csv", rows), "--errors-file", str(errors))

    data = errors.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert len(lines) == 2
    assert lines[1].startswith(",李娜,男,13900001111,")
    assert lines[1].endswith(",3,缺少客户编号") or lines[1].endswith(",3,Missing customer number")
    fixed = tmp_path / "fixed.csv"
    fixed.write_bytes(data.replace(b"\n,\xe6\x9d\x8e", b"\nC009,\xe6\x9d\x8e"))
    assert run_import("customers", fixed) == "created=1 updated=0 unchanged=0 rejected=0 warnings=0"
    assert Customer.objects.get(customer_no="C009").name == "李娜"


# --- upsert, history, CRM-owned data, atomicity ----------------------------------------------


def test_reimport_is_unchanged_and_a_changed_field_updates_with_history(tmp_path):
    path = write_csv(tmp_path / "c.csv", [customer_row("C001"), customer_row("C002", 客户姓名="李娜")])
    run_import("customers", path)
    first_batch = ImportBatch.objects.get()

    assert run_import("customers", path) == "created=0 updated=0 unchanged=2 rejected=0 warnings=0"

    changed = write_csv(
        tmp_path / "c2.csv", [customer_row("C001", 手机号码="13999999999"), customer_row("C002", 客户姓名="李娜")]
    )
    assert run_import("customers", changed) == "created=0 updated=1 unchanged=1 rejected=0 warnings=0"
    customer = Customer.objects.get(customer_no="C001")
    assert customer.mobile == "13999999999"
    latest, created = customer.history.order_by("-history_id")[:2]
    third_batch = ImportBatch.objects.order_by("-pk").first()
    assert (latest.history_type, latest.history_change_reason) == ("~", f"DMS import #{third_batch.pk}")
    assert (created.history_type, created.history_change_reason) == ("+", f"DMS import #{first_batch.pk}")
    delta = latest.diff_against(created)
    assert [(change.field, change.old, change.new) for change in delta.changes] == [
        ("mobile", "13812345678", "13999999999")
    ]
    assert Customer.objects.get(customer_no="C002").history.count() == 1


def test_vehicle_changes_are_kept_in_history_with_the_importing_user(tmp_path, admin_user):
    from customers.dms.sources import source_from_path
    from customers.services import dms_import_run, import_batch_create

    CustomerFactory(customer_no="C001")
    vin = make_vin(1)
    for plate in ("苏A11111", "苏A22222"):
        batch = import_batch_create(kind="vehicles", file_name="v.csv", user=admin_user)
        path = write_csv(tmp_path / "v.csv", [vehicle_row(vin, 车牌号=plate)])
        dms_import_run(batch=batch, source=source_from_path(str(path)))

    records = list(
        Vehicle.objects.get().history.order_by("history_id").values_list("plate_no", "history_type", "history_user")
    )
    assert records == [("苏A11111", "+", admin_user.pk), ("苏A22222", "~", admin_user.pk)]


def test_crm_owned_data_is_never_overwritten(tmp_path, advisor_a, store_a):
    customer = CustomerFactory(
        customer_no="C001", store=store_a, name="张伟", interests="钓鱼", do_not_call=True, sms_opt_out=True,
        confidentiality=Confidentiality.TOP_SECRET, is_key_customer=True, email="a@example.com",
        lunar_birthday_month=3, lunar_birthday_day=5, preferred_channel="wechat",
    )  # fmt: skip
    customer.authorized_staff.add(advisor_a)

    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("C001", 客户姓名="张伟强")]))

    customer.refresh_from_db()
    assert customer.name == "张伟强"
    assert (customer.interests, customer.do_not_call, customer.sms_opt_out, customer.confidentiality) == (
        "钓鱼",
        True,
        True,
        Confidentiality.TOP_SECRET,
    )
    assert (customer.is_key_customer, customer.email, customer.lunar_birthday_month, customer.preferred_channel) == (
        True,
        "a@example.com",
        3,
        "wechat",
    )
    assert list(customer.authorized_staff.all()) == [advisor_a]
    assert (customer.name_pinyin, customer.name_initials) == ("zhangweiqiang", "zwq")


def test_a_crash_in_the_middle_of_a_batch_leaves_the_database_as_before(tmp_path, monkeypatch):
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("C001")]))
    rows = [customer_row("C001", 客户姓名="改名"), customer_row("C002")]

    def crash(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer_module.DmsImport, "_confirm_unchanged", crash)  # after the upsert and history ran
    with pytest.raises(RuntimeError, match="disk full"):
        run_import("customers", write_csv(tmp_path / "c2.csv", rows))

    assert list(Customer.objects.values_list("customer_no", "name")) == [("C001", "张伟")]
    assert Customer.objects.get().history.count() == 1
    failed = ImportBatch.objects.order_by("-pk").first()
    assert (failed.status, failed.error_message) == (ImportStatus.FAILED, "disk full")

    monkeypatch.undo()
    assert run_import("customers", tmp_path / "c2.csv") == "created=1 updated=1 unchanged=0 rejected=0 warnings=0"


def test_a_first_import_builds_indexes_after_writing_and_later_imports_still_update(tmp_path, write_mode):
    path = write_csv(tmp_path / "c.csv", [customer_row("C001"), customer_row("C002", 客户姓名="李娜")])

    first = run_outcome("customers", path)
    changed = run_outcome("customers", write_csv(tmp_path / "c2.csv", [customer_row("C001", 手机号码="13999999999")]))

    expected = ["customers_customer", "customers_historicalcustomer"] if write_mode == "bulk" else []
    assert first.bulk_loaded == expected
    assert changed.summary() == "created=0 updated=1 unchanged=0 rejected=0 warnings=0"
    assert [h.mobile for h in Customer.objects.get(customer_no="C001").history.order_by("history_id")] == [
        "13812345678", "13999999999",
    ]  # fmt: skip


def test_dry_run_counts_but_changes_nothing(tmp_path):
    path = write_csv(tmp_path / "c.csv", [customer_row("C001"), customer_row("")])

    assert run_import("customers", path, "--dry-run") == "created=1 updated=0 unchanged=0 rejected=1 warnings=0"

    assert Customer.objects.count() == 0
    assert ImportBatch.objects.get().status == ImportStatus.PREVIEWED


def test_header_mapping_profile_maps_another_vendors_columns(tmp_path):
    HeaderMappingProfile.objects.filter(kind="customers").update(is_default=False)
    HeaderMappingProfile.objects.create(
        name="某DMS", kind="customers", is_default=True, aliases={"档案号": "customer_no", "联系电话": "mobile"}
    )
    rows = [{"档案号": "C001", "客户姓名": "张伟", "联系电话": "139-0000-1111", "所属门店": "NJ01"}]

    run_import("customers", write_csv(tmp_path / "c.csv", rows))

    assert Customer.objects.values_list("customer_no", "mobile").get() == ("C001", "13900001111")


def test_profile_rejects_unknown_fields():
    from django.core.exceptions import ValidationError

    profile = HeaderMappingProfile(name="x", kind="customers", aliases={"手机": "phone_number"})
    with pytest.raises(ValidationError, match="phone_number"):
        profile.full_clean()


def test_rows_of_stores_outside_the_importers_stores_are_rejected(tmp_path, store_a):
    from customers.dms.sources import source_from_path
    from customers.services import dms_import_run, import_batch_create

    StoreFactory(code="NJ03")
    user = UserFactory(username="importer")
    batch = import_batch_create(kind="customers", file_name="c.csv", user=user)
    path = write_csv(tmp_path / "c.csv", [customer_row("C001"), customer_row("C002", 所属门店="NJ03")])

    outcome = dms_import_run(batch=batch, source=source_from_path(str(path)), allowed_store_ids=[store_a.pk])

    assert outcome.summary() == "created=1 updated=0 unchanged=0 rejected=1 warnings=0"
    assert rejections() == [(3, "The store is not one of yours")]


# --- re-import: row fingerprints skip parsing unchanged rows ---------------------------------


def run_outcome(kind, path, *, store=None, user=None, allowed=None):
    from customers.dms.sources import source_from_path
    from customers.services import dms_import_run, import_batch_create

    batch = import_batch_create(kind=kind, file_name=path.name, user=user, store=store)
    return dms_import_run(batch=batch, source=source_from_path(str(path)), allowed_store_ids=allowed)


def fingerprints():
    """(report, key, fingerprint, the updated_at it was confirmed with) of every row that has one."""
    found = []
    for kind, model, key in (("customers", Customer, "customer_no"), ("vehicles", Vehicle, "vin"),
                             ("repair_orders", RepairOrder, "ro_no")):  # fmt: skip
        rows = model.objects.filter(dms_fingerprint__isnull=False).values_list(key, "dms_fingerprint", "dms_synced_at")
        found.extend((kind, *row) for row in rows)
    return sorted(found)


@pytest.fixture
def landline_calls(monkeypatch):
    """The landline cells handed to the parsing stage (one per parsed customer row)."""
    calls = []
    original = importer_module.DmsImport._parse_chunk

    def counting(self, numbers, rows, plan, *args):
        for column, index in plan:
            if column.field == "landline":
                calls.extend(row[index] for row in rows)
        return original(self, numbers, rows, plan, *args)

    monkeypatch.setattr(importer_module.DmsImport, "_parse_chunk", counting)
    return calls


def test_a_reimport_parses_no_unchanged_row(tmp_path, landline_calls):
    path = write_csv(tmp_path / "c.csv", [customer_row("C001"), customer_row("C002", 客户姓名="李娜")])
    first = run_outcome("customers", path)
    assert (first.summary(), first.parsed_rows, first.skipped_rows) == (
        "created=2 updated=0 unchanged=0 rejected=0 warnings=0", 2, 0,
    )  # fmt: skip
    assert len(landline_calls) == 2
    assert [row[:2] for row in fingerprints()] == [("customers", "C001"), ("customers", "C002")]

    again = run_outcome("customers", path)

    assert (again.summary(), again.parsed_rows, again.skipped_rows) == (
        "created=0 updated=0 unchanged=2 rejected=0 warnings=0", 0, 2,
    )  # fmt: skip
    assert len(landline_calls) == 2
    assert ImportBatch.objects.order_by("-pk").first().summary() == again.summary()
    assert again.touched_customer_ids == []


def test_unchanged_vehicles_and_repair_orders_are_skipped_too(tmp_path, landline_calls):
    vin = make_vin(1)
    customers = write_csv(tmp_path / "c.csv", [customer_row("C001")])
    vehicles = write_csv(tmp_path / "v.csv", [vehicle_row(vin), vehicle_row(vin)])  # an exact repeat
    orders = write_csv(tmp_path / "r.csv", [repair_row("RO1", vin), repair_row("RO2", vin, 结算金额="80")])
    files = (("customers", customers), ("vehicles", vehicles), ("repair_orders", orders))
    for kind, path in files:
        run_outcome(kind, path)

    outcomes = [run_outcome(kind, path) for kind, path in files]

    assert [(o.summary(), o.parsed_rows, o.skipped_rows) for o in outcomes] == [
        ("created=0 updated=0 unchanged=1 rejected=0 warnings=0", 0, 1),
        ("created=0 updated=0 unchanged=1 rejected=0 warnings=0", 0, 2),
        ("created=0 updated=0 unchanged=2 rejected=0 warnings=0", 0, 2),
    ]
    assert len(fingerprints()) == 4


def test_a_changed_field_in_one_row_updates_exactly_that_row_and_its_history(tmp_path, landline_calls):
    rows = [customer_row("C001"), customer_row("C002", 客户姓名="李娜"), customer_row("C003", 客户姓名="王芳")]
    run_outcome("customers", write_csv(tmp_path / "c.csv", rows))
    before = {row[1]: row for row in fingerprints()}
    rows[1] = customer_row("C002", 客户姓名="李娜", 手机号码="13999999999")

    outcome = run_outcome("customers", write_csv(tmp_path / "c2.csv", rows))

    assert (outcome.summary(), outcome.parsed_rows, outcome.skipped_rows) == (
        "created=0 updated=1 unchanged=2 rejected=0 warnings=0", 1, 2,
    )  # fmt: skip
    assert len(landline_calls) == 3 + 1
    changed = Customer.objects.get(customer_no="C002")
    assert changed.mobile == "13999999999"
    assert outcome.touched_customer_ids == [changed.pk]
    assert [(h.history_type, h.mobile) for h in changed.history.order_by("history_id")] == [
        ("+", "13812345678"), ("~", "13999999999"),
    ]  # fmt: skip
    assert Customer.objects.get(customer_no="C001").history.count() == 1
    assert Customer.objects.get(customer_no="C003").history.count() == 1
    after = {row[1]: row for row in fingerprints()}
    assert (after["C001"], after["C003"]) == (before["C001"], before["C003"])
    assert after["C002"][2] != before["C002"][2]
    assert after["C002"][3] == changed.updated_at

    assert run_outcome("customers", tmp_path / "c2.csv").summary() == (
        "created=0 updated=0 unchanged=3 rejected=0 warnings=0"
    )
    assert len(landline_calls) == 4


def test_an_unchanged_row_written_another_way_is_confirmed_and_skipped_next_time(tmp_path):
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("C001", 出生日期="2024-03-05")]))
    before = Customer.objects.get()
    reformatted = write_csv(tmp_path / "c2.csv", [customer_row("C001", 出生日期="2024/3/5")])

    first = run_outcome("customers", reformatted)
    again = run_outcome("customers", reformatted)

    assert (first.summary(), first.parsed_rows, again.parsed_rows, again.skipped_rows) == (
        "created=0 updated=0 unchanged=1 rejected=0 warnings=0", 1, 0, 1,
    )  # fmt: skip
    after = Customer.objects.get()
    assert (after.updated_at, after.history.count()) == (before.updated_at, 1)
    assert after.dms_fingerprint != before.dms_fingerprint
    assert after.dms_synced_at == after.updated_at


def test_a_reimport_shows_its_progress_while_it_reads_the_file(tmp_path, monkeypatch):
    from customers.dms.sources import source_from_path
    from customers.services import dms_import_run, import_batch_create

    path = write_csv(tmp_path / "c.csv", [customer_row(f"C{number}") for number in range(5)])
    run_import("customers", path)
    monkeypatch.setattr(importer_module, "STAGE_CHUNK_ROWS", 2)
    reported = []
    batch = import_batch_create(kind="customers", file_name="c.csv")

    outcome = dms_import_run(batch=batch, source=source_from_path(str(path)),
                             progress=lambda rows, total: reported.append((rows, total)))  # fmt: skip

    assert (outcome.summary(), outcome.skipped_rows) == ("created=0 updated=0 unchanged=5 rejected=0 warnings=0", 5)
    assert reported == [(2, 5), (4, 5), (5, 5), (5, 5)]


def test_conflicting_repeats_are_still_rejected_on_reimport(tmp_path):
    path = write_csv(tmp_path / "c.csv", [customer_row("C001"), customer_row("C002", 客户姓名="李娜")])
    run_outcome("customers", path)
    rows = [customer_row("C001"), customer_row("C002", 客户姓名="李娜"), customer_row("C001", 客户姓名="改名")]

    outcome = run_outcome("customers", write_csv(tmp_path / "c2.csv", rows))

    assert (outcome.summary(), outcome.skipped_rows) == ("created=0 updated=0 unchanged=1 rejected=2 warnings=0", 1)
    reason = "The key appears more than once in this file with different data"
    assert rejections() == [(2, reason), (4, reason)]
    assert Customer.objects.get(customer_no="C001").name == "张伟"


def test_a_store_change_reimports_rather_than_skips(tmp_path, store_a, store_b):
    path = write_csv(tmp_path / "c.csv", [customer_row("C001", 所属门店=""), customer_row("C002")])
    run_import("customers", path, "--store", "NJ01")
    assert Customer.objects.get(customer_no="C001").store == store_a

    assert run_import("customers", path, "--store", "NJ02") == "created=0 updated=1 unchanged=1 rejected=0 warnings=0"
    assert Customer.objects.get(customer_no="C001").store == store_b
    assert run_import("customers", path, "--store", "NJ02") == "created=0 updated=0 unchanged=2 rejected=0 warnings=0"
    assert run_import("customers", path) == "created=0 updated=0 unchanged=1 rejected=1 warnings=0"
    assert rejections()[-1] == (2, "No store code, and no default store was chosen")


def test_a_vehicle_without_store_code_follows_its_owner_to_a_new_store_on_reimport(tmp_path, store_b):
    vin = make_vin(1)
    vehicles = write_csv(tmp_path / "v.csv", [vehicle_row(vin, 所属门店="")])
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("C001")]))
    run_import("vehicles", vehicles)
    run_import("customers", write_csv(tmp_path / "c2.csv", [customer_row("C001", 所属门店="NJ02")]))

    outcome = run_outcome("vehicles", vehicles)

    assert (outcome.summary(), outcome.parsed_rows) == ("created=0 updated=1 unchanged=0 rejected=0 warnings=0", 1)
    assert Vehicle.objects.get().store == store_b


def test_a_card_edited_in_the_crm_is_compared_again_on_reimport(tmp_path):
    path = write_csv(tmp_path / "c.csv", [customer_row("C001")])
    run_import("customers", path)
    customer = Customer.objects.get()
    customer.mobile = "13700000000"
    customer.save()

    outcome = run_outcome("customers", path)

    assert (outcome.summary(), outcome.parsed_rows) == ("created=0 updated=1 unchanged=0 rejected=0 warnings=0", 1)
    assert Customer.objects.get().mobile == "13812345678"


def test_rows_with_a_warning_are_parsed_and_warned_about_on_every_import(tmp_path, landline_calls):
    path = write_csv(tmp_path / "c.csv", [customer_row("C001", 出生日期="2023-02-30"), customer_row("C002")])
    run_import("customers", path)

    outcome = run_outcome("customers", path)

    assert (outcome.summary(), outcome.parsed_rows, outcome.skipped_rows) == (
        "created=0 updated=0 unchanged=2 rejected=0 warnings=1", 1, 1,
    )  # fmt: skip
    assert [row[1] for row in fingerprints()] == ["C002"]
    assert warnings_of()[-1] == (2, "出生日期", "2023-02-30", "Impossible date")


def test_rows_of_stores_outside_the_importers_stores_are_rejected_on_reimport_too(tmp_path, store_a):
    StoreFactory(code="NJ03")
    path = write_csv(tmp_path / "c.csv", [customer_row("C001"), customer_row("C002", 所属门店="NJ03")])
    run_import("customers", path)

    outcome = run_outcome("customers", path, user=UserFactory(username="importer"), allowed=[store_a.pk])

    assert (outcome.summary(), outcome.skipped_rows) == ("created=0 updated=0 unchanged=1 rejected=1 warnings=0", 1)
    assert rejections() == [(3, "The store is not one of yours")]


def test_a_changed_header_mapping_parses_again(tmp_path):
    # The first column naming a field wins: 联系电话 becomes the mobile once the profile names it.
    rows = [{"客户编号": "C001", "客户姓名": "张伟", "联系电话": "13900001111", "手机号码": "13812345678",
             "所属门店": "NJ01"}]  # fmt: skip
    path = write_csv(tmp_path / "c.csv", rows)
    run_import("customers", path)
    assert Customer.objects.get().mobile == "13812345678"
    HeaderMappingProfile.objects.filter(kind="customers").update(is_default=False)
    HeaderMappingProfile.objects.create(name="某DMS", kind="customers", is_default=True, aliases={"联系电话": "mobile"})

    assert run_import("customers", path) == "created=0 updated=1 unchanged=0 rejected=0 warnings=0"
    assert Customer.objects.get().mobile == "13900001111"


def test_an_xlsx_reimport_skips_typed_cells_too(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(CUSTOMER_HEADER)
    row = customer_row("C001", 手机号码=13900001111, 积分余额=1200.0)
    row["出生日期"] = datetime.datetime(1990, 5, 17)  # noqa: DTZ001 - XLSX cells are naive
    sheet.append([row[column] for column in CUSTOMER_HEADER])
    path = tmp_path / "customers.xlsx"
    workbook.save(path)
    run_import("customers", path)

    outcome = run_outcome("customers", path)

    assert (outcome.summary(), outcome.skipped_rows) == ("created=0 updated=0 unchanged=1 rejected=0 warnings=0", 1)
    sheet.cell(row=2, column=CUSTOMER_HEADER.index("积分余额") + 1, value=1300.0)
    workbook.save(path)
    assert run_import("customers", path) == "created=0 updated=1 unchanged=0 rejected=0 warnings=0"
    assert Customer.objects.get().points_balance == 1300


def test_a_preview_of_a_reimport_parses_every_row_and_lists_the_unchanged_keys(tmp_path):
    path = write_csv(tmp_path / "c.csv", [customer_row("C001")])
    run_import("customers", path)
    before = fingerprints()

    batch_outcome = run_outcome_dry("customers", path)

    assert (batch_outcome.summary(), batch_outcome.unchanged_keys, batch_outcome.parsed_rows) == (
        "created=0 updated=0 unchanged=1 rejected=0 warnings=0", ["C001"], 1,
    )  # fmt: skip
    assert fingerprints() == before


def run_outcome_dry(kind, path):
    from customers.dms.sources import source_from_path
    from customers.services import dms_import_run, import_batch_create

    batch = import_batch_create(kind=kind, file_name=path.name, dry_run=True)
    return dms_import_run(batch=batch, source=source_from_path(str(path)))


def test_fingerprints_are_all_or_nothing_with_their_batch(tmp_path, monkeypatch):
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("C001")]))
    before = fingerprints()
    rows = [customer_row("C001", 客户姓名="改名"), customer_row("C002")]
    original = importer_module.DmsImport._confirm_unchanged

    def crash(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer_module.DmsImport, "_confirm_unchanged", crash)  # after they were all written
    with pytest.raises(RuntimeError, match="disk full"):
        run_import("customers", write_csv(tmp_path / "c2.csv", rows))

    assert fingerprints() == before
    assert list(Customer.objects.values_list("customer_no", "name")) == [("C001", "张伟")]
    monkeypatch.undo()
    assert run_import("customers", tmp_path / "c2.csv") == "created=1 updated=1 unchanged=0 rejected=0 warnings=0"
    assert run_import("customers", tmp_path / "c2.csv") == "created=0 updated=0 unchanged=2 rejected=0 warnings=0"
    assert Customer.objects.get(customer_no="C001").name == "改名"


def test_touched_customers_include_a_vehicles_previous_owner(tmp_path):
    vin = make_vin(1)
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("C001"), customer_row("C002")]))
    first = run_outcome("vehicles", write_csv(tmp_path / "v.csv", [vehicle_row(vin, "C001")]))
    old, new = Customer.objects.order_by("customer_no")
    assert first.touched_customer_ids == [old.pk]

    moved = run_outcome("vehicles", write_csv(tmp_path / "v2.csv", [vehicle_row(vin, "C002")]))
    orders = run_outcome("repair_orders", write_csv(tmp_path / "r.csv", [repair_row("RO1", vin)]))

    assert moved.touched_customer_ids == sorted([old.pk, new.pk])
    assert orders.touched_customer_ids == [new.pk]
