"""Issue 16: the DMS import within 2x its floor. A large CSV file is parsed by two forked workers
(customers/dms_import/importer.py, _parse_with_workers): the stage table, the issues in their
order, the rejected-rows file and the written rows are exactly those of parsing in one process.
The rejected rows are read while the database writes (RejectedRowsReader); clean amounts skip the
parser; and `import_dms` takes several files in one process."""

import csv
import datetime
import io
import multiprocessing

import billiard
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from customers.dms import sources
from customers.dms.sample import FILES, dms_sample_write
from customers.dms.sources import CELL_CHARS_LIMIT
from customers.dms_import import cells, importer
from customers.dms_import.columns import ColumnParser
from customers.models import Customer, ImportBatch, ImportIssue, RepairOrder, Vehicle
from tests.customers.dms_helpers import customer_row, run_import, write_csv

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 22)


@pytest.fixture(autouse=True)
def stores(store_a, store_b, settings):
    settings.LANGUAGE_CODE = "en"  # the messages as written
    return store_a, store_b


CUSTOMER_COLUMNS = ("customer_no", "store__code", "name", "name_pinyin", "name_initials", "gender", "mobile",
                    "landline", "birthday", "employer", "address", "points_balance", "dms_created_date",
                    "dms_fingerprint")  # fmt: skip
VEHICLE_COLUMNS = ("vin", "customer__customer_no", "store__code", "plate_no", "brand", "delivery_date",
                   "invoice_price", "warranty_end", "dms_fingerprint")  # fmt: skip
REPAIR_ORDER_COLUMNS = ("ro_no", "vehicle__vin", "store__code", "open_date", "settle_date", "repair_type", "mileage",
                        "labor_amount", "parts_amount", "total_amount", "dms_fingerprint")  # fmt: skip


def _ahead_stage_tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE starts_with(relname, %s) ORDER BY relname",
                       [importer.AHEAD_STAGE_PREFIX])  # fmt: skip
        return [row[0] for row in cursor.fetchall()]


def _everything_imported(out_dir, *, one_command: bool = False) -> dict:
    """Run the three files (one command each, or ``one_command`` for the three) and read back all an
    import leaves: summaries, issues in order, the rejected-rows files, the rows written and the
    stage tables of files parsed ahead it left behind (then roll it all back)."""
    before = set(_ahead_stage_tables())  # those of the tests before, rolled back, are still there
    with transaction.atomic():
        if one_command:
            out = io.StringIO()
            call_command("import_dms", *[arg for name in FILES for arg in (name, str(out_dir / f"{name}.csv"))],
                         "--no-progress", stdout=out)  # fmt: skip
            summaries = dict(zip(FILES, out.getvalue().strip().splitlines(), strict=True))
        else:
            summaries = {name: run_import(name, out_dir / f"{name}.csv") for name in FILES}
        issues, errors_files = {}, {}
        for name in FILES:
            batch = ImportBatch.objects.filter(kind=name).latest("pk")
            issues[name] = list(
                ImportIssue.objects.filter(batch=batch)
                .order_by("pk")
                .values_list("row_number", "column", "value", "reason", "severity", "reason_params")
            )
            errors_files[name] = batch.errors_file.read() if batch.errors_file else b""
        rows = {
            "customers": list(Customer.objects.order_by("customer_no").values_list(*CUSTOMER_COLUMNS)),
            "vehicles": list(Vehicle.objects.order_by("vin").values_list(*VEHICLE_COLUMNS)),
            "repair_orders": list(RepairOrder.objects.order_by("ro_no").values_list(*REPAIR_ORDER_COLUMNS)),
        }
        left = sorted(set(_ahead_stage_tables()) - before)
        transaction.set_rollback(True)
    return {"summaries": summaries, "issues": issues, "errors_files": errors_files, "rows": rows, "left": left}


