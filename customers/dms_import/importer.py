"""The DMS import (docs/dms-import.md), set-based so that a dealer group's whole export fits in a minute.

1. **Stage** (outside the transaction, touches no real table): rows are read from the file in chunks
   and parsed column by column: each distinct cell of a column goes once through its parser in
   ``customers.dms.parsing`` (bad field → empty + warning, bad key → rejected), and the parsed texts
   are joined into ``COPY FROM STDIN`` lines for a temporary table at C speed (see ColumnParser).
2. **Apply** (one transaction per file, so a crash leaves the database as before the file): keys
   repeated with different data are rejected (every row of that key), owners / vehicles / stores are
   resolved, each key is classified created / updated / unchanged by comparing the importable
   columns (``IS DISTINCT FROM``), then an ``INSERT … ON CONFLICT (key) DO UPDATE`` writes the
   created rows and another the changed ones (a plain INSERT for the created rows of a table taken
   for a bulk load), each statement writing their django-simple-history rows too, from the rows it
   returns (reason "DMS import #N", the importing user). Only the columns of the DMS report are ever
   written, so data the CRM owns (opt-outs, confidentiality, notes, key flag…) is never touched.

**Re-imports** skip what did not change: each imported key's raw row is fingerprinted (a 64-bit hash
of the mapped cells, the default store and the parsing rules' version, see models.DmsSynced) and
stored on the CRM row with its ``updated_at``, in the apply transaction. Before the stage, a first read of
the file (no parsing) marks the rows whose key has that one fingerprint in the file, a matching
stored one, an untouched CRM row and the same resolved store; those rows are counted unchanged and
never parsed. Rows with a warning get no fingerprint (they are parsed and reported every time);
previews parse everything. Afterwards ``outcome.touched_customer_ids`` names the customers whose
segment facts the import may have changed.

Rejections and warnings are kept as ImportIssue rows (the reason is an English msgid, shown in the
reader's language) and the rejected rows are written to a UTF-8-with-BOM CSV, fixable and
re-importable (the extra "row" and "reason" columns are ignored on import).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import gc
import io
import itertools
import logging
import operator
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import billiard
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.utils import timezone

from crm.bulk import bulk_load
from crm.exceptions import ApplicationError
from crm.models import Store
from customers.choices import ImportKind, IssueSeverity
from customers.dms.reference import (
    FILE_EMPTY,
    KEY_FIELDS,
    NO_DATA_ROWS,
    REASON_CONFLICTING_REPEAT,
    REASON_ERASED,
    REASON_FOREIGN_STORE,
    REASON_NO_NAME,
    REASON_NO_STORE,
    REASON_UNKNOWN_CUSTOMER,
    REASON_UNKNOWN_STORE,
    REASON_UNKNOWN_VIN,
    REFERENCE_HEADERS,
    msgid,
)
from customers.dms.sources import RowSource, cell_too_long, first_overlong_cell_row
from customers.dms_import.cells import Column, import_columns
from customers.dms_import.columns import (
    COLUMN_CACHE_LIMIT,
    COPY_NULL,
    ColumnParser,
    copy_text,
    copy_value,
    transpose,
    value_text,
)
from customers.dms_import.fingerprints import Fingerprinter, FingerprintPass, fingerprint_texts
from customers.dms_import.headers import header_mapping
from customers.dms_import.outcome import FieldChange, ImportOutcome, Issue, RejectedRowsReader, RowChange
from customers.dms_import.targets import MODELS, TARGET_COLUMNS
from customers.models import DMS_SYNC_FIELDS, Customer, ErasedCustomer, ImportBatch, Vehicle
from customers.pinyin import name_search_keys
from customers.privacy import tombstone_reject_sql, tombstone_sql_params

logger = logging.getLogger(__name__)

STAGE_CHUNK_ROWS = 10000
# A CSV file of at least this many rows is parsed by this many processes (see _parse_with_workers).
PARALLEL_MINIMUM_ROWS = 50000
PARSE_WORKERS = 2
# How far the parse workers step back for the database's work when both want a core (see
# _parse_worker): a first import of the three bench files 1.3 s faster at 10 than at 0 (median of six
# interleaved pairs, five of them faster).
PARSE_WORKER_NICENESS = 10
# A file parsed ahead (ParseAhead) keeps at most about this much of its COPY text waiting for its
# turn; then its workers wait (a very large export is not held whole in memory).
AHEAD_BUFFER_BYTES = 256 * 1024 * 1024
# The stage keeps the cells of the rows it parses in this process, when they are at most this many (a
# small file, a re-import's changed rows), for the rejected-rows report: it then reads no file again.
RAW_ROWS_KEPT = 20000
# The repeated keys' pass reads only the keys the parse saw on more than one row when there are at
# most this many of them (a literal array); more (an export with a row per line item), the whole stage.
REPEATED_KEYS_LISTED = 10000
# The tables the staging rows are matched against, named by their models (never by hand).
STORE_TABLE = Store._meta.db_table
CUSTOMER_TABLE = Customer._meta.db_table
VEHICLE_TABLE = Vehicle._meta.db_table
ERASED_TABLE = ErasedCustomer._meta.db_table
# A preview shows what changes on this many updated rows (and counts them all).
PREVIEW_CHANGES = 200
IMPORT_WORK_MEM = "128MB"
# The stage table's columns the apply joins on (store, owner / vehicle, the key; a customer's mobile
# and name for the provisional cards) and groups by (the key): the only ones it has statistics of.
STAGE_STATISTICS = {
    ImportKind.CUSTOMERS: ("row_no", "customer_no", "store_code", "mobile", "name"),
    ImportKind.VEHICLES: ("row_no", "vin", "customer_no", "store_code"),
    ImportKind.REPAIR_ORDERS: ("row_no", "ro_no", "vin", "store_code"),
}
# A file parsed ahead is staged by a second connection into a table of this name + the backend ID of
# the importing connection + a random part (see ParseAhead).
AHEAD_STAGE_PREFIX = "dms_ahead_"


def stage_statistics_sql(kind: str, table: str) -> str:
    """ANALYZE of a stage table: statistics of the columns the apply joins and groups on only (a full
    ANALYZE also sorts a sample of every text column: a third of the stage's cost for repair orders)."""
    return f"ANALYZE {table} ({', '.join(STAGE_STATISTICS[kind])})"


@contextlib.contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Reading a file makes millions of short-lived cells and rows; the cyclic garbage collector
    would walk every live object again and again for nothing (none of them forms a cycle), which
    doubled the time to read a file. Reference counting still frees them as they go."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class DmsImport(FingerprintPass):
    """One file through stage and apply; see the module docstring."""

    def __init__(
        self,
        *,
        batch: ImportBatch,
        source: RowSource,
        progress: Callable[[int], None] | None = None,
        parsed_ahead: ParseAhead | None = None,
        on_staged: Callable[[], None] | None = None,
    ):
        """``parsed_ahead``: this file already being parsed (see ParseAhead); ``on_staged``: called
        once the file is staged, before its transaction (the command starts parsing the next files)."""
        self.batch = batch
        self.kind = batch.kind
        self.source = source
        self.progress = progress
        self.columns = import_columns(self.kind)
        self.outcome = ImportOutcome(batch=batch)
        self.stage_table = f"dms_stage_{batch.pk}"
        self.ahead_stage: str | None = None  # the stage table a ParseAhead wrote, used instead
        self.rejected_rows: set[int] = set()  # row numbers
        self.parse_rows: set[int] | None = None  # after a fingerprint pass: the rows that may have changed
        self.skipped_keys = 0  # keys found unchanged by the fingerprint pass
        self.pinyin_cache: dict[str, tuple[str, str]] = {}  # name's COPY text → COPY texts of its pinyin, initials
        self.rows_read = 0
        self.allowed_store_ids: list[int] | None = None
        self.raw_rows: dict[int, list[str]] = {}  # parsed rows as in the file (see RAW_ROWS_KEPT)
        self.parsed_ahead = parsed_ahead
        self.on_staged = on_staged
        self.written_ids: list[int] = []  # customers: the ids of the cards the upsert wrote
        # The staged rows' keys (COPY texts) and how many rows have each, counted as the rows are
        # parsed: the repeated keys' pass then reads just those keys. None: not counted (read them all).
        self.key_counts: collections.Counter | None = collections.Counter()

    # -- plan and reading -------------------------------------------------------------------

    def _plan(self) -> list[tuple[Column, int | None]]:
        if not any(self.source.header):
            raise ApplicationError(str(FILE_EMPTY))
        mapping = header_mapping(kind=self.kind, header=self.source.header, profile=self.batch.profile)
        positions = {field_name: index for index, field_name in mapping.items()}
        return [(column, positions.get(column.field)) for column in self.columns]

    def _chunks(
        self, only: set[int] | None = None, *, report: bool = True
    ) -> Iterator[tuple[list[int], list[Sequence[object]]]]:
        """The file's data rows in chunks of (row numbers, rows), blank lines left out; with ``only``,
        just the rows of those numbers (the file is not read at all when there are none). The header
        is row 1, so data starts at row 2."""
        if only is not None and not only:
            return
        first = 2
        for rows in self.source.chunks(STAGE_CHUNK_ROWS):
            count = len(rows)
            numbers, rows = self._chunk_rows(first, rows, only)
            first += count
            if rows:
                yield list(numbers), rows
            if report and self.progress:
                self.progress(first - 2)
        self.rows_read = first - 2

    def _chunk_rows(self, first: int, rows: list, only: set[int] | None) -> tuple:
        """One chunk read from the file, its first row numbered ``first``: (its row numbers, its rows),
        without blank lines (and only the rows of ``only``). Refuses a cell at the spreadsheet limit."""
        overlong = first_overlong_cell_row(rows, text_cells=self.source.text_cells)
        if overlong is not None:
            raise cell_too_long(row=first + overlong)
        numbers = range(first, first + len(rows))
        if only is not None:
            kept = [(number, row) for number, row in zip(numbers, rows, strict=True) if number in only]
            numbers = [number for number, _row in kept]
            rows = [row for _number, row in kept]
        if not all(map(any, rows)):
            kept = [
                (number, row)
                for number, row in zip(numbers, rows, strict=True)
                if any(row) or any(cell is not None and cell != "" for cell in row)  # not a blank line
            ]
            numbers = [number for number, _row in kept]
            rows = [row for _number, row in kept]
        return numbers, rows

    def _params(self) -> dict:
        return {
            "default_store": self.batch.store.code if self.batch.store_id else None,
            "allowed": self.allowed_store_ids or [],
            "kind": self.kind,
        }

    # -- stage --------------------------------------------------------------------------------

    def _has_data_rows(self) -> bool:
        rows = self.source.rows()
        try:
            return any(any(cell is not None and cell != "" for cell in row) for row in rows)
        finally:
            getattr(rows, "close", lambda: None)()

    def _stage(self, *, use_fingerprints: bool) -> None:
        plan = self._plan()
        if not self._has_data_rows():
            raise ApplicationError(str(NO_DATA_ROWS))
        fingerprint = self._fingerprinter(plan)
        if use_fingerprints and MODELS[self.kind].objects.filter(dms_fingerprint__isnull=False).exists():
            started = time.monotonic()
            self._fingerprint_pass(plan)
            self.outcome.timings["fingerprints"] = time.monotonic() - started
        parsers = [ColumnParser(column.parser) if index is not None else None for column, index in plan]
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.stage_table}")
            cursor.execute(f"CREATE TEMP TABLE {self.stage_table} {self._stage_columns()}")
            raw = cursor.cursor
            parsed_rows = 0
            if self.parsed_ahead is not None and not self._parse_in_parallel():
                self.parsed_ahead.cancel()  # a re-import after all (the table has fingerprints now)
                self.parsed_ahead = None
            if self._parse_in_parallel():
                parsed_rows = self._parse_with_workers(raw, plan, parsers, fingerprint)
            else:
                # After a fingerprint pass (which showed the progress of reading the file) only the
                # rows that may have changed are parsed: the bar does not start again.
                to_parse = len(self.parse_rows) if self.parse_rows is not None else self.source.total_rows
                keep = to_parse is not None and to_parse <= RAW_ROWS_KEPT
                for numbers, rows in self._chunks(self.parse_rows, report=self.parse_rows is None):
                    parsed_rows += len(rows)
                    if keep:  # every row the import may reject is among these: see _apply
                        self.raw_rows.update(zip(numbers, [[value_text(cell) for cell in row] for row in rows],
                                                 strict=True))  # fmt: skip
                    lines, keys = self._parse_chunk(numbers, rows, plan, parsers, fingerprint)
                    self._count_keys(keys)
                    if lines:
                        raw.copy_expert(f"COPY {self.stage_table} FROM STDIN", io.StringIO("\n".join(lines) + "\n"))
            self.outcome.parsed_rows = parsed_rows
            if self.progress:
                self.progress(self.rows_read)
            if self.ahead_stage is not None:  # written and measured while the file before was
                cursor.execute(f"DROP TABLE {self.stage_table}")
                self.stage_table = self.ahead_stage
            else:
                cursor.execute(stage_statistics_sql(self.kind, self.stage_table))

    def _stage_columns(self) -> str:
        """The stage table's columns, as in CREATE TABLE: the row number, the report's columns as
        parsed, a customer name's pinyin and initials, the row's fingerprint."""
        extra = ", name_pinyin text, name_initials text" if self.kind == ImportKind.CUSTOMERS else ""
        column_sql = ", ".join(f"{column.field} {column.sql_type}" for column in self.columns)
        return f"(row_no integer, {column_sql}{extra}, fp bigint)"

    def _parse_in_parallel(self) -> bool:
        """Whether the whole file is parsed by PARSE_WORKERS processes: a large CSV file read in full
        (not a re-import's few changed rows), on a machine with more than one core where processes
        can be forked (elsewhere the file is parsed in this process). The admin's imports run in a
        Celery worker's pool process, which is daemonic: the workers are started by billiard (see
        ParseWorkers), which lets such a process have children."""
        return (
            self.parse_rows is None
            and self.source.text_cells
            and (self.source.total_rows or 0) >= PARALLEL_MINIMUM_ROWS
            and (os.cpu_count() or 1) > 1
            and "fork" in billiard.get_all_start_methods()
        )

    def _parse_with_workers(self, raw, plan, parsers, fingerprint) -> int:
        """Parse the file in PARSE_WORKERS forked processes, chunk i by worker i % PARSE_WORKERS
        (each reads the file and parses its own chunks with its own copy of the parsers), while
        this process copies their COPY lines into the stage table in file order, adds their issues
        in file order and reports the progress: the same stage table, issues and rejected rows as
        parsing here, in about half the time on two cores. Returns the number of rows parsed. A
        file parsed ahead (ParseAhead: while the file before it was written) gives the same
        messages, already received."""
        ahead, self.parsed_ahead = self.parsed_ahead, None
        if ahead is not None and ahead.fits(self, plan, fingerprint):
            try:
                parsed_rows = self._copy_parsed(raw, ahead.messages())
                self.ahead_stage = ahead.take_stage()
                self.key_counts = ahead.key_counts()  # its messages carry no keys: counted as they came
                return parsed_rows
            finally:
                ahead.cancel()
        if ahead is not None:
            ahead.cancel()
        workers = ParseWorkers(self, plan, parsers, fingerprint)
        try:
            return self._copy_parsed(raw, workers.messages())
        finally:
            workers.stop()

    def _copy_parsed(self, raw, messages: Iterator[tuple]) -> int:
        """The workers' messages in file order into the stage table, the issues and the progress."""
        parsed_rows = 0
        for message in messages:
            kind = message[0]
            if kind == "error":
                raise message[1]
            if kind == "end":
                self.rows_read = message[1] - 2
                break
            _kind, next_row, payload, issues, rejected, count, keys = message
            parsed_rows += count
            self._count_keys(keys)
            self.outcome.issues.extend(issues)
            self.rejected_rows.update(rejected)
            if payload:
                raw.copy_expert(f"COPY {self.stage_table} FROM STDIN", io.BytesIO(payload))
            if self.progress:
                self.progress(next_row - 2)
        return parsed_rows

    def _parse_worker(self, number: int, sender, plan, parsers, fingerprint, go=None) -> None:
        """A parse worker (a forked child: it never touches the database connection). Sends, for
        each of its chunks in order, ("chunk", next row number, COPY text in UTF-8, issues, rejected
        row numbers, rows parsed, the staged rows' keys); after the last chunk of the file ("end",
        next row number) from the worker whose turn it is; on an error ("error", exception) at the
        chunk where it happened.
        ``go``: an event to wait for first (a file parsed ahead starts once the one before it is)."""
        gc.disable()  # as _without_cyclic_gc: a worker only makes short-lived cells and rows
        # Forked from a Celery pool process, a worker has that process's signal handlers; ParseWorkers
        # ends its workers with SIGTERM.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # A worker's parse is what the machine does while this connection writes (a file parsed
        # ahead while the file before it is written; its stage's COPY while its own file is read):
        # the writes are the import's critical path, so the workers yield the CPU to them.
        with contextlib.suppress(OSError):
            os.nice(PARSE_WORKER_NICENESS)
        if go is not None:
            go.wait()

        def mine(chunk_index: int) -> bool:  # this worker's chunks; the others are only counted
            return chunk_index % PARSE_WORKERS == number

        first = 2
        index = -1
        try:
            chunks = self.source.chunks_of(STAGE_CHUNK_ROWS, mine)
            for index, (count, rows) in enumerate(chunks):  # noqa: B007 - the last index is read after the loop
                chunk_first = first
                first += count
                if rows is None:  # another worker's chunk: only counted
                    continue
                numbers, rows = self._chunk_rows(chunk_first, rows, None)
                payload, issues, rejected, keys = b"", [], [], []
                if rows:
                    issues_before = len(self.outcome.issues)
                    self.rejected_rows.clear()
                    lines, keys = self._parse_chunk(list(numbers), rows, plan, parsers, fingerprint)
                    payload = ("\n".join(lines) + "\n").encode() if lines else b""
                    issues = self.outcome.issues[issues_before:]
                    del self.outcome.issues[issues_before:]
                    rejected = sorted(self.rejected_rows)
                sender.send(("chunk", first, payload, issues, rejected, len(rows), keys))
            if (index + 1) % PARSE_WORKERS == number:
                sender.send(("end", first))
        except Exception as error:  # the parent raises it at this chunk, in file order
            try:
                try:
                    sender.send(("error", error))
                except (TypeError, AttributeError, pickle.PicklingError):  # not picklable: the same message
                    sender.send(("error", ApplicationError(str(getattr(error, "message", error)))))
            except OSError:  # the parent stopped listening (it failed or was stopped itself)
                pass
        finally:
            sender.close()

    def _parse_chunk(self, numbers: list[int], rows: list, plan: list[tuple[Column, int | None]],
                     parsers: list[ColumnParser | None],
                     fingerprint: Fingerprinter) -> tuple[list[str], list[str] | None]:  # fmt: skip
        """COPY lines of one chunk, column by column: each distinct cell of a column is parsed once,
        and the parsed texts are joined into lines at C speed. A bad field is NULL with a warning, an
        unusable key rejects the row; a row with a warning gets no fingerprint. Also the key (its
        COPY text) of each line, for the repeated keys' pass (None when the key is not mapped)."""
        count = len(rows)
        header = self.source.header
        raw_columns = transpose(rows, [index for _column, index in plan])
        text_cells = self.source.text_cells
        columns: list = [list(map(str, numbers))]
        problems: list[tuple[int, int, Issue]] = []  # (row position in chunk, plan position, issue)
        rejected: set[int] = set()
        warned: set[int] = set()
        name_texts = None
        for position, ((column, index), parser) in enumerate(zip(plan, parsers, strict=True)):
            if parser is None:
                columns.append(itertools.repeat(COPY_NULL, count))
                if column.field == "name" and self.kind == ImportKind.CUSTOMERS:
                    # A customers file without a name column: every row is a row without a name.
                    warned.update(range(count))
                    problems.extend(
                        (row_position, position, Issue(number, "", "", msgid(REASON_NO_NAME), IssueSeverity.WARNING))
                        for row_position, number in enumerate(numbers)
                    )
                continue
            cells = raw_columns[position]
            texts, keys, bad = parser.column(cells, text_cells=text_cells)
            columns.append(texts)
            if column.field == "name" and self.kind == ImportKind.CUSTOMERS:
                name_texts = texts
            if not bad:
                continue
            # The rows of the bad keys, found at C speed (not a Python loop over every row).
            for row_position in itertools.compress(itertools.count(), map(bad.__contains__, keys)):
                key = keys[row_position]
                _text, _value, severity, reasons = bad[key]
                (rejected if severity == IssueSeverity.REJECTED else warned).add(row_position)
                for reason, reason_params in reasons:
                    issue = Issue(numbers[row_position], header[index], value_text(cells[row_position]), reason,
                                  severity, reason_params)  # fmt: skip
                    problems.append((row_position, position, issue))
        if self.kind == ImportKind.CUSTOMERS:
            columns.extend(self._pinyin_columns(name_texts if name_texts is not None else [COPY_NULL] * count))
        mapped_columns = [cells for cells in raw_columns if cells is not None]
        fingerprints = fingerprint.many(rows, mapped_columns, text_cells=text_cells)
        for row_position in warned:
            fingerprints[row_position] = None
        columns.append(fingerprint_texts(fingerprints))
        problems.sort(key=operator.itemgetter(0, 1))
        for _row_position, _position, issue in problems:
            self.outcome.issues.append(issue)
            if issue.severity == IssueSeverity.REJECTED:
                self.rejected_rows.add(issue.row_number)
        lines = list(map("\t".join, zip(*columns, strict=False)))  # some columns repeat NULL
        key_position = self._key_position(plan)
        keys = list(columns[1 + key_position]) if key_position is not None else None
        if rejected:
            kept = [True] * count
            for row_position in rejected:
                kept[row_position] = False
            lines = list(itertools.compress(lines, kept))
            if keys is not None:
                keys = list(itertools.compress(keys, kept))
        return lines, keys

    def _key_position(self, plan) -> int | None:
        """The key's position in the plan, None when the file has no column for it."""
        key = KEY_FIELDS[self.kind]
        for position, (column, index) in enumerate(plan):
            if column.field == key:
                return position if index is not None else None
        return None

    def _count_keys(self, keys: list[str] | None) -> None:
        if self.key_counts is None:
            return
        if keys is None:
            self.key_counts = None
        else:
            self.key_counts.update(keys)

    def _repeated_keys(self) -> list[str] | None:
        """The keys on more than one staged row, as values (COPY's escapes undone), when the parse
        counted them and they are few; None: find them in the stage."""
        if self.key_counts is None:
            return None
        repeated = [key for key, count in self.key_counts.items() if count > 1 and key != COPY_NULL]
        if len(repeated) > REPEATED_KEYS_LISTED:
            return None
        return sorted(map(copy_value, repeated))

    def _pinyin_columns(self, name_texts: list[str]) -> tuple[list[str], list[str]]:
        """The full pinyin and initials (COPY texts) of each row's name, from the name column's COPY
        texts (COPY_NULL: no name): computed once per distinct name (and remembered across chunks),
        then spread over the rows at C speed. A name's COPY text stands for it exactly (copy_value
        gives it back), so the parsed names need not be made again."""
        cache = self.pinyin_cache
        chunk_keys = {}
        for text in dict.fromkeys(name_texts):
            keys = cache.get(text)
            if keys is None:
                name = None if text == COPY_NULL else copy_value(text)
                keys = name_search_keys(name) if name else ("", "")
                keys = tuple(copy_text(key) for key in keys)
                if len(cache) < COLUMN_CACHE_LIMIT:
                    cache[text] = keys
            chunk_keys[text] = keys
        pairs = list(map(chunk_keys.__getitem__, name_texts))
        return list(map(operator.itemgetter(0), pairs)), list(map(operator.itemgetter(1), pairs))

    # -- apply --------------------------------------------------------------------------------

    def _compare_fields(self) -> list[str]:
        return [column.field for column in self.columns]

    def _resolve_sql(self) -> str:
        """Resolved rows: the stage row with its store (and owner / vehicle) IDs and a reject reason."""
        default_code = "%(default_store)s"
        store_expression = f"coalesce(nullif(s.store_code, ''), {default_code})"
        # Rows of a customer erased at their request (PIPL) never come back (customers/privacy.py).
        # Looked up row by row only when the statement sees any erased customer at all (an InitPlan,
        # run once, in the statement's own snapshot): 100,000 customers' SHA-256 of the mobile and
        # two index probes each took 0.10-0.29 s, nothing once (0.03 s), when nobody was erased.
        erased = (
            f"CASE WHEN (SELECT EXISTS (SELECT 1 FROM {ERASED_TABLE})) "
            f"THEN {tombstone_reject_sql(kind=self.kind, stage='s', store='st', vehicle='v')} ELSE false END"
        )
        if self.kind == ImportKind.CUSTOMERS:
            return f"""
                SELECT s.*, st.id AS store_id,
                       CASE WHEN {erased} THEN 'erased'
                            WHEN st.id IS NULL AND {store_expression} IS NULL THEN 'no_store'
                            WHEN st.id IS NULL THEN 'unknown_store' END AS reject
                FROM {self.stage_table} s LEFT JOIN {STORE_TABLE} st ON st.code = {store_expression}
            """
        if self.kind == ImportKind.VEHICLES:
            return f"""
                SELECT s.*, c.id AS customer_id, coalesce(st.id, c.store_id) AS store_id,
                       CASE WHEN {erased} THEN 'erased'
                            WHEN c.id IS NULL THEN 'unknown_customer'
                            WHEN st.id IS NULL AND {store_expression} IS NOT NULL THEN 'unknown_store' END AS reject
                FROM {self.stage_table} s
                LEFT JOIN {CUSTOMER_TABLE} c ON c.customer_no = s.customer_no
                LEFT JOIN {STORE_TABLE} st ON st.code = {store_expression}
            """
        return f"""
            SELECT s.*, v.id AS vehicle_id, coalesce(st.id, v.store_id) AS store_id,
                   CASE WHEN {erased} THEN 'erased'
                        WHEN v.id IS NULL THEN 'unknown_vin'
                        WHEN st.id IS NULL AND {store_expression} IS NOT NULL THEN 'unknown_store' END AS reject
            FROM {self.stage_table} s
            LEFT JOIN {VEHICLE_TABLE} v ON v.vin = s.vin
            LEFT JOIN {STORE_TABLE} st ON st.code = {store_expression}
        """

    REJECT_REASONS = {
        "no_store": REASON_NO_STORE,
        "unknown_store": REASON_UNKNOWN_STORE,
        "unknown_customer": REASON_UNKNOWN_CUSTOMER,
        "unknown_vin": REASON_UNKNOWN_VIN,
        "conflict": REASON_CONFLICTING_REPEAT,
        "foreign_store": REASON_FOREIGN_STORE,
        "erased": REASON_ERASED,
    }

    def _apply(self, *, allowed_store_ids: list[int] | None, dry_run: bool) -> None:
        kind = self.kind
        key = KEY_FIELDS[kind]
        model = MODELS[kind]
        table = model._meta.db_table
        targets = TARGET_COLUMNS[kind]
        compare = [column for column in targets if column not in ("name_pinyin", "name_initials")]
        params = {
            "default_store": self.batch.store.code if self.batch.store_id else None,
            "allowed": allowed_store_ids or [],
            **tombstone_sql_params(),
        }
        clean = f"dms_clean_{self.batch.pk}"
        fields = self._compare_fields()
        timings = self.outcome.timings
        with connection.cursor() as cursor:
            started = time.monotonic()
            self._adopt_provisional(cursor, allowed_store_ids=allowed_store_ids)
            timings["adopt"] = time.monotonic() - started
            started = time.monotonic()
            # Keys on more than one row: an exact repeat keeps its first row, a key repeated with
            # different data rejects every row of the key.
            # The parse counted the keys: one scan of the stage for the few repeated ones (the
            # GROUP BY of every key took 0.42 s for the repair orders' 542,000 rows on a busy machine).
            repeated = self._repeated_keys()
            candidates = (
                f"SELECT {key} FROM {self.stage_table} GROUP BY {key} HAVING count(*) > 1"
                if repeated is None
                else "SELECT unnest(%(repeated)s::text[])"
            )
            cursor.execute(
                f"""
                CREATE TEMP TABLE dms_repeat_{self.batch.pk} AS
                SELECT s.{key} AS key, min(s.row_no) AS first_row,
                       count(DISTINCT ROW({", ".join("s." + name for name in fields)})) > 1 AS conflict
                FROM {self.stage_table} s
                WHERE s.{key} IN ({candidates})
                GROUP BY s.{key} HAVING count(*) > 1
                """,
                {"repeated": repeated},
            )
            # Its few rows measured (1 ms): unmeasured, the planner guessed 1,250 of them and hashed
            # the whole resolved file against it instead of it (542,000 repair orders: 81 MB, and
            # the classify 1.40 s against 1.03 s, medians of 3 on a loaded machine).
            cursor.execute(f"ANALYZE dms_repeat_{self.batch.pk}")
            foreign = (
                "" if allowed_store_ids is None else "WHEN NOT (r0.store_id = ANY(%(allowed)s)) THEN 'foreign_store'"
            )
            timings["repeats"] = time.monotonic() - started

            # Every row resolved (store, owner / vehicle) and, when it is its key's row and nothing
            # rejects it, classified against the target table: created, updated or unchanged.
            # OFFSET 0 keeps r0 a subquery computed once per row: flattened, its reject (with the
            # erased-customer look-ups and their SHA-256 of the mobile) was copied into every use of
            # the reason below, six times over, and the inflated cost estimate turned JIT on.
            started = time.monotonic()
            new_values = ", ".join(expression for column, expression in targets.items() if column in compare)
            old_values = ", ".join(f"t.{column}" for column in compare)
            select_list = ", ".join(f"{expression} AS {column}" for column, expression in targets.items())
            previous = {ImportKind.VEHICLES: "t.customer_id", ImportKind.REPAIR_ORDERS: "t.vehicle_id"}.get(
                kind, "t.id"
            )
            cursor.execute(
                f"""
                CREATE TEMP TABLE {clean} AS
                SELECT {select_list}, r.row_no, r.fp, r.reason, {previous} AS previous_ref,
                       t.updated_at AS target_updated_at, t.dms_fingerprint AS target_fp,
                       t.dms_synced_at AS target_synced_at,
                       CASE WHEN r.reason IS NOT NULL OR r.repeat_row THEN NULL
                            WHEN t.id IS NULL THEN '+'
                            WHEN ROW({old_values}) IS NOT DISTINCT FROM ROW({new_values}) THEN '='
                            ELSE '~' END AS action
                FROM (
                    SELECT r0.*,
                           CASE WHEN k.conflict THEN 'conflict' WHEN r0.reject IS NOT NULL THEN r0.reject
                                {foreign} END AS reason,
                           coalesce(NOT k.conflict AND r0.row_no <> k.first_row, false) AS repeat_row
                    FROM ({self._resolve_sql()} OFFSET 0) r0
                    LEFT JOIN dms_repeat_{self.batch.pk} k ON k.key = r0.{key}
                ) r
                LEFT JOIN {table} t ON t.{key} = r.{key} AND r.reason IS NULL AND NOT r.repeat_row
                """,
                params,
            )
            # The counts of each action and the rejected rows with their reasons in one pass over
            # the classified rows; the rejections in file order whatever plan made the table (its
            # rows usually are, but nothing promises it).
            cursor.execute(f"SELECT action, reason, count(*), array_agg(row_no) FILTER (WHERE reason IS NOT NULL) "
                           f"FROM {clean} GROUP BY action, reason")  # fmt: skip
            counts, rejections = {}, []
            for action, reason, count, row_numbers in cursor.fetchall():
                if action is not None:
                    counts[action] = count
                if reason is not None:
                    rejections.extend((row_number, reason) for row_number in row_numbers)
            for row_number, reason in sorted(rejections):
                message = msgid(self.REJECT_REASONS[reason])
                self.rejected_rows.add(row_number)
                self.outcome.issues.append(Issue(row_number, "", "", message, IssueSeverity.REJECTED))
            self.outcome.created = counts.get("+", 0)
            self.outcome.updated = counts.get("~", 0)
            self.outcome.unchanged = counts.get("=", 0)
            # Keys skipped as unchanged (never in the stage: all their rows were skipped).
            self.outcome.unchanged += self.skipped_keys
            timings["classify"] = time.monotonic() - started
            if self.rejected_rows:
                # Every rejection is known now: their rows are read from the file for the report
                # while the database writes (the file is not read again afterwards).
                self.outcome.rejected_rows_reader = RejectedRowsReader(
                    self.source, sorted(self.rejected_rows), known=self.raw_rows
                )
            if dry_run:
                cursor.execute(f"SELECT {key}, action FROM {clean} WHERE action IS NOT NULL ORDER BY row_no LIMIT 1000")
                for key_value, action in cursor.fetchall():
                    {"+": self.outcome.created_keys, "~": self.outcome.changed_keys, "=": self.outcome.unchanged_keys}[
                        action
                    ].append(key_value)
                self.outcome.changes = self._changed_rows(cursor, table=table, key=key, compare=compare)
                return

            # A first import (or one that at least doubles a table) builds the table's indexes once
            # after writing, instead of row by row: see crm.bulk.
            self.now = timezone.now()
            written = self.outcome.created + self.outcome.updated
            # The history rows are written by the upsert's own statement, from the rows it returns
            # (not read back from the table and joined to the classified rows afterwards). "upsert"
            # times the write and the table's indexes, "history" the history's indexes.
            history = model.history.model if hasattr(model, "history") else None
            history_bulk = False
            started = time.monotonic()
            with bulk_load(cursor, table, new_rows=self.outcome.created) as bulk:
                if history is None:
                    self._upsert(cursor, table=table, key=key, targets=targets, table_taken=bulk, history=None)
                    history_seconds = 0.0
                else:
                    with bulk_load(cursor, history._meta.db_table, new_rows=written, analyze=False) as history_bulk:
                        self._upsert(cursor, table=table, key=key, targets=targets, table_taken=bulk, history=history)
                        history_started = time.monotonic()
                    history_seconds = time.monotonic() - history_started
            timings["upsert"] = time.monotonic() - started - history_seconds
            timings["history"] = history_seconds
            if bulk:
                self.outcome.bulk_loaded.append(table)
            if history_bulk:
                self.outcome.bulk_loaded.append(history._meta.db_table)
            started = time.monotonic()
            self._confirm_unchanged(cursor, table=table, key=key, unchanged=counts.get("=", 0))
            timings["confirm"] = time.monotonic() - started
            self.outcome.touched_customer_ids = self._touched_customer_ids(cursor)

    # A changed row's reference columns are shown by what staff know them by.
    REFERENCE_DISPLAY = {
        "store_id": (STORE_TABLE, "code"),
        "customer_id": (CUSTOMER_TABLE, "customer_no"),
        "vehicle_id": (VEHICLE_TABLE, "vin"),
    }

    def _changed_rows(self, cursor, *, table: str, key: str, compare: list[str]) -> list[RowChange]:
        """What a preview shows of the updated rows: the first PREVIEW_CHANGES of them in file order,
        each with its changed columns (old → new), read in one query over the classified rows (never
        a query per row); ``outcome.updated`` counts them all."""
        model = MODELS[self.kind]
        selects, joins = [], []
        for position, column in enumerate(compare):
            reference = self.REFERENCE_DISPLAY.get(column)
            if reference is None:
                selects.append(f"t.{column}::text, c.{column}::text")
            else:
                ref_table, ref_column = reference
                joins.append(f"LEFT JOIN {ref_table} o{position} ON o{position}.id = t.{column} "
                             f"LEFT JOIN {ref_table} n{position} ON n{position}.id = c.{column}")  # fmt: skip
                selects.append(f"o{position}.{ref_column}::text, n{position}.{ref_column}::text")
        cursor.execute(
            f"""
            SELECT c.row_no, c.{key}, {", ".join(selects)}
            FROM dms_clean_{self.batch.pk} c JOIN {table} t ON t.{key} = c.{key} {" ".join(joins)}
            WHERE c.action = '~' ORDER BY c.row_no LIMIT %s
            """,
            [PREVIEW_CHANGES],
        )
        fields = {model_field.column: model_field for model_field in model._meta.concrete_fields}
        # The column's header in the reference format; a reference column names the field it resolves.
        headers = {field: header for header, field in REFERENCE_HEADERS[self.kind].items()}
        headers.update({"store_id": headers["store_code"], "dms_created_date": headers.get("created_date", "")})
        headers.setdefault("customer_id", headers.get("customer_no", ""))
        headers["vehicle_id"] = headers.get("vin", "")
        changes = []
        for row in cursor.fetchall():
            row_number, key_value, values = row[0], row[1], row[2:]
            fields_changed = []
            for position, column in enumerate(compare):
                old, new = values[2 * position], values[2 * position + 1]
                if old == new or (old in (None, "") and new in (None, "")):
                    continue
                label = headers.get(column) or str(fields[column].verbose_name)
                fields_changed.append(FieldChange(label, fields[column], old, new))
            changes.append(RowChange(row_number, key_value, fields_changed))
        return changes

    def _adopt_provisional(self, cursor, *, allowed_store_ids: list[int] | None) -> None:
        """Cards made in the CRM (provisional numbers, docs/desk.md) take the DMS customer number
        before the rows are classified, so that the import updates them instead of creating a second
        card: a customer row whose number is new to the CRM adopts the one provisional card of its
        store with exactly its mobile and name; a vehicle row whose VIN is on a provisional card
        and whose customer number is new to the CRM adopts that card. Only one-to-one matches are
        adopted (two candidates either way: nothing is guessed). Each adoption is a line of the
        card's history naming the batch and the provisional number; the DMS values follow in the
        ordinary update, and everything the CRM recorded stays on the same row."""
        if self.kind == ImportKind.CUSTOMERS:
            pairs = f"""
                SELECT DISTINCT s.customer_no AS dms_no, p.id AS customer_id, p.customer_no AS old_no
                FROM {self.stage_table} s
                JOIN {STORE_TABLE} st ON st.code = coalesce(nullif(s.store_code, ''), %(default_store)s)
                JOIN {CUSTOMER_TABLE} p ON p.is_provisional AND p.store_id = st.id
                     AND p.mobile = s.mobile AND p.name = s.name
                WHERE s.customer_no IS NOT NULL AND coalesce(s.mobile, '') <> '' AND coalesce(s.name, '') <> ''
                  AND (%(every_store)s OR st.id = ANY(%(allowed)s))"""
        elif self.kind == ImportKind.VEHICLES:
            pairs = f"""
                SELECT DISTINCT s.customer_no AS dms_no, p.id AS customer_id, p.customer_no AS old_no
                FROM {self.stage_table} s
                JOIN {VEHICLE_TABLE} v ON v.vin = s.vin
                JOIN {CUSTOMER_TABLE} p ON p.id = v.customer_id AND p.is_provisional
                LEFT JOIN {STORE_TABLE} st ON st.code = coalesce(nullif(s.store_code, ''), %(default_store)s)
                WHERE s.customer_no IS NOT NULL AND coalesce(st.id, p.store_id) = p.store_id
                  AND (%(every_store)s OR p.store_id = ANY(%(allowed)s))"""
        else:
            return
        history = Customer.history.model
        tracked = [field.column for field in history._meta.concrete_fields if not field.name.startswith("history_")]
        cursor.execute(
            f"""
            WITH pairs AS ({pairs}), unique_pairs AS (
                SELECT * FROM pairs
                WHERE NOT EXISTS (SELECT 1 FROM {CUSTOMER_TABLE} c WHERE c.customer_no = pairs.dms_no)
                  AND dms_no IN (SELECT dms_no FROM pairs GROUP BY dms_no HAVING count(*) = 1)
                  AND customer_id IN (SELECT customer_id FROM pairs GROUP BY customer_id HAVING count(*) = 1)
            ), adopted AS (
                UPDATE {CUSTOMER_TABLE} c SET customer_no = u.dms_no, is_provisional = false, updated_at = %(now)s
                FROM unique_pairs u WHERE c.id = u.customer_id
                RETURNING c.*, u.old_no
            )
            INSERT INTO {history._meta.db_table}
                ({", ".join(tracked)}, history_date, history_change_reason, history_type, history_user_id)
            SELECT {", ".join("a." + column for column in tracked)}, %(now)s,
                   %(reason)s || a.old_no || ')', '~', %(user)s
            FROM adopted a
            RETURNING id
            """,
            {
                "default_store": self.batch.store.code if self.batch.store_id else None,
                "every_store": allowed_store_ids is None,
                "allowed": allowed_store_ids or [],
                "now": timezone.now(),
                "reason": f"Adopted by DMS import #{self.batch.pk} (provisional number ",
                "user": self.batch.user_id,
            },
        )
        self.outcome.adopted_customer_ids = sorted(row[0] for row in cursor.fetchall())

    def _confirm_unchanged(self, cursor, *, table: str, key: str, unchanged: int) -> None:
        """An unchanged row takes this file's fingerprint when it holds another one (its first import
        since fingerprints, a reformatted export), so that the next import skips it; its data and
        ``updated_at`` stay as they are. ``dms_synced_at`` is the ``updated_at`` the row was compared
        with: if someone changed the row meanwhile, the two differ and the next import compares again.
        (Created and updated rows got theirs in the upsert.) ``unchanged``: how many rows the classify
        found unchanged; none (a first import) spares a scan of all the classified rows."""
        if not unchanged:
            return
        cursor.execute(f"""
            UPDATE {table} t SET dms_fingerprint = c.fp, dms_synced_at = c.target_updated_at
            FROM dms_clean_{self.batch.pk} c
            WHERE c.action = '=' AND c.fp IS NOT NULL AND t.{key} = c.{key}
              AND (c.target_fp IS DISTINCT FROM c.fp OR c.target_synced_at IS DISTINCT FROM c.target_updated_at)
        """)  # fmt: skip

    def _touched_customer_ids(self, cursor) -> list[int]:
        """The customers whose segment facts this import may have changed: created / updated cards,
        the new and previous owners of created / updated vehicles, the owners of the vehicles (new and
        previous) of created / updated repair orders. For repair orders, and vehicles of which none
        was updated, the same pass over the written rows reads the days they changed
        (``outcome.written_days``): the volumes listener used to join the written repair orders to
        the touched customers' vehicles again. A first import's 542,000 repair orders, both
        statements before: 1.56 s; this one: 0.75 s (medians of 3, on a loaded machine)."""
        clean = f"dms_clean_{self.batch.pk}"
        if self.kind == ImportKind.CUSTOMERS:  # the cards the upsert wrote: created and updated
            return sorted(set(self.written_ids))
        if self.kind == ImportKind.VEHICLES and self.outcome.updated:
            # An updated vehicle's day before the import is its history's (the listener reads it).
            cursor.execute(f"SELECT customer_id FROM {clean} WHERE action IN ('+', '~') UNION "
                           f"SELECT previous_ref FROM {clean} WHERE action = '~'")  # fmt: skip
            return sorted(row[0] for row in cursor.fetchall())
        # One scan of the written rows hashed both ways at once (GROUPING SETS): a DISTINCT each
        # from a materialised CTE of them took 1.03 s, two scans 0.93 s.
        if self.kind == ImportKind.VEHICLES:  # created only: their owners and delivery days
            cursor.execute(f"""
                SELECT customer_id, delivery_date FROM {clean} WHERE action = '+'
                GROUP BY GROUPING SETS ((customer_id), (delivery_date))
            """)  # fmt: skip
        else:
            cursor.execute(f"""
                SELECT v.customer_id, written.settle_date FROM (
                    SELECT vehicle_id, settle_date FROM {clean} WHERE action IN ('+', '~')
                    GROUP BY GROUPING SETS ((vehicle_id), (settle_date))
                    UNION ALL
                    SELECT previous_ref, NULL FROM {clean} WHERE action = '~'
                ) written LEFT JOIN {VEHICLE_TABLE} v ON v.id = written.vehicle_id
            """)  # fmt: skip
        rows = cursor.fetchall()
        self.outcome.written_days = sorted({day for _customer_id, day in rows if day is not None})
        return sorted({customer_id for customer_id, _day in rows if customer_id is not None})

    def _upsert(self, cursor, *, table: str, key: str, targets: dict[str, str], table_taken: bool, history) -> None:
        """Insert the created rows and update the changed ones, one statement each, with their
        history rows when the model keeps a ``history``. With the table taken for a bulk load
        (nobody else can insert a key meanwhile) the created rows go in by a plain INSERT, which
        costs two thirds of an INSERT … ON CONFLICT."""
        model = MODELS[self.kind]
        columns = list(targets)
        defaults: dict[str, object] = {}
        for model_field in model._meta.concrete_fields:
            column = model_field.column
            if model_field.primary_key or column in targets or column in ("created_at", "updated_at", *DMS_SYNC_FIELDS):
                continue
            if model_field.null and not model_field.has_default():
                continue
            defaults[column] = model_field.get_default()
        # The row's fingerprint and the updated_at it was written with: see models.DmsSynced.
        synced = ["dms_fingerprint", "dms_synced_at", "updated_at"]
        insert_columns = [*columns, *defaults, "created_at", *synced]
        select = [
            *(f"c.{column}" for column in columns),
            *(f"%(default_{column})s" for column in defaults),
            "%(now)s",
            "c.fp",
            "%(now)s",
            "%(now)s",
        ]
        updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in [*columns, *synced] if column != key)
        params = {f"default_{column}": value for column, value in defaults.items()}
        params["now"] = self.now
        insert = f"INSERT INTO {table} ({', '.join(insert_columns)}) SELECT {', '.join(select)}"
        # The cards written are the customers this import touched (see _touched_customer_ids): their
        # ids come back with the write instead of being looked up again by number afterwards.
        returning = " RETURNING id" if self.kind == ImportKind.CUSTOMERS else ""
        for action, count in (("+", self.outcome.created), ("~", self.outcome.updated)):
            if not count:
                continue
            statement = f"{insert} FROM dms_clean_{self.batch.pk} c WHERE c.action = '{action}'"
            if action == "~" or not table_taken:
                statement += f" ON CONFLICT ({key}) DO UPDATE SET {updates}"
            if history is not None:
                statement = self._with_history(statement, history=history, action=action, params=params)
            cursor.execute(statement + returning, params)
            if returning:
                self.written_ids.extend(row[0] for row in cursor.fetchall())

    def _with_history(self, statement: str, *, history, action: str, params: dict) -> str:
        """``statement`` (the upsert of the rows of one ``action``) with the django-simple-history row
        of each row it writes, as written (reason "DMS import #N", the importing user), in one
        statement: the history is the outer INSERT, whose ``id`` is the written row's."""
        tracked = [field.column for field in history._meta.concrete_fields if not field.name.startswith("history_")]
        params["reason"] = f"DMS import #{self.batch.pk}"
        params["user"] = self.batch.user_id
        return f"""
            WITH written AS ({statement} RETURNING {", ".join(tracked)})
            INSERT INTO {history._meta.db_table}
                ({", ".join(tracked)}, history_date, history_change_reason, history_type, history_user_id)
            SELECT {", ".join("w." + column for column in tracked)}, %(now)s, %(reason)s, '{action}', %(user)s
            FROM written w
        """

    def _drop_temporary_tables(self) -> None:
        with connection.cursor() as cursor:
            for prefix in ("dms_stage", "dms_repeat", "dms_clean", "dms_fp", "dms_fpkey", "dms_skip"):
                cursor.execute(f"DROP TABLE IF EXISTS {prefix}_{self.batch.pk}")
            if self.ahead_stage is not None:
                cursor.execute(f"DROP TABLE IF EXISTS {self.ahead_stage}")

    # -- the whole run ------------------------------------------------------------------------

    def run(self, *, allowed_store_ids: list[int] | None = None, dry_run: bool = False) -> ImportOutcome:
        timings = self.outcome.timings
        try:
            started = time.monotonic()
            with connection.cursor() as cursor:
                # The import's joins and groupings hash a whole file's keys: in memory, not in batches
                # spilled to disk (PostgreSQL's default is 4 MB). JIT off: compiling a statement cost
                # more than it saved (the classify step's, costed above the inlining threshold by the
                # erased-customer look-ups, spent 0.7 s compiling for a 0.4 s run). Reset in `finally`.
                cursor.execute("SET work_mem = %s", [IMPORT_WORK_MEM])
                cursor.execute("SET jit = off")
                # A commit of this session (the file's transaction, each progress update) does not
                # wait for its WAL to reach the disk. Safe for an import: a crash of the database
                # server can lose at most the last fraction of a second of commits, in order, never
                # part of a transaction; the file is then as not (or not yet) imported, and an
                # import is idempotent, so running it again completes it (docs/dms-import.md).
                cursor.execute("SET synchronous_commit = off")
            self.allowed_store_ids = allowed_store_ids
            # A preview parses every row: it lists the unchanged keys, which skipped rows would not give.
            with _without_cyclic_gc():
                self._stage(use_fingerprints=not dry_run)
            timings["stage"] = time.monotonic() - started
            if self.on_staged is not None:
                self.on_staged()
            with transaction.atomic():
                self._apply(allowed_store_ids=allowed_store_ids, dry_run=dry_run)
                if dry_run:
                    transaction.set_rollback(True)
        finally:
            if self.parsed_ahead is not None:  # failed before its stage
                self.parsed_ahead.cancel()
            if connection.connection is not None and not connection.needs_rollback:
                with contextlib.suppress(Exception):
                    self._drop_temporary_tables()
                with contextlib.suppress(Exception), connection.cursor() as cursor:
                    cursor.execute("RESET work_mem")
                    cursor.execute("RESET jit")
                    cursor.execute("RESET synchronous_commit")
        outcome = self.outcome
        outcome.rejected = len(self.rejected_rows)
        outcome.warnings = sum(1 for issue in outcome.issues if issue.severity == IssueSeverity.WARNING)
        return outcome


