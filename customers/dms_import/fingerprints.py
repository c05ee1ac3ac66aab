"""Fingerprints of the DMS import: a raw row's 64-bit hash, and the first read of a re-imported
file that leaves the rows unchanged since the last import unparsed (see customers.dms_import.importer)."""

from __future__ import annotations

import functools
import hashlib
import io
import itertools
import operator
import struct
import time
from collections.abc import Sequence

from django.db import connection, transaction

from crm.models import Store
from customers.choices import ImportKind, IssueSeverity
from customers.dms.reference import KEY_FIELDS
from customers.dms_import.cells import Column, optional_text
from customers.dms_import.columns import COPY_NULL, ColumnParser, transpose
from customers.dms_import.targets import MODELS
from customers.models import Customer, Vehicle

# Bump when a parser's result for the same raw cell changes: every stored fingerprint then misses once.
FINGERPRINT_VERSION = "1"
STORE_TABLE = Store._meta.db_table
CUSTOMER_TABLE = Customer._meta.db_table
VEHICLE_TABLE = Vehicle._meta.db_table


def _fingerprint_token(cell: object) -> str:
    """A typed XLSX cell as fingerprint text (a number and the same digits as text stay apart)."""
    if cell is None:
        return "\x01N"
    if type(cell) is str:
        return cell
    return "\x01" + type(cell).__name__ + repr(cell)


def fingerprint_texts(fingerprints: list[int | None]) -> list[str]:
    texts = list(map(str, fingerprints))
    if None in fingerprints:  # the few rows without one, found at C speed
        for position in itertools.compress(itertools.count(), map(operator.is_, fingerprints, itertools.repeat(None))):
            texts[position] = COPY_NULL
    return texts


_BLAKE2B_64 = functools.partial(hashlib.blake2b, digest_size=8)
_SIGNED_64 = functools.partial(int.from_bytes, byteorder="big", signed=True)


class Fingerprinter:
    """Raw row → a signed 64-bit hash of what the parsers would see: the mapped cells in field order,
    which fields are mapped, the default store and the parsing rules' version. None when the row
    cannot be fingerprinted unambiguously (a cell holding the separator)."""

    def __init__(self, plan: list[tuple[Column, int | None]], *, kind: str, default_store: str):
        self.positions = [index for _column, index in plan if index is not None]
        mapped = ",".join(column.field for column, index in plan if index is not None)
        self.prefix = "\x00".join([FINGERPRINT_VERSION, kind, default_store, mapped, ""]).encode() + b"\x00"
        # The hash state after the prefix, which every row's text starts with: many() copies it.
        self.prefix_hash = _BLAKE2B_64(self.prefix)
        self.separators = len(self.positions) - 1
        self.last = max(self.positions)
        if len(self.positions) == 1:
            only = self.positions[0]
            self.getter = lambda row: (row[only],)
        else:
            self.getter = operator.itemgetter(*self.positions)

    def _hash(self, text: str) -> int | None:
        if text.count("\x00") != self.separators:
            return None
        return _SIGNED_64(_BLAKE2B_64(self.prefix + text.encode()).digest())

    def __call__(self, row: Sequence[object]) -> int | None:
        if len(row) > self.last:
            cells = self.getter(row)
        else:
            width = len(row)
            cells = tuple(row[index] if index < width else None for index in self.positions)
        try:
            text = "\x00".join(cells)
        except TypeError:
            if any(type(cell) is str and "\x01" in cell for cell in cells):
                return None
            text = "\x00".join(map(_fingerprint_token, cells))
        return self._hash(text)

    def many(self, rows: list[Sequence[object]], columns: list, *, text_cells: bool) -> list[int | None]:
        """The fingerprints of a chunk's rows, given its mapped cells column by column (in plan
        order): the same values as row by row, computed at C speed where every cell is text and
        none holds the separator."""
        try:
            # Text decoded from a CSV file never holds NUL (sources refuse such files).
            if not text_cells and any("\x00" in "".join(cells) for cells in columns):
                return list(map(self, rows))
            texts = list(map("\x00".join, zip(*columns, strict=False)))
        except TypeError:  # a typed or missing cell somewhere: row by row
            return list(map(self, rows))
        # Each row's hash is that of prefix + "\x00".join(cells), as _hash hashes it, continued from
        # the prefix's hash state (BLAKE2b hashes a stream, so the digest is the same): a third less
        # work than hashing the prefix again for every row. The 8-byte digests are read as signed
        # big-endian integers all at once.
        copy = self.prefix_hash.copy
        digests = []
        append = digests.append
        for data in map(str.encode, texts):
            state = copy()
            state.update(data)
            append(state.digest())
        return list(struct.unpack(f">{len(digests)}q", b"".join(digests)))


