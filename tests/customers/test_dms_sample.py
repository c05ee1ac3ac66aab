"""The sample DMS export (`dms_sample`, customers/dms/sample.py) is what `import_dms` reads: every
generated key is imported, and with --mess exactly the planted rows are rejected and the planted
fields warned about, for the importer's reasons."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from customers.choices import IssueSeverity
from customers.dms.sample import FILES, SampleIssue, dms_sample_write, vin_check_digit
from customers.models import Customer, ImportBatch, ImportIssue, RepairOrder, Vehicle
from tests.customers.dms_helpers import run_import

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 22)


@pytest.fixture(autouse=True)
def stores(store_a, store_b):
    return store_a, store_b


def write_sample(out_dir, *args) -> str:
    out = io.StringIO()
    call_command("dms_sample", str(out_dir), "--today", TODAY.isoformat(), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip().splitlines()[-1]


def import_all(out_dir, suffix="csv") -> dict[str, str]:
    return {name: run_import(name, out_dir / f"{name}.{suffix}") for name in FILES}


def issues_of(kind: str, severity: str) -> set[SampleIssue]:
    batch = ImportBatch.objects.filter(kind=kind).latest("pk")
    issues = ImportIssue.objects.filter(batch=batch, severity=severity)
    return {SampleIssue(kind, issue.row_number, issue.reason) for issue in issues}


def test_a_clean_sample_is_imported_whole(tmp_path):
    summary = write_sample(tmp_path, "--customers", "200", "--seed", "7", "--stores", "NJ01,NJ02")

    counts = dict(part.split("=") for part in summary.split())
    assert counts["customers"] == "200"
    assert counts["rejected"] == "0"
    assert counts["warnings"] == "0"
    customers, vehicles, repair_orders = (int(counts[name]) for name in FILES)
    assert vehicles >= customers
    assert repair_orders > vehicles
    assert import_all(tmp_path) == {
        "customers": f"created={customers} updated=0 unchanged=0 rejected=0 warnings=0",
        "vehicles": f"created={vehicles} updated=0 unchanged=0 rejected=0 warnings=0",
        "repair_orders": f"created={repair_orders} updated=0 unchanged=0 rejected=0 warnings=0",
    }
    assert Customer.objects.count() == customers
    assert Vehicle.objects.count() == vehicles
    assert RepairOrder.objects.count() == repair_orders
    assert set(Customer.objects.values_list("store__code", flat=True)) == {"NJ01", "NJ02"}
    assert set(Customer.objects.values_list("city", flat=True)) == {"南京市"}
    assert all(plate.startswith("苏A") for plate in Vehicle.objects.values_list("plate_no", flat=True))
    assert all(vin[8] == vin_check_digit(vin) for vin in Vehicle.objects.values_list("vin", flat=True))
    first_settled = RepairOrder.objects.order_by("settle_date").values_list("settle_date", flat=True).first()
    assert first_settled < TODAY - datetime.timedelta(days=3 * 365)  # repair orders over years

    # Importing the same export again changes nothing.
    assert import_all(tmp_path) == {
        "customers": f"created=0 updated=0 unchanged={customers} rejected=0 warnings=0",
        "vehicles": f"created=0 updated=0 unchanged={vehicles} rejected=0 warnings=0",
        "repair_orders": f"created=0 updated=0 unchanged={repair_orders} rejected=0 warnings=0",
    }


def test_a_messy_sample_is_rejected_and_warned_about_exactly_where_planted(tmp_path):
    outcome = dms_sample_write(out_dir=tmp_path, customers=200, seed=3, today=TODAY, stores=["NJ01", "NJ02"], mess=True)

    assert (tmp_path / "customers.csv").read_bytes().decode("gbk").startswith("客户编号,")
    reasons = {issue.reason for issue in outcome.rejections}
    assert reasons == {
        "Missing customer number",
        "Unknown store code",
        "The key appears more than once in this file with different data",
        "A VIN must not contain the letters I, O or Q",
        "A VIN must be 17 characters long",
        "Unknown customer number (neither in this import nor in the CRM)",
        "Unknown VIN (neither in this import nor in the CRM)",
        "Missing repair order number",
    }
    assert {issue.reason for issue in outcome.warnings} == {
        "Impossible date",
        "Not a mainland mobile number",
        "The VIN check digit (position 9) is wrong",
        "Not a whole number",
    }
    summaries = import_all(tmp_path)
    for name in FILES:
        rejected = [issue for issue in outcome.rejections if issue.file == name]
        warnings = [issue for issue in outcome.warnings if issue.file == name]
        assert summaries[name] == (
            f"created={outcome.keys[name]} updated=0 unchanged=0 rejected={len(rejected)} warnings={len(warnings)}"
        )
        assert issues_of(name, IssueSeverity.REJECTED) == set(rejected)
        assert issues_of(name, IssueSeverity.WARNING) == set(warnings)
        assert ImportBatch.objects.filter(kind=name).latest("pk").encoding == "gbk"
    assert Customer.objects.count() == outcome.keys["customers"]
    assert Vehicle.objects.count() == outcome.keys["vehicles"]
    assert RepairOrder.objects.count() == outcome.keys["repair_orders"]
    assert outcome.rows["customers"] > outcome.keys["customers"]


def test_an_xlsx_sample_is_imported_whole(tmp_path):
    summary = write_sample(tmp_path, "--customers", "40", "--xlsx", "--mess")

    counts = dict(part.split("=") for part in summary.split())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["customers.xlsx", "repair_orders.xlsx", "vehicles.xlsx"]
    summaries = import_all(tmp_path, "xlsx")
    for name in FILES:
        assert summaries[name].startswith(f"created={counts[name]} updated=0 unchanged=0 ")
    assert Customer.objects.count() == 40


def test_the_same_seed_writes_the_same_files_and_another_seed_others(tmp_path):
    for folder, seed in (("one", "5"), ("two", "5"), ("three", "6")):
        write_sample(tmp_path / folder, "--customers", "300", "--seed", seed, "--mess", "--encoding", "utf-8")

    for name in FILES:
        one = (tmp_path / "one" / f"{name}.csv").read_bytes()
        assert one == (tmp_path / "two" / f"{name}.csv").read_bytes()
        assert one != (tmp_path / "three" / f"{name}.csv").read_bytes()
        assert one.startswith(FILES[name][0].encode())  # UTF-8 without a byte order mark, as asked


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--customers", "0"], "--customers must be at least 1."),
        (["--encoding", "klingon"], "Unknown encoding: klingon."),
        (["--encoding", "gbk", "--xlsx"], "--encoding applies to CSV files; an XLSX workbook has none."),
        (["--encoding", "ascii"], "The encoding ascii cannot write “客户编号”."),
        (["--today", "22.11.2026"], "--today must be a date like 2026-11-22, not “22.11.2026”."),
        (["--stores", ","], "--stores must name one or more store codes of at most 20 characters."),
    ],
)
def test_bad_arguments_are_explained(tmp_path, arguments, message):
    with translation.override("en"), pytest.raises(CommandError) as error:
        call_command("dms_sample", str(tmp_path / "out"), "--customers", "5", *arguments, stderr=io.StringIO())

    assert str(error.value) == message


def test_an_unwritable_folder_is_explained(tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")

    with pytest.raises(CommandError) as error:
        call_command("dms_sample", str(tmp_path / "taken"), "--customers", "5", stderr=io.StringIO())

    assert str(error.value).startswith(f"无法写入 {tmp_path / 'taken'}：")  # in the admin's language
    assert not (tmp_path / "taken").is_dir()


def test_samples_of_two_stores_import_side_by_side(tmp_path):
    """The README's walk-through: a sample of NJ01, then a messy one of NJ02; nothing of the first is
    touched by the second (customer numbers, repair order numbers and VINs differ by store)."""
    clean = dms_sample_write(out_dir=tmp_path / "clean", customers=150, today=TODAY, stores=["NJ01"])
    messy = dms_sample_write(out_dir=tmp_path / "messy", customers=150, today=TODAY, stores=["NJ02"], mess=True)
    import_all(tmp_path / "clean")

    summaries = import_all(tmp_path / "messy")

    for name in FILES:
        assert summaries[name].startswith(f"created={messy.keys[name]} updated=0 unchanged=0 ")
    assert Customer.objects.count() == clean.keys["customers"] + messy.keys["customers"]
    assert Vehicle.objects.count() == clean.keys["vehicles"] + messy.keys["vehicles"]
    assert RepairOrder.objects.count() == clean.keys["repair_orders"] + messy.keys["repair_orders"]
    assert set(Vehicle.objects.values_list("brand", flat=True).distinct()) == {"北京现代", "上汽大众"}
