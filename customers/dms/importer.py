"""The DMS import (docs/dms-import.md), set-based so that a dealer group's whole export fits in a minute.

1. **Stage** (outside the transaction, touches no real table): rows are read from the file in chunks
   and parsed column by column: each distinct cell of a column goes once through its parser in
   ``customers.dms.parsing`` (bad field → empty + warning, bad key → rejected), and the parsed texts
   are joined into ``COPY FROM STDIN`` lines for a temporary table at C speed (see _ColumnParser).
2. **Apply** (one transaction per file, so a crash leaves the database as before the file): keys
   repeated with different data are rejected (every row of that key), owners / vehicles / stores are
   resolved, each key is classified created / updated / unchanged by comparing the importable
   columns (``IS DISTINCT FROM``), then one ``INSERT … ON CONFLICT (key) DO UPDATE`` writes the
   created and changed rows and one ``INSERT … SELECT`` writes their django-simple-history rows
   (reason "DMS import #N", the importing user). Only the columns of the DMS report are ever
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

import contextlib
import csv
import datetime
import functools
import gc
import hashlib
import io
import itertools
import operator
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from crm.bulk import bulk_load
from crm.exceptions import ApplicationError
from crm.exports import FORMULA_ESCAPE, spreadsheet_safe
from customers.choices import REPAIR_TYPE_FROM_DMS, ImportKind, ImportStatus, IssueSeverity
from customers.dms import parsing
from customers.dms.reference import (
    FILE_EMPTY,
    IMPORT_FIELDS,
    KEY_FIELDS,
    NO_DATA_ROWS,
    REASON_CONFLICTING_REPEAT,
    REASON_ERASED,
    REASON_FOREIGN_STORE,
    REASON_MISSING_CUSTOMER_NO,
    REASON_MISSING_KEY_COLUMN,
    REASON_MISSING_RO_NO,
    REASON_NO_STORE,
    REASON_TOO_LARGE,
    REASON_TOO_LONG,
    REASON_UNKNOWN_CUSTOMER,
    REASON_UNKNOWN_REPAIR_TYPE,
    REASON_UNKNOWN_STORE,
    REASON_UNKNOWN_VIN,
    REFERENCE_HEADERS,
    REQUIRED_FIELDS,
    WRONG_KIND,
    msgid,
)
from customers.dms.sources import RowSource, cell_too_long, first_overlong_cell_row
from customers.models import (
    DMS_SYNC_FIELDS,
    Customer,
    HeaderMappingProfile,
    ImportBatch,
    ImportIssue,
    RepairOrder,
    Vehicle,
)
from customers.pinyin import name_search_keys
from customers.privacy import tombstone_reject_sql, tombstone_sql_params

STAGE_CHUNK_ROWS = 10000
IMPORT_WORK_MEM = "128MB"
# Bump when a parser's result for the same raw cell changes: every stored fingerprint then misses once.
FINGERPRINT_VERSION = "1"

MODELS = {ImportKind.CUSTOMERS: Customer, ImportKind.VEHICLES: Vehicle, ImportKind.REPAIR_ORDERS: RepairOrder}


# ---------------------------------------------------------------------------------------------
# Cell parsers: each returns the clean value (None for NULL) or raises a parsing error. The stage
# calls them once per distinct raw cell of a column (see _ColumnParser), never once per row.
# ---------------------------------------------------------------------------------------------


class _Warn(parsing.FieldError):
    pass


class _KeptWithWarnings(tuple):
    """A value that is imported although it deserves warnings: ``(value, [reasons])``."""


def _text(limit: int) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = parsing.parse_text(value)
        if len(text) > limit:
            raise _Warn(value, REASON_TOO_LONG, limit=limit)
        return text

    parse.text_limit = limit  # a plain text column: see _ColumnParser.text_column
    parse.blank_text = ""
    return parse


def _repair_type(value: object) -> str:
    text = parsing.parse_text(value)
    if not text:
        return ""
    try:
        return REPAIR_TYPE_FROM_DMS[text].value
    except KeyError:
        raise _Warn(value, REASON_UNKNOWN_REPAIR_TYPE) from None


def _key_text(reason, limit: int) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = parsing.parse_text(value)
        if not text:
            raise parsing.RowRejected(value, reason)
        if len(text) > limit:
            raise parsing.RowRejected(value, REASON_TOO_LONG, limit=limit)
        return text

    parse.text_limit = limit
    parse.blank_text = None  # a blank key is a rejection: never the fast path
    return parse


def _vin_key(value: object):
    if type(value) is str and parsing.VIN_PATTERN.fullmatch(value) and value[8] == parsing.vin_check_digit(value):
        return value  # already clean (most VINs): what parse_vin would return, without its other checks
    vin, warnings = parsing.parse_vin(value)
    return _KeptWithWarnings((vin, warnings)) if warnings else vin


def _optional_text(value: object) -> str | None:
    return parsing.parse_text(value) or None


# PostgreSQL's integer and the target's numeric(12, 2): a larger value is a bad field, not a crash.
INTEGER_MAXIMUM = 2**31 - 1
AMOUNT_LIMIT = Decimal("10000000000")


def _whole(value: object) -> int | None:
    number = parsing.parse_int(value)
    if number is not None and number > INTEGER_MAXIMUM:
        raise _Warn(value, REASON_TOO_LARGE)
    return number


def _money(value: object) -> Decimal | None:
    amount = parsing.parse_money(value)
    if amount is not None and abs(amount) >= AMOUNT_LIMIT:
        raise _Warn(value, REASON_TOO_LARGE)
    return amount


# Parsers whose result, for a text cell matching the pattern, is the cell itself (the common case,
# recognised without the parser's other checks).
CLEAN_CELLS = {
    _whole: re.compile(r"0|[1-9]\d{0,8}", re.ASCII),
    parsing.parse_mobile: parsing.MOBILE_PATTERN,
}


@dataclass(frozen=True)
class Column:
    field: str
    sql_type: str
    parser: Callable[[object], object]


def _columns(kind: str) -> list[Column]:
    money = _money
    whole = _whole
    date = parsing.parse_date
    store = Column("store_code", "text", _optional_text)
    if kind == ImportKind.CUSTOMERS:
        return [
            Column("customer_no", "text", _key_text(REASON_MISSING_CUSTOMER_NO, 40)),
            Column("name", "text", _text(100)),
            Column("gender", "text", parsing.parse_gender),
            Column("mobile", "text", parsing.parse_mobile),
            Column("landline", "text", parsing.parse_landline),
            Column("birthday", "date", date),
            Column("employer", "text", _text(200)),
            Column("job_title", "text", _text(100)),
            Column("province", "text", _text(30)),
            Column("city", "text", _text(30)),
            Column("district", "text", _text(30)),
            Column("address", "text", _text(300)),
            Column("source", "text", _text(50)),
            Column("member_card_no", "text", _text(40)),
            Column("member_tier", "text", _text(20)),
            Column("points_balance", "integer", whole),
            Column("created_date", "date", date),
            store,
        ]
    if kind == ImportKind.VEHICLES:
        return [
            Column("vin", "text", _vin_key),
            Column("plate_no", "text", _text(20)),
            Column("brand", "text", _text(50)),
            Column("series", "text", _text(50)),
            Column("model", "text", _text(100)),
            Column("color", "text", _text(30)),
            Column("customer_no", "text", _key_text(REASON_MISSING_CUSTOMER_NO, 40)),
            Column("delivery_date", "date", date),
            Column("sales_consultant", "text", _text(50)),
            Column("invoice_price", "numeric", money),
            Column("warranty_end", "date", date),
            Column("insurer", "text", _text(50)),
            Column("insurance_expiry", "date", date),
            Column("inspection_due", "date", date),
            store,
        ]
    return [
        Column("ro_no", "text", _key_text(REASON_MISSING_RO_NO, 40)),
        Column("vin", "text", _vin_key),
        Column("open_date", "date", date),
        Column("settle_date", "date", date),
        Column("repair_type", "text", _repair_type),
        Column("mileage", "integer", whole),
        Column("service_advisor", "text", _text(50)),
        Column("labor_amount", "numeric", money),
        Column("parts_amount", "numeric", money),
        Column("total_amount", "numeric", money),
        store,
    ]


# Target columns written by the import (db column → expression over the resolved stage row "r").
TARGET_COLUMNS = {
    ImportKind.CUSTOMERS: {
        "customer_no": "r.customer_no", "store_id": "r.store_id", "name": "coalesce(r.name, '')",
        "name_pinyin": "coalesce(r.name_pinyin, '')", "name_initials": "coalesce(r.name_initials, '')",
        "gender": "coalesce(r.gender, '')", "mobile": "coalesce(r.mobile, '')",
        "landline": "coalesce(r.landline, '')", "birthday": "r.birthday", "employer": "coalesce(r.employer, '')",
        "job_title": "coalesce(r.job_title, '')", "province": "coalesce(r.province, '')",
        "city": "coalesce(r.city, '')", "district": "coalesce(r.district, '')",
        "address": "coalesce(r.address, '')", "source": "coalesce(r.source, '')",
        "member_card_no": "coalesce(r.member_card_no, '')", "member_tier": "coalesce(r.member_tier, '')",
        "points_balance": "r.points_balance", "dms_created_date": "r.created_date",
    },
    ImportKind.VEHICLES: {
        "vin": "r.vin", "customer_id": "r.customer_id", "store_id": "r.store_id",
        "plate_no": "coalesce(r.plate_no, '')", "brand": "coalesce(r.brand, '')",
        "series": "coalesce(r.series, '')", "model": "coalesce(r.model, '')", "color": "coalesce(r.color, '')",
        "delivery_date": "r.delivery_date", "sales_consultant": "coalesce(r.sales_consultant, '')",
        "invoice_price": "r.invoice_price", "warranty_end": "r.warranty_end",
        "insurer": "coalesce(r.insurer, '')", "insurance_expiry": "r.insurance_expiry",
        "inspection_due": "r.inspection_due",
    },
    ImportKind.REPAIR_ORDERS: {
        "ro_no": "r.ro_no", "vehicle_id": "r.vehicle_id", "store_id": "r.store_id", "open_date": "r.open_date",
        "settle_date": "r.settle_date", "repair_type": "coalesce(r.repair_type, '')", "mileage": "r.mileage",
        "service_advisor": "coalesce(r.service_advisor, '')", "labor_amount": "r.labor_amount",
        "parts_amount": "r.parts_amount", "total_amount": "r.total_amount",
    },
}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Header mapping
# ---------------------------------------------------------------------------------------------


def _normalise_header(header: str) -> str:
    return re.sub(r"\s+", "", str(header or "")).lower()


def _refuse_another_kind(*, kind: str, header: Sequence[str], matched: int) -> None:
    """A file of another report (a vehicles file given as customers) names that report's key column,
    which this one has not, and matches more of its columns: refused, never half imported."""
    names = {_normalise_header(name) for name in header}
    for other, headers in REFERENCE_HEADERS.items():
        if other == kind or KEY_FIELDS[other] in IMPORT_FIELDS[kind]:
            continue
        fields = {field_name for name, field_name in headers.items() if _normalise_header(name) in names}
        fields |= {field_name for field_name in IMPORT_FIELDS[other] if _normalise_header(field_name) in names}
        if set(REQUIRED_FIELDS[other]) <= fields and len(fields) > matched:
            column = next(name for name, field_name in headers.items() if field_name == KEY_FIELDS[other])
            raise ApplicationError(
                str(WRONG_KIND % {"other": ImportKind(other).label, "kind": ImportKind(kind).label, "column": column})
            )


def header_mapping(*, kind: str, header: Sequence[str], profile: HeaderMappingProfile | None) -> dict[int, str]:
    """Column index → field for a file's header row: the profile's aliases, then the reference
    headers, then the field names themselves. The first column naming a field wins."""
    aliases: dict[str, str] = {}
    for field_name in IMPORT_FIELDS[kind]:
        aliases[_normalise_header(field_name)] = field_name
    for name, field_name in REFERENCE_HEADERS[kind].items():
        aliases[_normalise_header(name)] = field_name
    if profile is None:
        profile = HeaderMappingProfile.objects.filter(kind=kind, is_default=True).first()
    if profile is not None:
        for name, field_name in (profile.aliases or {}).items():
            if field_name in IMPORT_FIELDS[kind]:
                aliases[_normalise_header(name)] = field_name
    mapping: dict[int, str] = {}
    for index, name in enumerate(header):
        field_name = aliases.get(_normalise_header(name))
        if field_name and field_name not in mapping.values():
            mapping[index] = field_name
    _refuse_another_kind(kind=kind, header=header, matched=len(mapping))
    missing = [field_name for field_name in REQUIRED_FIELDS[kind] if field_name not in mapping.values()]
    if missing:
        raise ApplicationError(str(REASON_MISSING_KEY_COLUMN % {"fields": ", ".join(missing)}))
    return mapping


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


@dataclass
class Issue:
    row_number: int
    column: str
    value: str
    reason: str  # msgid
    severity: str
    params: dict | None = None  # fill the msgid's placeholders once translated


@dataclass
class ImportOutcome:
    batch: ImportBatch
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: int = 0
    issues: list[Issue] = field(default_factory=list)
    changed_keys: list[str] = field(default_factory=list)
    created_keys: list[str] = field(default_factory=list)
    unchanged_keys: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    skipped_rows: int = 0  # rows not parsed because their fingerprint was unchanged
    parsed_rows: int = 0
    touched_customer_ids: list[int] = field(default_factory=list)  # whose segment facts may have changed
    bulk_loaded: list[str] = field(default_factory=list)  # tables whose indexes were built after the write

    def summary(self) -> str:
        return (
            f"created={self.created} updated={self.updated} unchanged={self.unchanged} "
            f"rejected={self.rejected} warnings={self.warnings}"
        )


_NULL = "\\N"  # COPY's NULL


def _copy_text(value) -> str:
    if value is None:
        return _NULL
    if "\\" in value or (not value.isprintable() and ("\t" in value or "\n" in value or "\r" in value)):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _value_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)[:300]


def _fingerprint_token(cell: object) -> str:
    """A typed XLSX cell as fingerprint text (a number and the same digits as text stay apart)."""
    if cell is None:
        return "\x01N"
    if type(cell) is str:
        return cell
    return "\x01" + type(cell).__name__ + repr(cell)


_OK = ""  # severity of a clean cell (IssueSeverity values are never empty)
# A column's parsed distinct cells are remembered across chunks up to this many (dates, amounts and
# genders repeat endlessly; keys and names do not, and are simply parsed once per chunk).
COLUMN_CACHE_LIMIT = 50000
# ... and once this many cells have been seen, only while fewer than 80 % of them needed parsing.
CACHE_TRIAL_CELLS = 50000


def _cell_keys(cells) -> list:
    """Dictionary keys for a column's cells: the cells themselves when all are text (every CSV), else
    (type, cell) for the typed ones of an XLSX sheet, so that 1, 1.0 and True stay apart."""
    types = set(map(type, cells))
    if types <= {str, type(None)}:
        return cells
    return [cell if cell is None or type(cell) is str else (type(cell), cell) for cell in cells]


# Every spelling of the blank markers "NULL" and "None" that parse_text folds to an empty field.
_BLANK_SPELLINGS = frozenset(
    "".join(spelling)
    for word in ("null", "none")
    for spelling in itertools.product(*((letter, letter.upper()) for letter in word))
)


class _ColumnParser:
    """One column's parser, applied to each distinct cell once: cell → (COPY text, value, severity,
    reasons). A parsing error gives NULL with WARNING (a bad field) or REJECTED (an unusable key).

    Three shortcuts keep a dealer group's export quick: a plain text column of text cells is
    stripped and checked as a whole (``text_column``); text cells matching the parser's clean
    pattern (CLEAN_CELLS: an 11-digit mobile, a plain whole number) are their own value; and the
    results for repeating cells (dates, amounts, genders) are remembered across chunks, until a
    column turns out to hold mostly distinct values (keys, names, addresses)."""

    def __init__(self, parse: Callable[[object], object]):
        self.parse = parse
        self.text_limit = getattr(parse, "text_limit", None)
        self.blank_text = getattr(parse, "blank_text", None)
        pattern = CLEAN_CELLS.get(parse)
        self.clean = pattern.fullmatch if pattern is not None else None
        self.all_clean = (
            re.compile(rf"(?:{pattern.pattern})(?:\n(?:{pattern.pattern}))*", pattern.flags).fullmatch
            if pattern is not None else None
        )  # fmt: skip
        self.cache: dict = {}  # key → parse result
        self.text_cache: dict = {}  # key → COPY text, for the same keys
        self.problem_keys: set = set()  # the cached keys with a warning or a rejection
        self.caching = True
        self.cells_seen = 0
        self.cells_parsed = 0

    def parse_cell(self, cell: object) -> tuple[str, object, str, tuple[str, ...]]:
        if self.clean is not None and type(cell) is str and self.clean(cell):
            return cell, cell, _OK, ()
        try:
            value = self.parse(cell)
        except parsing.RowRejected as error:
            return _NULL, None, IssueSeverity.REJECTED, ((msgid(error.reason), error.params or None),)
        except parsing.FieldError as error:
            return _NULL, None, IssueSeverity.WARNING, ((msgid(error.reason), error.params or None),)
        severity, reasons = _OK, ()
        if type(value) is _KeptWithWarnings:
            value, warnings = value
            severity, reasons = IssueSeverity.WARNING, tuple((msgid(reason), None) for reason in warnings)
        if value is None:
            return _NULL, None, severity, reasons
        return _copy_text(value if type(value) is str else str(value)), value, severity, reasons

    def column(self, cells, *, text_cells: bool) -> tuple[list, list, dict]:
        """(COPY text of each cell, the cells' dictionary keys, distinct key → parse result for the
        keys with a warning or a rejection)."""
        if text_cells and self.text_limit is not None:
            texts = self.text_column(cells)
            if texts is not None:
                return texts, cells, {}
        if text_cells and self.all_clean is not None:
            try:
                joined = "\n".join(cells)
            except TypeError:  # a missing cell (a short row)
                joined = None
            if joined is not None and joined.count("\n") == len(cells) - 1 and self.all_clean(joined):
                return list(cells), cells, {}
        keys = cells if text_cells else _cell_keys(cells)
        self.cells_seen += len(keys)
        if self.text_cache:
            texts = list(map(self.text_cache.get, keys))
            # Taken before parsing the new cells, which may decide to stop caching and empty the cache.
            problems = {key: self.cache[key] for key in self.problem_keys.intersection(keys)}
            if None in texts:  # a few cells not seen before: parse just those
                new_keys, new_cells = [], []
                for key, cell, text in zip(keys, cells, texts, strict=True):
                    if text is None:
                        new_keys.append(key)
                        new_cells.append(cell)
                new_texts, new_problems = self.results(new_keys, new_cells)
                texts = [new_texts[key] if text is None else text for key, text in zip(keys, texts, strict=True)]
                problems.update(new_problems)
            # (else dates, amounts: every cell seen before, no parsing at all)
            return texts, keys, problems
        texts, problems = self.results(keys, cells)
        return list(map(texts.__getitem__, keys)), keys, problems

    def text_column(self, cells) -> list[str] | None:
        """A plain text column whose every cell is text: each stripped at C speed, when no cell is
        blank where that matters, a NULL marker, too long, or in need of COPY escaping (else None:
        the cell-by-cell path decides)."""
        try:
            stripped = list(map(str.strip, cells))
        except TypeError:  # a missing cell (a short row)
            return None
        distinct = set(stripped)
        if not distinct.isdisjoint(_BLANK_SPELLINGS) or (self.blank_text is None and "" in distinct):
            return None
        if max(map(len, distinct), default=0) > self.text_limit:
            return None
        joined = "".join(distinct)
        if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined or FORMULA_ESCAPE in joined:
            return None
        return stripped

    def results(self, keys, cells) -> tuple[dict, dict]:
        """For one chunk's cells: distinct key → COPY text, and distinct key → parse result for the
        keys with a warning or a rejection."""
        cache = self.cache
        get = cache.get
        parse_cell = self.parse_cell
        room = COLUMN_CACHE_LIMIT - len(cache) if self.caching else 0
        texts = {}
        problems = {}
        distinct = dict(zip(keys, cells, strict=True))
        for key, cell in distinct.items():
            result = get(key)
            if result is None:
                self.cells_parsed += 1
                result = parse_cell(cell)
                if room > 0:
                    cache[key] = result
                    self.text_cache[key] = result[0]
                    if result[2]:
                        self.problem_keys.add(key)
                    room -= 1
            texts[key] = result[0]
            if result[2]:
                problems[key] = result
        if self.caching and self.cells_seen >= CACHE_TRIAL_CELLS and self.cells_parsed > 0.8 * self.cells_seen:
            # Mostly new values: a key, a name, an address; remembering costs memory and saves nothing.
            self.caching = False
            cache.clear()
            self.text_cache.clear()
            self.problem_keys.clear()
        return texts, problems

    def values(self, keys, cells) -> list:
        """The parsed value of each cell."""
        parsed = {key: self.parse_cell(cell)[1] for key, cell in dict(zip(keys, cells, strict=True)).items()}
        return list(map(parsed.__getitem__, keys))


def _fingerprint_texts(fingerprints: list[int | None]) -> list[str]:
    texts = list(map(str, fingerprints))
    if None in fingerprints:
        return [_NULL if fp is None else text for fp, text in zip(fingerprints, texts, strict=True)]
    return texts


def _transpose(rows: list[Sequence[object]], indexes: list[int | None]) -> list:
    """The chunk's cells column by column, one entry per index (None for an unmapped column; None
    cells where a short row has none)."""
    widths = set(map(len, rows))
    if len(widths) == 1:
        width = widths.pop()
        columns = list(zip(*rows, strict=True))
        missing = [None] * len(rows)
        return [None if index is None else columns[index] if index < width else missing for index in indexes]
    return [None if index is None else [row[index] if index < len(row) else None for row in rows] for index in indexes]


_BLAKE2B_64 = functools.partial(hashlib.blake2b, digest_size=8)
_SIGNED_64 = functools.partial(int.from_bytes, byteorder="big", signed=True)


class _Fingerprinter:
    """Raw row → a signed 64-bit hash of what the parsers would see: the mapped cells in field order,
    which fields are mapped, the default store and the parsing rules' version. None when the row
    cannot be fingerprinted unambiguously (a cell holding the separator)."""

    def __init__(self, plan: list[tuple[Column, int | None]], *, kind: str, default_store: str):
        self.positions = [index for _column, index in plan if index is not None]
        mapped = ",".join(column.field for column, index in plan if index is not None)
        self.prefix = "\x00".join([FINGERPRINT_VERSION, kind, default_store, mapped, ""]).encode() + b"\x00"
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
            # prefix + "\x00".join(cells), as _hash hashes it (the prefix ends in one more separator)
            texts = list(map("\x00".join, zip(itertools.repeat(self.prefix[:-1].decode()), *columns)))
        except TypeError:  # a typed or missing cell somewhere: row by row
            return list(map(self, rows))
        hashes = map(_BLAKE2B_64, map(str.encode, texts))
        return list(map(_SIGNED_64, map(operator.methodcaller("digest"), hashes)))


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


class DmsImport:
    """One file through stage and apply; see the module docstring."""

    def __init__(self, *, batch: ImportBatch, source: RowSource, progress: Callable[[int], None] | None = None):
        self.batch = batch
        self.kind = batch.kind
        self.source = source
        self.progress = progress
        self.columns = _columns(self.kind)
        self.outcome = ImportOutcome(batch=batch)
        self.stage_table = f"dms_stage_{batch.pk}"
        self.rejected_rows: set[int] = set()  # row numbers
        self.parse_rows: set[int] | None = None  # after a fingerprint pass: the rows that may have changed
        self.skipped_keys = 0  # keys found unchanged by the fingerprint pass
        self.pinyin_cache: dict[str, tuple[str, str]] = {}  # name → COPY texts of its pinyin and initials
        self.rows_read = 0
        self.allowed_store_ids: list[int] | None = None

    # -- fingerprints -------------------------------------------------------------------------

    def _plan(self) -> list[tuple[Column, int | None]]:
        if not any(self.source.header):
            raise ApplicationError(str(FILE_EMPTY))
        mapping = header_mapping(kind=self.kind, header=self.source.header, profile=self.batch.profile)
        positions = {field_name: index for index, field_name in mapping.items()}
        return [(column, positions.get(column.field)) for column in self.columns]

    def _fingerprinter(self, plan: list[tuple[Column, int | None]]) -> _Fingerprinter:
        default_store = self.batch.store.code if self.batch.store_id else ""
        return _Fingerprinter(plan, kind=self.kind, default_store=default_store)

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
            overlong = first_overlong_cell_row(rows, text_cells=self.source.text_cells)
            if overlong is not None:
                raise cell_too_long(row=first + overlong)
            numbers = range(first, first + len(rows))
            first += len(rows)
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
            if rows:
                yield list(numbers), rows
            if report and self.progress:
                self.progress(first - 2)
        self.rows_read = first - 2

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
        key_parser = _ColumnParser(next(column.parser for column in self.columns if column.field == key_field))
        store_parser = _ColumnParser(_optional_text)
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
                mapped_columns = _transpose(rows, mapped)
                key_texts, keys, key_problems = key_parser.column(mapped_columns[key_position], text_cells=text_cells)
                if not repeated_keys:
                    keys_seen += len(key_texts)
                    seen_keys.update(key_texts)
                    repeated_keys = len(seen_keys) < keys_seen
                    if repeated_keys:
                        seen_keys.clear()
                fingerprints = fingerprint.many(rows, mapped_columns, text_cells=text_cells)
                if store_index is None:
                    store_texts = [_NULL] * len(rows)
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
                fp_texts = _fingerprint_texts(fingerprints)
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
                ("customers_customer", "customer_id") if self.kind == ImportKind.VEHICLES
                else ("customers_vehicle", "vehicle_id")
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
            LEFT JOIN crm_store st ON st.code = coalesce(nullif(f.store_code, ''), %(default_store)s)
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
            LEFT JOIN crm_store st ON st.code = coalesce(nullif(f.store_code, ''), %(default_store)s)
            WHERE t.id IS NULL OR NOT coalesce({store}, false)
        """

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
        extra = ", name_pinyin text, name_initials text" if self.kind == ImportKind.CUSTOMERS else ""
        column_sql = ", ".join(f"{column.field} {column.sql_type}" for column in self.columns)
        parsers = [_ColumnParser(column.parser) if index is not None else None for column, index in plan]
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.stage_table}")
            cursor.execute(f"CREATE TEMP TABLE {self.stage_table} (row_no integer, {column_sql}{extra}, fp bigint)")
            raw = cursor.cursor
            parsed_rows = 0
            # After a fingerprint pass (which showed the progress of reading the file) only the rows
            # that may have changed are parsed: the bar does not start again.
            for numbers, rows in self._chunks(self.parse_rows, report=self.parse_rows is None):
                parsed_rows += len(rows)
                lines = self._parse_chunk(numbers, rows, plan, parsers, fingerprint)
                if lines:
                    raw.copy_expert(f"COPY {self.stage_table} FROM STDIN", io.StringIO("\n".join(lines) + "\n"))
            self.outcome.parsed_rows = parsed_rows
            if self.progress:
                self.progress(self.rows_read)
            cursor.execute(f"ANALYZE {self.stage_table}")

    def _parse_chunk(self, numbers: list[int], rows: list, plan: list[tuple[Column, int | None]],
                     parsers: list[_ColumnParser | None], fingerprint: _Fingerprinter) -> list[str]:  # fmt: skip
        """COPY lines of one chunk, column by column: each distinct cell of a column is parsed once,
        and the parsed texts are joined into lines at C speed. A bad field is NULL with a warning, an
        unusable key rejects the row; a row with a warning gets no fingerprint."""
        count = len(rows)
        header = self.source.header
        raw_columns = _transpose(rows, [index for _column, index in plan])
        text_cells = self.source.text_cells
        columns: list = [list(map(str, numbers))]
        problems: list[tuple[int, int, Issue]] = []  # (row position in chunk, plan position, issue)
        rejected: set[int] = set()
        warned: set[int] = set()
        names = None
        for position, ((column, index), parser) in enumerate(zip(plan, parsers, strict=True)):
            if parser is None:
                columns.append(itertools.repeat(_NULL, count))
                continue
            cells = raw_columns[position]
            texts, keys, bad = parser.column(cells, text_cells=text_cells)
            columns.append(texts)
            if column.field == "name" and self.kind == ImportKind.CUSTOMERS:
                names = parser.values(keys, cells)
            if not bad:
                continue
            for row_position, key in enumerate(keys):
                if key not in bad:
                    continue
                _text, _value, severity, reasons = bad[key]
                (rejected if severity == IssueSeverity.REJECTED else warned).add(row_position)
                for reason, reason_params in reasons:
                    issue = Issue(numbers[row_position], header[index], _value_text(cells[row_position]), reason,
                                  severity, reason_params)  # fmt: skip
                    problems.append((row_position, position, issue))
        if self.kind == ImportKind.CUSTOMERS:
            columns.extend(self._pinyin_columns(names if names is not None else itertools.repeat(None, count)))
        mapped_columns = [cells for cells in raw_columns if cells is not None]
        fingerprints = fingerprint.many(rows, mapped_columns, text_cells=text_cells)
        for row_position in warned:
            fingerprints[row_position] = None
        columns.append(_fingerprint_texts(fingerprints))
        problems.sort(key=operator.itemgetter(0, 1))
        for _row_position, _position, issue in problems:
            self.outcome.issues.append(issue)
            if issue.severity == IssueSeverity.REJECTED:
                self.rejected_rows.add(issue.row_number)
        lines = list(map("\t".join, zip(*columns, strict=False)))  # some columns repeat NULL
        if rejected:
            lines = [line for row_position, line in enumerate(lines) if row_position not in rejected]
        return lines

    def _pinyin_columns(self, names) -> tuple[list[str], list[str]]:
        """The full pinyin and initials of each name (computed once per distinct name)."""
        cache = self.pinyin_cache
        full, initials = [], []
        for name in names:
            try:
                keys = cache[name]
            except KeyError:
                keys = name_search_keys(name) if name else ("", "")
                keys = tuple(_copy_text(key) for key in keys)
                if len(cache) < COLUMN_CACHE_LIMIT:
                    cache[name] = keys
            full.append(keys[0])
            initials.append(keys[1])
        return full, initials

    # -- apply --------------------------------------------------------------------------------

    def _compare_fields(self) -> list[str]:
        return [column.field for column in self.columns]

    def _resolve_sql(self) -> str:
        """Resolved rows: the stage row with its store (and owner / vehicle) IDs and a reject reason."""
        default_code = "%(default_store)s"
        store_expression = f"coalesce(nullif(s.store_code, ''), {default_code})"
        # Rows of a customer erased at their request (PIPL) never come back (customers/privacy.py).
        erased = tombstone_reject_sql(kind=self.kind, stage="s", store="st", vehicle="v")
        if self.kind == ImportKind.CUSTOMERS:
            return f"""
                SELECT s.*, st.id AS store_id,
                       CASE WHEN {erased} THEN 'erased'
                            WHEN st.id IS NULL AND {store_expression} IS NULL THEN 'no_store'
                            WHEN st.id IS NULL THEN 'unknown_store' END AS reject
                FROM {self.stage_table} s LEFT JOIN crm_store st ON st.code = {store_expression}
            """
        if self.kind == ImportKind.VEHICLES:
            return f"""
                SELECT s.*, c.id AS customer_id, coalesce(st.id, c.store_id) AS store_id,
                       CASE WHEN {erased} THEN 'erased'
                            WHEN c.id IS NULL THEN 'unknown_customer'
                            WHEN st.id IS NULL AND {store_expression} IS NOT NULL THEN 'unknown_store' END AS reject
                FROM {self.stage_table} s
                LEFT JOIN customers_customer c ON c.customer_no = s.customer_no
                LEFT JOIN crm_store st ON st.code = {store_expression}
            """
        return f"""
            SELECT s.*, v.id AS vehicle_id, coalesce(st.id, v.store_id) AS store_id,
                   CASE WHEN {erased} THEN 'erased'
                        WHEN v.id IS NULL THEN 'unknown_vin'
                        WHEN st.id IS NULL AND {store_expression} IS NOT NULL THEN 'unknown_store' END AS reject
            FROM {self.stage_table} s
            LEFT JOIN customers_vehicle v ON v.vin = s.vin
            LEFT JOIN crm_store st ON st.code = {store_expression}
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
            # Keys on more than one row: an exact repeat keeps its first row, a key repeated with
            # different data rejects every row of the key.
            cursor.execute(f"""
                CREATE TEMP TABLE dms_repeat_{self.batch.pk} AS
                SELECT s.{key} AS key, min(s.row_no) AS first_row,
                       count(DISTINCT ROW({", ".join("s." + name for name in fields)})) > 1 AS conflict
                FROM {self.stage_table} s
                WHERE s.{key} IN (SELECT {key} FROM {self.stage_table} GROUP BY {key} HAVING count(*) > 1)
                GROUP BY s.{key}
            """)  # fmt: skip
            foreign = (
                "" if allowed_store_ids is None else "WHEN NOT (r0.store_id = ANY(%(allowed)s)) THEN 'foreign_store'"
            )
            timings["repeats"] = time.monotonic() - started

            # Every row resolved (store, owner / vehicle) and, when it is its key's row and nothing
            # rejects it, classified against the target table: created, updated or unchanged.
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
                    FROM ({self._resolve_sql()}) r0
                    LEFT JOIN dms_repeat_{self.batch.pk} k ON k.key = r0.{key}
                ) r
                LEFT JOIN {table} t ON t.{key} = r.{key} AND r.reason IS NULL AND NOT r.repeat_row
                """,
                params,
            )
            cursor.execute(f"SELECT row_no, reason FROM {clean} WHERE reason IS NOT NULL")
            for row_number, reason in cursor.fetchall():
                message = msgid(self.REJECT_REASONS[reason])
                self.rejected_rows.add(row_number)
                self.outcome.issues.append(Issue(row_number, "", "", message, IssueSeverity.REJECTED))
            cursor.execute(f"SELECT action, count(*) FROM {clean} WHERE action IS NOT NULL GROUP BY action")
            counts = dict(cursor.fetchall())
            self.outcome.created = counts.get("+", 0)
            self.outcome.updated = counts.get("~", 0)
            self.outcome.unchanged = counts.get("=", 0)
            # Keys skipped as unchanged (never in the stage: all their rows were skipped).
            self.outcome.unchanged += self.skipped_keys
            timings["classify"] = time.monotonic() - started
            if dry_run:
                cursor.execute(f"SELECT {key}, action FROM {clean} WHERE action IS NOT NULL ORDER BY row_no LIMIT 1000")
                for key_value, action in cursor.fetchall():
                    {"+": self.outcome.created_keys, "~": self.outcome.changed_keys, "=": self.outcome.unchanged_keys}[
                        action
                    ].append(key_value)
                return

            # A first import (or one that at least doubles a table) builds the table's indexes once
            # after writing, instead of row by row: see crm.bulk.
            self.now = timezone.now()
            written = self.outcome.created + self.outcome.updated
            started = time.monotonic()
            with bulk_load(cursor, table, new_rows=self.outcome.created) as bulk:
                self._upsert(cursor, table=table, key=key, targets=targets, table_taken=bulk)
            timings["upsert"] = time.monotonic() - started
            if bulk:
                self.outcome.bulk_loaded.append(table)
            started = time.monotonic()
            if hasattr(model, "history"):
                history_table = model.history.model._meta.db_table
                with bulk_load(cursor, history_table, new_rows=written, analyze=False) as bulk:
                    self._write_history(cursor, model=model, key=key)
                if bulk:
                    self.outcome.bulk_loaded.append(history_table)
            timings["history"] = time.monotonic() - started
            started = time.monotonic()
            self._confirm_unchanged(cursor, table=table, key=key)
            timings["confirm"] = time.monotonic() - started
            self.outcome.touched_customer_ids = self._touched_customer_ids(cursor)

    def _confirm_unchanged(self, cursor, *, table: str, key: str) -> None:
        """An unchanged row takes this file's fingerprint when it holds another one (its first import
        since fingerprints, a reformatted export), so that the next import skips it; its data and
        ``updated_at`` stay as they are. ``dms_synced_at`` is the ``updated_at`` the row was compared
        with: if someone changed the row meanwhile, the two differ and the next import compares again.
        (Created and updated rows got theirs in the upsert.)"""
        cursor.execute(f"""
            UPDATE {table} t SET dms_fingerprint = c.fp, dms_synced_at = c.target_updated_at
            FROM dms_clean_{self.batch.pk} c
            WHERE c.action = '=' AND c.fp IS NOT NULL AND t.{key} = c.{key}
              AND (c.target_fp IS DISTINCT FROM c.fp OR c.target_synced_at IS DISTINCT FROM c.target_updated_at)
        """)  # fmt: skip

    def _touched_customer_ids(self, cursor) -> list[int]:
        """The customers whose segment facts this import may have changed: created / updated cards,
        the new and previous owners of created / updated vehicles, the owners of the vehicles (new and
        previous) of created / updated repair orders."""
        clean = f"dms_clean_{self.batch.pk}"
        if self.kind == ImportKind.CUSTOMERS:
            cursor.execute(f"SELECT previous_ref FROM {clean} WHERE action = '~' UNION "
                           f"SELECT t.id FROM customers_customer t JOIN {clean} c ON c.customer_no = t.customer_no "
                           f"WHERE c.action = '+'")  # fmt: skip
        elif self.kind == ImportKind.VEHICLES:
            cursor.execute(f"SELECT customer_id FROM {clean} WHERE action IN ('+', '~') UNION "
                           f"SELECT previous_ref FROM {clean} WHERE action = '~'")  # fmt: skip
        else:
            cursor.execute(f"""
                SELECT DISTINCT v.customer_id FROM customers_vehicle v
                WHERE v.id IN (SELECT vehicle_id FROM {clean} WHERE action IN ('+', '~')
                               UNION SELECT previous_ref FROM {clean} WHERE action = '~')
            """)  # fmt: skip
        return sorted(row[0] for row in cursor.fetchall())

    def _upsert(self, cursor, *, table: str, key: str, targets: dict[str, str], table_taken: bool) -> None:
        """Insert the created rows and update the changed ones. With the table taken for a bulk load
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
        if table_taken:
            cursor.execute(f"{insert} FROM dms_clean_{self.batch.pk} c WHERE c.action = '+'", params)
            if self.outcome.updated:
                cursor.execute(f"{insert} FROM dms_clean_{self.batch.pk} c WHERE c.action = '~' "
                               f"ON CONFLICT ({key}) DO UPDATE SET {updates}", params)  # fmt: skip
            return
        cursor.execute(f"{insert} FROM dms_clean_{self.batch.pk} c WHERE c.action IN ('+', '~') "
                       f"ON CONFLICT ({key}) DO UPDATE SET {updates}", params)  # fmt: skip

    def _write_history(self, cursor, *, model, key: str) -> None:
        history_model = model.history.model
        tracked = []
        for history_field in history_model._meta.concrete_fields:
            if history_field.name.startswith("history_"):
                continue
            tracked.append(history_field.column)
        cursor.execute(
            f"""
            INSERT INTO {history_model._meta.db_table}
                ({", ".join(tracked)}, history_date, history_change_reason, history_type, history_user_id)
            SELECT {", ".join("t." + column for column in tracked)}, %(now)s, %(reason)s, c.action, %(user)s
            FROM {model._meta.db_table} t JOIN dms_clean_{self.batch.pk} c ON c.{key} = t.{key}
            WHERE c.action IN ('+', '~')
            """,
            {"now": self.now, "reason": f"DMS import #{self.batch.pk}", "user": self.batch.user_id},
        )

    def _drop_temporary_tables(self) -> None:
        with connection.cursor() as cursor:
            for prefix in ("dms_stage", "dms_repeat", "dms_clean", "dms_fp", "dms_fpkey", "dms_skip"):
                cursor.execute(f"DROP TABLE IF EXISTS {prefix}_{self.batch.pk}")

    # -- the whole run ------------------------------------------------------------------------

    def run(self, *, allowed_store_ids: list[int] | None = None, dry_run: bool = False) -> ImportOutcome:
        timings = self.outcome.timings
        try:
            started = time.monotonic()
            with connection.cursor() as cursor:
                # The import's joins and groupings hash a whole file's keys: in memory, not in batches
                # spilled to disk (PostgreSQL's default is 4 MB). Reset in `finally`.
                cursor.execute("SET work_mem = %s", [IMPORT_WORK_MEM])
            self.allowed_store_ids = allowed_store_ids
            # A preview parses every row: it lists the unchanged keys, which skipped rows would not give.
            with _without_cyclic_gc():
                self._stage(use_fingerprints=not dry_run)
            timings["stage"] = time.monotonic() - started
            with transaction.atomic():
                self._apply(allowed_store_ids=allowed_store_ids, dry_run=dry_run)
                if dry_run:
                    transaction.set_rollback(True)
        finally:
            if connection.connection is not None and not connection.needs_rollback:
                with contextlib.suppress(Exception):
                    self._drop_temporary_tables()
                with contextlib.suppress(Exception), connection.cursor() as cursor:
                    cursor.execute("RESET work_mem")
        outcome = self.outcome
        outcome.rejected = len(self.rejected_rows)
        outcome.warnings = sum(1 for issue in outcome.issues if issue.severity == IssueSeverity.WARNING)
        return outcome


def errors_csv_bytes(*, source: RowSource, rejected_rows: dict[int, list[tuple[str, dict | None]]]) -> bytes:
    """The rejected rows as they were in the file plus "row" and "reason" columns, UTF-8 with BOM."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([spreadsheet_safe(cell) for cell in (*source.header, gettext("Row"), gettext("Reason"))])
    if rejected_rows:
        last = max(rejected_rows)
        for row_number, row in enumerate(source.rows(), start=2):
            if row_number in rejected_rows:
                rendered = (ImportIssue.render_reason(reason, params) for reason, params in rejected_rows[row_number])
                reasons = "; ".join(dict.fromkeys(rendered))
                cells = [spreadsheet_safe(_value_text(cell)) for cell in row]
                writer.writerow([*cells, row_number, spreadsheet_safe(reasons)])
            if row_number >= last:
                break
    return buffer.getvalue().encode("utf-8-sig")