class ParseWorkers:
    """PARSE_WORKERS forked processes parsing one file for ``importer`` (DmsImport._parse_worker),
    and their messages in file order. ``go``: an event the workers wait for before reading.

    Started by billiard (Celery's fork of multiprocessing, installed with it): the standard
    library refuses children to a daemonic process, which a Celery worker's pool process is, so
    there the admin's imports were parsed in one process."""

    def __init__(self, importer: DmsImport, plan, parsers, fingerprint, *, go=None):
        if importer.kind == ImportKind.CUSTOMERS:
            # pypinyin's dictionaries loaded once here, before the fork, not once in each worker.
            name_search_keys("张伟")
        context = billiard.get_context("fork")
        self.pipes, self.workers = [], []
        try:
            for number in range(PARSE_WORKERS):
                receiver, sender = context.Pipe(duplex=False)
                arguments = (number, sender, plan, parsers, fingerprint, go)
                worker = context.Process(target=importer._parse_worker, args=arguments, daemon=True)
                worker.start()
                sender.close()
                self.pipes.append(receiver)
                self.workers.append(worker)
        except BaseException:
            self.terminate()
            self.stop()
            raise

    def messages(self) -> Iterator[tuple]:
        """("chunk", next row, COPY payload, issues, rejected rows, rows, keys) per chunk, then ("end",
        next row) or ("error", exception); a worker that dies without a word is a RuntimeError."""
        index = 0
        while True:
            try:
                message = self.pipes[index % PARSE_WORKERS].recv()
            except EOFError:  # the worker died without a word (killed): not a file's fault
                raise RuntimeError("a DMS parse worker stopped unexpectedly") from None
            yield message
            if message[0] != "chunk":
                return
            index += 1

    def terminate(self) -> None:
        """End the workers now (their pipes then read as ended)."""
        for worker in self.workers:
            if worker.is_alive():
                worker.terminate()
            worker.join()

    def stop(self) -> None:
        for receiver in self.pipes:
            receiver.close()
        for worker in self.workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
                worker.join()