@pytest.mark.parametrize(
    ("streamed", "daemonic"),
    [(False, False), (True, False), (False, True)],
    ids=["decoded-whole", "streamed", "in-a-daemonic-process"],
)
def test_two_parse_workers_import_exactly_what_one_process_imports(tmp_path, monkeypatch, streamed, daemonic):
    """Also in a daemonic process, as a Celery worker's pool process is (where the admin's imports
    run): the standard library would refuse it children."""
    outcome = dms_sample_write(out_dir=tmp_path, customers=150, seed=5, today=TODAY, stores=["NJ01", "NJ02"], mess=True)
    if streamed:  # read as a large file is: each worker counts the other's chunks without parsing them
        monkeypatch.setattr(sources, "WHOLE_FILE_DECODE_LIMIT", 0)
    if daemonic:
        monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)
        with pytest.raises(AssertionError, match="daemonic processes are not allowed to have children"):
            multiprocessing.get_context("fork").Process(target=print).start()
    # Small chunks: each worker parses many, and planted rows fall into both workers' chunks.
    monkeypatch.setattr(importer, "STAGE_CHUNK_ROWS", 37)
    monkeypatch.setattr(importer, "PARALLEL_MINIMUM_ROWS", 10**9)
    one_process = _everything_imported(tmp_path)

    calls = []
    parse_with_workers = importer.DmsImport._parse_with_workers

    def counted(self, *args):
        calls.append(self.kind)
        return parse_with_workers(self, *args)

    monkeypatch.setattr(importer.DmsImport, "_parse_with_workers", counted)
    monkeypatch.setattr(importer, "PARALLEL_MINIMUM_ROWS", 1)
    two_workers = _everything_imported(tmp_path)

    assert calls == list(FILES)
    assert two_workers == one_process
    assert one_process["summaries"] == {
        name: f"created={outcome.keys[name]} updated=0 unchanged=0 "
        f"rejected={sum(1 for issue in outcome.rejections if issue.file == name)} "
        f"warnings={sum(1 for issue in outcome.warnings if issue.file == name)}"
        for name in FILES
    }
    assert all(one_process["errors_files"][name] for name in FILES)
    assert len(one_process["rows"]["repair_orders"]) == outcome.keys["repair_orders"]


def test_a_cell_at_the_spreadsheet_limit_in_a_second_workers_chunk_refuses_the_file(tmp_path, monkeypatch):
    rows = [customer_row(f"C{number:04d}", 手机号码=f"138{number:08d}") for number in range(1, 41)]
    rows[25]["详细地址"] = "长" * CELL_CHARS_LIMIT  # row 27, in chunk 2 of 10 rows: the second worker's
    path = write_csv(tmp_path / "customers.csv", rows)
    monkeypatch.setattr(importer, "STAGE_CHUNK_ROWS", 10)
    monkeypatch.setattr(importer, "PARALLEL_MINIMUM_ROWS", 1)

    with pytest.raises(CommandError, match="Row 27 has a cell of 32767 characters or more"):
        run_import("customers", path)

    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("cell", "clean"),
    [("0.00", True), ("225.00", True), ("0.05", True), ("9999999999.99", True), ("10000000000.00", False),
     ("01.00", False), ("1.5", False), ("1,234.00", False), ("-3.00", False), ("2.999", False), ("¥5.00", False)],
)  # fmt: skip
def test_a_clean_amount_is_its_own_parsed_text(cell, clean):
    fast = ColumnParser(cells._money)
    parser = ColumnParser(cells._money)
    parser.clean = None  # every cell through parse_money

    assert bool(fast.clean(cell)) is clean
    assert fast.parse_cell(cell)[0] == parser.parse_cell(cell)[0]
    assert fast.parse_cell(cell)[2:] == parser.parse_cell(cell)[2:]