def batch_record_outcome(*, batch: ImportBatch, outcome: ImportOutcome, source: RowSource, dry_run: bool) -> None:
    """Save counts, issues and the rejected-rows file of a finished run."""
    batch.created_count = outcome.created
    batch.updated_count = outcome.updated
    batch.unchanged_count = outcome.unchanged
    batch.rejected_count = outcome.rejected
    batch.warning_count = outcome.warnings
    batch.status = ImportStatus.PREVIEWED if dry_run else ImportStatus.DONE
    batch.finished_at = timezone.now()
    batch.encoding = source.encoding
    ImportIssue.objects.filter(batch=batch).delete()
    ImportIssue.objects.bulk_create(
        (
            ImportIssue(
                batch=batch,
                row_number=issue.row_number,
                column=issue.column[:100],
                value=issue.value,
                reason=issue.reason[:300],
                reason_params=issue.params,
                severity=issue.severity,
            )
            for issue in outcome.issues
        ),
        batch_size=5000,
    )
    if outcome.rejected:
        content = errors_csv_bytes(source=source, rejected_rows=dict(outcome_rejected_rows(outcome)))
        batch.errors_file.save(f"rejected-{batch.pk}.csv", ContentFile(content), save=False)
    batch.save()


def outcome_rejected_rows(outcome: ImportOutcome) -> dict[int, list[tuple[str, dict | None]]]:
    rows: dict[int, list[tuple[str, dict | None]]] = defaultdict(list)
    for issue in outcome.issues:
        if issue.severity == IssueSeverity.REJECTED:
            rows[issue.row_number].append((issue.reason, issue.params))
    return rows