class FingerprintPass:
    """The re-import shortcut of DmsImport: its first read of the file, without parsing. Uses the
    import's state (batch, kind, source, columns, outcome, allowed_store_ids) and its ``_chunks()``."""

    def _fingerprinter(self, plan: list[tuple[Column, int | None]]) -> Fingerprinter:
        default_store = self.batch.store.code if self.batch.store_id else ""
        return Fingerprinter(plan, kind=self.kind, default_store=default_store)

    def _fingerprint_pass(self, plan: list[tuple[Column, int | None]]) -> None:
        """Read the file once without parsing it: each row's key and fingerprint are copied into a
        temporary table, and only the rows that may have changed are left for the stage to parse
        (``self.parse_rows``). A row is skipped when every row of its key has the same fingerprint
        in this file (so a key repeated with conflicting data is parsed and rejected as before), the
        stored fingerprint of the key is the same, the CRM row has not been written since
        (``updated_at``), and the row still resolves to the CRM row's store (and owner's / vehicle's
        store when its store code is blank) within the importer's stores. Those rows are unchanged
        by construction. Rows whose key is unusable are always parsed (and rejected)."""
        started = time.monotonic()
        key_field = KEY_FIELDS[self.kind]
        mapped = [index for _column, index in plan if index is not None]
        key_position = mapped.index(next(index for column, index in plan if column.field == key_field))
        store_index = next(index for column, index in plan if column.field == "store_code")
        key_parser = ColumnParser(next(column.parser for column in self.columns if column.field == key_field))
        store_parser = ColumnParser(optional_text)
        fingerprint = self._fingerprinter(plan)
        text_cells = self.source.text_cells
        table = f"dms_fp_{self.batch.pk}"
        unusable_keys: set[int] = set()  # row numbers
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(f"CREATE TEMP TABLE {table} (row_no integer, key text, fp bigint, store_code text)")
            raw = cursor.cursor
            rows_copied = 0
            seen_keys: set = set()
            keys_seen = 0
            repeated_keys = False  # any key on more than one row
            for numbers, rows in self._chunks():
                mapped_columns = transpose(rows, mapped)
                key_texts, keys, key_problems = key_parser.column(mapped_columns[key_position], text_cells=text_cells)
                if not repeated_keys:
                    keys_seen += len(key_texts)
                    seen_keys.update(key_texts)
                    repeated_keys = len(seen_keys) < keys_seen
                    if repeated_keys:
                        seen_keys.clear()
                fingerprints = fingerprint.many(rows, mapped_columns, text_cells=text_cells)
                if store_index is None:
                    store_texts = [COPY_NULL] * len(rows)
                else:
                    store_texts, store_keys, store_problems = store_parser.column(
                        mapped_columns[mapped.index(store_index)], text_cells=text_cells
                    )
                    for position, store_key in enumerate(store_keys) if store_problems else ():
                        if store_key in store_problems:
                            fingerprints[position] = None  # a NULL fingerprint: parsed, with its key's rows
                dropped = set()
                for position, key in enumerate(keys) if key_problems else ():
                    problem = key_problems.get(key)
                    if problem is None:
                        continue
                    if problem[2] == IssueSeverity.REJECTED:
                        dropped.add(position)  # no part in its key's conflicts; parsed and rejected
                        unusable_keys.add(numbers[position])
                    else:
                        fingerprints[position] = None
                fp_texts = fingerprint_texts(fingerprints)
                lines = list(map("\t".join, zip(map(str, numbers), key_texts, fp_texts, store_texts, strict=True)))
                if dropped:
                    lines = [line for position, line in enumerate(lines) if position not in dropped]
                rows_copied += len(lines)
                if lines:
                    raw.copy_expert(f"COPY {table} FROM STDIN", io.StringIO("\n".join(lines) + "\n"))
            self.outcome.timings["fingerprints_read"] = time.monotonic() - started
            del seen_keys
            if not repeated_keys:
                # Every key on one row (the usual export): the rows to parse in one statement.
                with transaction.atomic():
                    if rows_copied > 5000:
                        cursor.execute("SET LOCAL enable_nestloop = off")
                    cursor.execute(self._changed_rows_sql(table), self._params())
                    changed = [row_no for (row_no,) in cursor.fetchall()]
                self.parse_rows = unusable_keys.union(changed)
                self.skipped_keys = self.outcome.skipped_rows = rows_copied - len(changed)
                return
            # One row per key whose rows all have the same (non-NULL) fingerprint in this file.
            cursor.execute(f"""
                CREATE TEMP TABLE dms_fpkey_{self.batch.pk} AS
                SELECT key, min(fp) AS fp, min(store_code) AS store_code FROM {table}
                GROUP BY key HAVING count(fp) = count(*) AND min(fp) = max(fp)
            """)  # fmt: skip
            cursor.execute(f"ANALYZE dms_fpkey_{self.batch.pk}")
            with transaction.atomic():
                if rows_copied > 5000:
                    # Right after a large import the tables' statistics lag and the planner picks
                    # index probes per key; for a large file hash joins are always the better plan.
                    cursor.execute("SET LOCAL enable_nestloop = off")
                cursor.execute(
                    f"CREATE TEMP TABLE dms_skip_{self.batch.pk} AS {self._skip_sql(f'dms_fpkey_{self.batch.pk}')}",
                    self._params(),
                )
                cursor.execute(f"""
                    SELECT f.row_no FROM {table} f
                    WHERE NOT EXISTS (SELECT 1 FROM dms_skip_{self.batch.pk} k WHERE k.key = f.key)
                """)  # fmt: skip
                changed = [row_no for (row_no,) in cursor.fetchall()]
            cursor.execute(f"SELECT count(*) FROM dms_skip_{self.batch.pk}")
            self.skipped_keys = cursor.fetchone()[0]
        self.parse_rows = unusable_keys.union(changed)
        self.outcome.skipped_rows = rows_copied - len(changed)

    def _params(self) -> dict:
        return {
            "default_store": self.batch.store.code if self.batch.store_id else None,
            "allowed": self.allowed_store_ids or [],
            "kind": self.kind,
        }

    def _skip_parts(self, join: str) -> tuple[str, str, str]:
        """(target table, ``join`` of the target's parent "p" if it has one, the condition that a row of
        the file "f" still resolves to its CRM row "t"'s store within the importer's stores)."""
        target = MODELS[self.kind]._meta.db_table
        code = "coalesce(nullif(f.store_code, ''), %(default_store)s)"
        if self.kind == ImportKind.CUSTOMERS:
            parent, store = "", "st.id = t.store_id"
        else:
            table, column = (
                (CUSTOMER_TABLE, "customer_id") if self.kind == ImportKind.VEHICLES
                else (VEHICLE_TABLE, "vehicle_id")
            )  # fmt: skip
            parent = f"{join} {table} p ON p.id = t.{column}"
            store = f"(st.id IS NOT NULL OR {code} IS NULL) AND coalesce(st.id, p.store_id) = t.store_id"
        if self.allowed_store_ids is not None:
            store += " AND t.store_id = ANY(%(allowed)s)"
        return target, parent, store

    def _skip_sql(self, table: str) -> str:
        """The keys of ``table`` (key, fp, store_code per key) that are unchanged since the last import."""
        key = KEY_FIELDS[self.kind]
        target, parent, store = self._skip_parts("JOIN")
        return f"""
            SELECT f.key FROM {table} f
            JOIN {target} t ON t.{key} = f.key AND t.dms_fingerprint = f.fp AND t.updated_at = t.dms_synced_at
            {parent}
            LEFT JOIN {STORE_TABLE} st ON st.code = coalesce(nullif(f.store_code, ''), %(default_store)s)
            WHERE {store}
        """

    def _changed_rows_sql(self, table: str) -> str:
        """The rows of ``table`` (one per key) that may have changed since the last import: the
        complement of _skip_sql, in one pass."""
        key = KEY_FIELDS[self.kind]
        target, parent, store = self._skip_parts("LEFT JOIN")
        return f"""
            SELECT f.row_no FROM {table} f
            LEFT JOIN {target} t ON t.{key} = f.key AND t.dms_fingerprint = f.fp AND t.updated_at = t.dms_synced_at
            {parent}
            LEFT JOIN {STORE_TABLE} st ON st.code = coalesce(nullif(f.store_code, ''), %(default_store)s)
            WHERE t.id IS NULL OR NOT coalesce({store}, false)
        """