def test_one_command_imports_several_files_as_the_commands_one_by_one(tmp_path):
    outcome = dms_sample_write(out_dir=tmp_path, customers=60, seed=2, today=TODAY, stores=["NJ01"], mess=True)
    with transaction.atomic():
        one_by_one = [run_import(name, tmp_path / f"{name}.csv") for name in FILES]
        counts = (Customer.objects.count(), Vehicle.objects.count(), RepairOrder.objects.count())
        transaction.set_rollback(True)
    out, err = io.StringIO(), io.StringIO()

    call_command("import_dms", *[arg for name in FILES for arg in (name, str(tmp_path / f"{name}.csv"))],
                 "--no-progress", stdout=out, stderr=err)  # fmt: skip

    assert out.getvalue().strip().splitlines() == one_by_one
    assert (Customer.objects.count(), Vehicle.objects.count(), RepairOrder.objects.count()) == counts
    assert counts == tuple(outcome.keys[name] for name in FILES)
    assert list(ImportBatch.objects.order_by("pk").values_list("kind", flat=True)) == list(FILES)


@pytest.mark.parametrize(
    ("more", "message"),
    [
        (["vehicles"], "Give each further file after its report"),
        (["cars", "v.csv"], "Unknown report “cars”"),
        (["vehicles", "missing.csv"], "Cannot read missing.csv: no such file, or not readable."),
    ],
)
def test_several_files_are_checked_before_the_first_is_imported(tmp_path, monkeypatch, more, message):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "c.csv", [customer_row("C001")])
    write_csv(tmp_path / "v.csv", [customer_row("C002")])

    with pytest.raises(CommandError, match=message):
        call_command("import_dms", "customers", "c.csv", *more, "--no-progress", stdout=io.StringIO())

    assert not ImportBatch.objects.exists()


def test_the_errors_file_takes_one_file(tmp_path):
    write_csv(tmp_path / "c.csv", [customer_row("C001")])

    with pytest.raises(CommandError, match="--errors-file takes one file"):
        call_command("import_dms", "customers", str(tmp_path / "c.csv"), "customers", str(tmp_path / "c.csv"),
                     "--errors-file", str(tmp_path / "e.csv"), "--no-progress", stdout=io.StringIO())  # fmt: skip

    assert not ImportBatch.objects.exists()


def _count_parsed_ahead(monkeypatch, staged: list | None = None) -> tuple[list, list]:
    """(kinds whose files were parsed ahead, kinds whose staging took a parse ahead); ``staged``
    gets the kinds whose stage table the parse ahead wrote itself."""
    started, used = [], []
    start = importer.ParseAhead.start.__func__
    fits = importer.ParseAhead.fits
    take_stage = importer.ParseAhead.take_stage

    def counted_take_stage(self):
        table = take_stage(self)
        if table is not None and staged is not None:
            staged.append(self.parser.kind)
        return table

    monkeypatch.setattr(importer.ParseAhead, "take_stage", counted_take_stage)

    def counted_start(cls, *, kind, **kwargs):
        parsed_ahead = start(cls, kind=kind, **kwargs)
        if parsed_ahead is not None:
            started.append(kind)
        return parsed_ahead

    def counted_fits(self, dms_import, *args):
        fit = fits(self, dms_import, *args)
        if fit:
            used.append(dms_import.kind)
        return fit

    monkeypatch.setattr(importer.ParseAhead, "start", classmethod(counted_start))
    monkeypatch.setattr(importer.ParseAhead, "fits", counted_fits)
    return started, used