class ParseAhead:
    """A large CSV file parsed by the parse workers before its turn, while the command imports the
    file before it (whose writes are the database server's work, on the other core): its messages
    are received by a thread and kept until its DmsImport stages them (``parsed_ahead``), exactly
    what its own workers would have sent then. Parsing reads no table, so the result is the same;
    what the table decides (a fingerprint pass for a re-import) is checked again at its turn, when
    a parse that no longer fits is dropped. ``after``: start once that file is parsed (one file's
    workers at a time).

    The thread also writes the parsed rows, as they come, into a stage table of its own over a
    second database connection (an UNLOGGED table, since a temporary one is seen by its own session
    only), and measures it: the file's turn then finds its stage written (``take_stage``) instead
    of copying 540,000 repair orders itself while the database has nothing else to do. Where the
    table cannot be made (a role without CREATE on the schema, no connection left), the parsed text
    waits in memory for its turn, as it did before. A table left behind by a process that died is
    dropped by the next ParseAhead once the session named in it is gone."""

    def __init__(self, *, kind: str, source: RowSource, store=None, profile=None, after: ParseAhead | None = None):
        self.source = source
        self.parser = DmsImport(batch=ImportBatch(kind=kind, store=store, profile=profile), source=source)
        self.plan = self.parser._plan()
        self.prefix = self.parser._fingerprinter(self.plan).prefix
        parsers = [ColumnParser(column.parser) if index is not None else None for column, index in self.plan]
        self.parsed = billiard.get_context("fork").Event()
        self._messages: list[tuple | None] = []
        self._buffered = 0  # bytes of COPY text received and not yet taken
        self._cancelled = False
        self._done = False
        self._condition = threading.Condition()
        # The stage table: named after this process's database session, so that a table whose
        # session is gone is known to be left over; made and written by the thread's connection.
        # (Read before the workers are forked: a failure here leaves no process behind.)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            owner = cursor.fetchone()[0]
        main = connections[DEFAULT_DB_ALIAS]
        self._stage_connection = functools.partial(type(main), dict(main.settings_dict), DEFAULT_DB_ALIAS)
        self._stage_name = f"{AHEAD_STAGE_PREFIX}{owner}_{os.urandom(4).hex()}"
        self._stage_ready = False  # every chunk written and the table measured
        self._stage_taken = False  # handed over with the file's end (take_stage)
        self._stage_dropped = False
        self._workers = ParseWorkers(self.parser, self.plan, parsers, self.parser._fingerprinter(self.plan),
                                     go=after.parsed if after is not None else None)  # fmt: skip
        self._thread = threading.Thread(target=self._collect, daemon=True, name="dms-parse-ahead")
        self._thread.start()

    @classmethod
    def start(cls, *, kind: str, source: RowSource, store=None, after: ParseAhead | None = None) -> ParseAhead | None:
        """Parse the file ahead when its turn would parse all of it in the workers: a large CSV file
        for a table without fingerprints (not a re-import). None otherwise, or when its header
        does not map (its turn reports that)."""
        probe = DmsImport(batch=ImportBatch(kind=kind, store=store), source=source)
        if not probe._parse_in_parallel() or MODELS[kind].objects.filter(dms_fingerprint__isnull=False).exists():
            return None
        try:
            return cls(kind=kind, source=source, store=store, after=after)
        except ApplicationError:
            return None

    def _open_stage(self):
        """This thread's own connection with the stage table made in it (the left-over tables of
        sessions that are gone dropped first), or None when it cannot be had."""
        stage = None
        try:
            stage = self._stage_connection()  # made in this thread: Django's connections are per thread
            with stage.cursor() as cursor:
                cursor.execute("SET synchronous_commit = off")  # scratch rows: see DmsImport.run
                cursor.execute(
                    "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = current_schema()::regnamespace"
                    " AND relname ~ %(name)s AND substring(relname FROM %(name)s)::int"
                    " NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)",
                    {"name": f"^{AHEAD_STAGE_PREFIX}([0-9]+)_[0-9a-f]+$"},
                )
                for (left_over,) in cursor.fetchall():  # names of that pattern only: no quoting needed
                    cursor.execute(f"DROP TABLE IF EXISTS {left_over}")
                cursor.execute(f"CREATE UNLOGGED TABLE {self._stage_name} {self.parser._stage_columns()}")
        except Exception as error:  # only a head start: the parsed text waits in memory instead
            logger.warning("DMS import: no stage table for the file parsed ahead (%s); its rows wait in memory", error)
            if stage is not None:
                with contextlib.suppress(Exception):
                    stage.close()
            return None
        return stage

    def _collect(self) -> None:
        stage = raw = None
        try:
            stage = self._open_stage()
            raw = stage.connection.cursor() if stage is not None else None
            for message in self._workers.messages():
                if message[0] == "chunk":
                    # Its keys counted here, its turn takes the counts (key_counts); its text written
                    # into the stage table, its turn copies nothing.
                    payload = message[2]
                    self.parser._count_keys(message[6])
                    if raw is not None and payload:
                        raw.copy_expert(f"COPY {self._stage_name} FROM STDIN", io.BytesIO(payload))
                        payload = b""
                    message = (*message[:2], payload, *message[3:6], ())
                elif raw is not None and message[0] == "end":  # every chunk written: measured before its turn
                    raw.execute(stage_statistics_sql(self.parser.kind, self._stage_name))
                    self._stage_ready = True
                with self._condition:
                    self._messages.append(message)
                    if message[0] == "chunk":
                        self._buffered += len(message[2])
                    self._condition.notify_all()
                    while self._buffered > AHEAD_BUFFER_BYTES and not self._cancelled:
                        self._condition.wait()  # the workers wait too, their pipes full
                    if self._cancelled:
                        return
        except Exception as error:  # a dead worker, or cancelled: raised at its turn, in order
            with self._condition:
                self._messages.append(("error", error))
        finally:
            if stage is not None:
                with contextlib.suppress(Exception):
                    stage.close()
            self.parsed.set()
            with self._condition:
                self._done = True
                self._condition.notify_all()

    def fits(self, importer: DmsImport, plan, fingerprint) -> bool:
        """Whether this parse is the one ``importer`` would make now (same file, report, columns and store)."""

        def fields(plan) -> list:  # the parsers are made anew for each import (the same ones)
            return [(column.field, column.sql_type, index) for column, index in plan]

        return (importer.source is self.source and importer.kind == self.parser.kind
                and fields(plan) == fields(self.plan) and fingerprint.prefix == self.prefix)  # fmt: skip

    def messages(self) -> Iterator[tuple]:
        """The workers' messages in file order, as they arrive (each handed over once)."""
        index = 0
        try:
            while True:
                with self._condition:
                    while index >= len(self._messages) and not self._done:
                        self._condition.wait()
                    if index >= len(self._messages):
                        return
                    message, self._messages[index] = self._messages[index], None
                    if message[0] == "chunk":
                        self._buffered -= len(message[2])
                        self._condition.notify_all()
                    elif message[0] == "end":  # the stage table is the receiver's now (take_stage)
                        self._stage_taken = self._stage_ready
                index += 1
                yield message
        finally:
            self.cancel()

    def key_counts(self) -> collections.Counter | None:
        """After ``messages`` handed over the file's end: the staged rows' keys counted (see
        DmsImport.key_counts), as the chunks came, so that its turn need not count them."""
        return self.parser.key_counts

    def take_stage(self) -> str | None:
        """After ``messages`` handed over the file's end: the stage table holding every row parsed,
        measured, whose dropping is then the receiver's; None when the parsed text came in the
        messages instead."""
        return self._stage_name if self._stage_taken else None

    def cancel(self) -> None:
        """Stop the workers (if still running), drop the stage table unless it was taken, and let
        the next file's start."""
        with self._condition:
            self._cancelled = True
            self._condition.notify_all()
        if not self._done:
            self._workers.terminate()
        self._thread.join()
        self._workers.stop()
        if not self._stage_taken and not self._stage_dropped:
            self._stage_dropped = True
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {self._stage_name}")
        self.parsed.set()