@pytest.mark.parametrize(
    ("buffer_bytes", "stage_prefix"),
    [
        (importer.AHEAD_BUFFER_BYTES, importer.AHEAD_STAGE_PREFIX),
        (importer.AHEAD_BUFFER_BYTES, "no_such_schema.dms_ahead_"),  # no stage table: the text waits in memory
        (1, "no_such_schema.dms_ahead_"),
    ],
    ids=["staged-ahead", "kept-in-memory", "kept-a-chunk-at-a-time"],
)
def test_files_parsed_ahead_import_exactly_what_the_commands_one_by_one_import(
    tmp_path, monkeypatch, caplog, buffer_bytes, stage_prefix
):
    """One command with three files parses the vehicles and the repair orders while the file before
    them is written, and writes their stage tables over a second connection: the same summaries,
    issues in order, rejected-rows files and rows, and no stage table left. The same where the
    stage table cannot be made (the parsed text waits for its turn in memory), also when the
    workers wait with a chunk at a time kept ahead."""
    dms_sample_write(out_dir=tmp_path, customers=150, seed=7, today=TODAY, stores=["NJ01", "NJ02"], mess=True)
    monkeypatch.setattr(importer, "AHEAD_BUFFER_BYTES", buffer_bytes)
    monkeypatch.setattr(importer, "AHEAD_STAGE_PREFIX", stage_prefix)
    monkeypatch.setattr(importer, "STAGE_CHUNK_ROWS", 37)
    monkeypatch.setattr(importer, "PARALLEL_MINIMUM_ROWS", 1)
    staged = []
    started, used = _count_parsed_ahead(monkeypatch, staged)
    one_by_one = _everything_imported(tmp_path)
    assert (started, used, staged) == ([], [], [])

    in_one_command = _everything_imported(tmp_path, one_command=True)

    assert started == used == ["vehicles", "repair_orders"]
    assert staged == (used if stage_prefix == "dms_ahead_" else [])
    no_table = [
        record for record in caplog.records if "no stage table for the file parsed ahead" in record.getMessage()
    ]
    assert len(no_table) == (0 if stage_prefix == "dms_ahead_" else 2)  # said, once per file
    assert in_one_command == one_by_one
    assert in_one_command["left"] == []
    assert all(one_by_one["errors_files"][name] for name in FILES)
    assert all(one_by_one["issues"][name] for name in FILES)


def test_a_file_of_a_report_imported_before_it_in_the_command_is_parsed_at_its_turn(tmp_path, monkeypatch):
    """The second customers file finds fingerprints written by the first (a re-import): it is not
    parsed ahead, and is counted unchanged as by a second command."""
    dms_sample_write(out_dir=tmp_path, customers=40, seed=3, today=TODAY, stores=["NJ01"])
    monkeypatch.setattr(importer, "PARALLEL_MINIMUM_ROWS", 1)
    started, used = _count_parsed_ahead(monkeypatch)
    customers = str(tmp_path / "customers.csv")
    out = io.StringIO()

    call_command("import_dms", "customers", customers, "vehicles", str(tmp_path / "vehicles.csv"), "customers",
                 customers, "--no-progress", stdout=out)  # fmt: skip

    assert started == used == ["vehicles"]
    lines = out.getvalue().strip().splitlines()
    assert lines[0] == "created=40 updated=0 unchanged=0 rejected=0 warnings=0"
    assert lines[2] == "created=0 updated=0 unchanged=40 rejected=0 warnings=0"


def test_a_file_that_fails_stops_the_files_parsed_ahead(tmp_path, monkeypatch):
    """The customers file fails in its transaction: the command stops, nothing of it is written, the
    vehicles file parsed ahead is dropped with its workers, and no later batch is made."""
    dms_sample_write(out_dir=tmp_path, customers=40, seed=3, today=TODAY, stores=["NJ01"])
    monkeypatch.setattr(importer, "PARALLEL_MINIMUM_ROWS", 1)
    started, _used = _count_parsed_ahead(monkeypatch)
    cancelled = []
    cancel = importer.ParseAhead.cancel

    def counted_cancel(self):
        cancelled.append(self.parser.kind)
        cancel(self)

    def broken_upsert(self, *args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(importer.ParseAhead, "cancel", counted_cancel)
    monkeypatch.setattr(importer.DmsImport, "_upsert", broken_upsert)

    with pytest.raises(RuntimeError, match="the disk is full"):
        call_command("import_dms", *[arg for name in FILES for arg in (name, str(tmp_path / f"{name}.csv"))],
                     "--no-progress", stdout=io.StringIO())  # fmt: skip

    assert started == ["vehicles", "repair_orders"]
    assert sorted(set(cancelled)) == ["repair_orders", "vehicles"]
    assert not Customer.objects.exists()
    assert list(ImportBatch.objects.values_list("kind", "status")) == [("customers", "failed")]
    assert all(not worker.is_alive() for worker in billiard.active_children() if worker.daemon)


MIXED_COLUMNS = {
    "whole": (cells._whole, ["12000", "0", "", "12,000", "约4790", " 7 ", "-3", "12000", "99999999999"]),
    "money": (cells._money, ["225.00", "", "1,000.00", "0.00", "¥5", "1.5", "225.00", "abc"]),
    "mobile": (cells.parsing.parse_mobile, ["13812345678", "", "+8613812345678", "1381234567", "13812345678"]),
    "key": (cells._key_text(cells.REASON_MISSING_CUSTOMER_NO, 12), ["C001", "", " C002 ", "null", "C" * 13, "C001"]),
    "text": (cells._text(5), ["苏A", "", "NULL", " x ", "abcdef", "a\\b", "a\tb", "'=1+1", "苏A"]),
    "name": (cells._customer_name, ["张伟", "", "  ", "None", "张伟", "王" * 101, "李娜"]),
}  # fmt: skip


@pytest.mark.parametrize("name", MIXED_COLUMNS)
def test_a_column_with_a_few_odd_cells_parses_as_cell_by_cell(name):
    """The column shortcuts (clean cells, plain text) parse only the odd cells of a chunk: the same
    texts and the same problems as parsing every cell."""
    parse, column = MIXED_COLUMNS[name]
    for chunk in (column, [column[0]] * 5 + [column[1]], [column[0]] * 6):
        texts, keys, problems = ColumnParser(parse).column(list(chunk), text_cells=True)
        expected_texts, expected_keys, expected_problems = ColumnParser(parse).cells_column(
            list(chunk), text_cells=True
        )

        assert (texts, list(keys), problems) == (expected_texts, list(expected_keys), expected_problems)


def _awkward_csv_lines() -> list[str]:
    """A header and 60 data rows of three cells each, of every awkward kind: line breaks inside
    quoted cells, a quote inside an unquoted cell, doubled quotes, empty cells, Chinese; every 13th
    row from the 6th blank."""
    cells = ["plain", '"quoted, comma"', '"two\nlines"', '"crlf\r\ninside"', 'mid"quote', '"a""b"', "", '"x"y', "张伟"]
    lines = ["h1,h2,h3"]
    for number in range(60):
        lines.append(
            "" if number % 13 == 5 else ",".join(cells[(number * 7 + offset) % len(cells)] for offset in (0, 1, 2))
        )
    return lines


def _streamed_source(path, lines: list[str], newline: str) -> sources.RowSource:
    """``lines`` written to ``path`` with ``newline`` after each, read back as a row source."""
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    return sources.source_from_path(str(path))


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_the_chunks_a_worker_only_counts_are_the_chunks_the_csv_module_reads(tmp_path, monkeypatch, newline):
    """A streamed CSV file's chunks_of: each chunk's row count and, for the wanted ones, its rows are
    exactly those of chunks(), whatever the quotes (line breaks inside quoted cells, a quote inside
    an unquoted cell, doubled quotes), blank lines and line endings; an unreadable line is refused
    with its line number by the worker whose chunk it is."""
    monkeypatch.setattr(sources, "WHOLE_FILE_DECODE_LIMIT", 0)
    lines = _awkward_csv_lines()
    path = tmp_path / "rows.csv"
    source = _streamed_source(path, lines, newline)
    for size in (1, 4, 7):
        expected = list(source.chunks(size))
        for worker in (0, 1):
            got = list(source.chunks_of(size, lambda index, worker=worker: index % 2 == worker))
            assert [count for count, _rows in got] == [len(chunk) for chunk in expected]
            assert [rows for index, (_count, rows) in enumerate(got) if index % 2 == worker] == expected[worker::2]
            assert all(rows is None for index, (_count, rows) in enumerate(got) if index % 2 != worker)

    # A cell over the csv module's field limit in the 45th data row (the third chunk of 20), refused with
    # the file's line number (later than 42: quoted cells above it hold line breaks):
    lines[45] = "x" * 30 + ",b,c"
    source = _streamed_source(path, lines, newline)
    limit = csv.field_size_limit(20)
    try:
        with pytest.raises(sources.UnreadableFile) as whole:
            list(source.chunks(20))
        assert str(whole.value.message).startswith("Row ")
        # Chunk 2 is worker 0's: it reads it and refuses the file there, at the same line (the other
        # worker only counts its lines; the parent takes the chunks in order and stops at worker 0's).
        with pytest.raises(sources.UnreadableFile) as owner:
            list(source.chunks_of(20, lambda index: index % 2 == 0))
        assert owner.value.message == whole.value.message
    finally:
        csv.field_size_limit(limit)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_the_rows_read_for_the_rejected_rows_report_are_the_rows_the_csv_module_reads(tmp_path, monkeypatch, newline):
    """A streamed CSV file's rows_of (the rejected rows' cells for their report): the rows of the
    numbers asked for, exactly as rows() numbers and splits them, whatever the quotes, blank lines
    and line endings; numbers that are no data row's (the header, past the end) left out; a wanted
    row that is unreadable refused with the same message as reading every row (the rows only
    counted are not split into cells: the import has read every row before)."""
    monkeypatch.setattr(sources, "WHOLE_FILE_DECODE_LIMIT", 0)
    lines = _awkward_csv_lines()
    path = tmp_path / "rows.csv"
    source = _streamed_source(path, lines, newline)
    assert source.open_rows_of is not None  # the streamed file's own reader, not the default walk
    every = dict(enumerate(source.rows(), start=2))
    assert len(every) == 60
    for numbers in (
        [2],
        [61],
        [2, 3, 4],
        list(range(2, 62)),
        list(range(3, 62, 3)),
        [60, 7, 7, 19, 8],
        [7, 61, 62, 99],
        [0, 1, 5],  # the header and before: no data row
    ):
        expected = [(number, every[number]) for number in sorted(set(numbers)) if number in every]
        assert list(source.rows_of(numbers)) == expected
    assert list(source.rows_of([])) == []
    assert list(source.rows_of([62, 100])) == []

    lines[45] = "x" * 30 + ",b,c"
    source = _streamed_source(path, lines, newline)
    limit = csv.field_size_limit(20)
    try:
        with pytest.raises(sources.UnreadableFile) as whole:
            list(source.rows())
        with pytest.raises(sources.UnreadableFile) as wanted:
            list(source.rows_of([44, 46, 50]))  # lines[45] is row 46
        assert wanted.value.message == whole.value.message
        assert [number for number, _row in source.rows_of([3, 44])] == [3, 44]
    finally:
        csv.field_size_limit(limit)


def test_a_stage_table_left_by_a_session_that_is_gone_is_dropped(tmp_path, monkeypatch):
    """A process that died while a file was parsed ahead leaves its stage table (named after its
    database session); the next file parsed ahead drops it, and keeps the table of a session still
    running (an import in progress). The two tables are made by a connection of their own, as the
    dead process's and the running import's were: outside this test's transaction."""
    dms_sample_write(out_dir=tmp_path, customers=40, seed=3, today=TODAY, stores=["NJ01"])
    monkeypatch.setattr(importer, "PARALLEL_MINIMUM_ROWS", 1)
    staged = []
    _count_parsed_ahead(monkeypatch, staged)
    other = connection.copy()
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), (SELECT max(pid) + 1000 FROM pg_stat_activity)")
        live, gone = cursor.fetchone()
    tables = {pid: f"{importer.AHEAD_STAGE_PREFIX}{pid}_0badcafe" for pid in (live, gone)}
    try:
        with other.cursor() as cursor:
            for table in tables.values():
                cursor.execute(f"CREATE UNLOGGED TABLE {table} (row_no integer)")

        call_command("import_dms", "customers", str(tmp_path / "customers.csv"), "vehicles",
                     str(tmp_path / "vehicles.csv"), "--no-progress", stdout=io.StringIO())  # fmt: skip

        assert staged == ["vehicles"]
        left = _ahead_stage_tables()  # (with those of the tests before, rolled back: their session still runs)
        assert tables[live] in left
        assert tables[gone] not in left
    finally:
        with other.cursor() as cursor:
            for table in tables.values():
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
        other.close()
