"""Where DMS rows come from: a CSV file (UTF-8 with or without BOM, GBK, GB18030), an XLSX file, or
a tablib Dataset (the django-import-export admin). Rows are streamed, never all held in memory."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from crm.exceptions import ApplicationError
from customers.dms.parsing import FALLBACK_ENCODINGS, UTF16_BYTE_ORDER_MARKS, DecodeError, decode_csv_bytes

# Files up to this size are decoded at once by parsing.decode_csv_bytes; larger ones are checked in
# chunks with the same strict rules, then streamed.
WHOLE_FILE_DECODE_LIMIT = 16 * 1024 * 1024
CHUNK_SIZE = 1024 * 1024
CHUNK_ROWS = 10000
# Excel's own limit for one cell: a cell this long is a damaged file or not a DMS export at all
# (openpyxl cuts a longer XLSX cell to exactly this length, so reaching it is refused).
CELL_CHARS_LIMIT = 32767

NOT_XLSX = _(
    "The file is not a readable XLSX workbook: it is damaged, cut short or another kind of file. "
    "Open it in Excel or WPS, save it as .xlsx and upload it again."
)
EMPTY_FILE = _("The file is empty.")
CELL_TOO_LONG = _(
    "Row %(row)s has a cell of %(limit)s characters or more (a spreadsheet cell's limit): "
    "the file is damaged or not a DMS export."
)
A_CELL_TOO_LONG = _(
    "A cell has %(limit)s characters or more (a spreadsheet cell's limit): the file is damaged or not a DMS export."
)
NOT_CSV = _("Line %(row)s is not valid CSV (%(error)s): the file is damaged or not a DMS export.")


class UnreadableFile(ApplicationError):
    """The file as a whole cannot be imported; ``message`` says why in one line."""


def cell_too_long(*, row: int) -> UnreadableFile:
    return UnreadableFile(str(CELL_TOO_LONG % {"row": row, "limit": CELL_CHARS_LIMIT}))


def _csv_error(error: csv.Error, *, line: int) -> UnreadableFile:
    if "field larger than field limit" in str(error):
        return cell_too_long(row=line) if line else UnreadableFile(str(A_CELL_TOO_LONG % {"limit": CELL_CHARS_LIMIT}))
    return UnreadableFile(str(NOT_CSV % {"row": line, "error": error}))


def read_error_message(error: BaseException, *, xlsx: bool) -> str:
    """One clear line for an exception raised while reading an uploaded file (the admin's formats
    raise the readers' own exceptions): ours say why, anything from openpyxl is a damaged workbook."""
    if isinstance(error, ApplicationError):
        return str(error.message)
    if isinstance(error, DecodeError):
        return str(error.reason)
    if isinstance(error, StopIteration):
        return str(EMPTY_FILE)
    if xlsx:
        return str(NOT_XLSX)
    if isinstance(error, csv.Error):
        return str(_csv_error(error, line=0).message)
    return str(error) if isinstance(error, ValueError) else str(NOT_CSV % {"row": 1, "error": type(error).__name__})


# What openpyxl raises on a file that is not a workbook, or a damaged one (a cut-short ZIP, a
# missing part, broken XML), when it opens it or only later, as its rows are read.
def _xlsx_errors() -> tuple[type[BaseException], ...]:
    import zipfile
    import zlib
    from xml.etree.ElementTree import ParseError

    from openpyxl.utils.exceptions import InvalidFileException

    return (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, KeyError, EOFError, ParseError,
            InvalidFileException, ValueError, TypeError, IndexError, AttributeError)  # fmt: skip


@dataclass
class RowSource:
    """A header and a re-iterable stream of data rows (the header is row 1, data starts at row 2)."""

    name: str
    header: list[str]
    open_rows: Callable[[], Iterator[Sequence[object]]]
    total_rows: int | None
    encoding: str = ""
    text_cells: bool = False  # every cell is a str (or None): a CSV file
    open_chunks: Callable[[int], Iterator[list[Sequence[object]]]] | None = None
    # chunks_of's own reader (a large CSV file): the chunks not wanted are counted, not split into cells.
    open_chunks_of: Callable[[int, Callable[[int], bool]], Iterator[tuple[int, list | None]]] | None = None
    # rows_of's own reader (a large CSV file), given the wanted numbers of data rows in ascending order,
    # each once: the rows before each one wanted are counted, not split.
    open_rows_of: Callable[[list[int]], Iterator[tuple[int, Sequence[object]]]] | None = None

    def rows(self) -> Iterator[Sequence[object]]:
        return self.open_rows()

    def chunks(self, size: int) -> Iterator[list[Sequence[object]]]:
        """The data rows in lists of ``size`` (the last one shorter)."""
        if self.open_chunks is not None:
            yield from self.open_chunks(size)
            return
        rows = self.rows()
        while chunk := list(itertools.islice(rows, size)):
            yield chunk

    def chunks_of(self, size: int, wanted: Callable[[int], bool]) -> Iterator[tuple[int, list | None]]:
        """The chunks of ``chunks(size)`` as (number of rows, rows), the rows only of the chunks whose
        index is ``wanted`` (None for the others, which a large CSV file only counts: a parse worker
        wants every other chunk, and splitting the others into cells was a tenth of its work)."""
        if self.open_chunks_of is not None:
            yield from self.open_chunks_of(size, wanted)
            return
        for index, chunk in enumerate(self.chunks(size)):
            yield len(chunk), chunk if wanted(index) else None

    def rows_of(self, numbers: Iterable[int]) -> Iterator[tuple[int, Sequence[object]]]:
        """The rows of these numbers (the header is row 1) as (number, row), in file order, read up to
        the last of them; a number that is not a data row's is left out. A large CSV file splits only
        these rows into cells and counts the others (the rejected rows' report of a 542,000-row file:
        0.23 s of CPU against 1.3 s splitting every row)."""
        wanted = sorted(number for number in set(numbers) if number >= 2)  # data rows only
        if not wanted:
            return
        if self.open_rows_of is not None:
            yield from self.open_rows_of(wanted)
            return
        rows = self.rows()
        try:
            targets, last = set(wanted), wanted[-1]
            for number, row in enumerate(rows, start=2):
                if number in targets:
                    yield number, row
                if number >= last:
                    break
        finally:
            getattr(rows, "close", lambda: None)()


def _decodes_strictly(path: str, encoding: str, *, skip: int = 0) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    with open(path, "rb") as handle:
        handle.seek(skip)
        try:
            while chunk := handle.read(CHUNK_SIZE):
                if b"\x00" in chunk:
                    return False
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def detect_file_encoding(path: str) -> str:
    """The encoding of a CSV file on disk, by the rules of parsing.decode_csv_bytes, checked in chunks.

    Returns ``'utf-8-sig'``, ``'utf-8'``, ``'gbk'`` or ``'gb18030'``; raises DecodeError otherwise.
    """
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head.startswith(UTF16_BYTE_ORDER_MARKS):
        raise DecodeError(_("The file is UTF-16 text. Save it as CSV UTF-8 and upload it again."))
    if head.startswith(codecs.BOM_UTF8):
        if _decodes_strictly(path, "utf-8", skip=len(codecs.BOM_UTF8)):
            return "utf-8-sig"
        raise DecodeError(_("The file starts with a UTF-8 byte order mark but is not valid UTF-8 text."))
    for encoding in ("utf-8", *FALLBACK_ENCODINGS):
        if _decodes_strictly(path, encoding):
            return encoding
    with open(path, "rb") as handle:
        if b"\x00" in handle.read(CHUNK_SIZE):
            raise DecodeError(_("The file is not a text file."))
    raise DecodeError(_("The file is neither UTF-8 nor GBK/GB18030 text. Save it as CSV UTF-8 and upload it again."))


def _count_lines(path: str) -> int:
    lines = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            lines += chunk.count(b"\n")
    return lines


def _strip_header(header: Sequence[object]) -> list[str]:
    cells = ["" if cell is None else str(cell) for cell in header]
    if cells:
        cells[0] = cells[0].lstrip("\ufeff")
    return [cell.strip() for cell in cells]


def _checked_csv(reader) -> Iterator[list[str]]:
    """The rows of a csv.reader, its errors (a cell over the field limit, a NUL) as UnreadableFile."""
    try:
        yield from reader
    except csv.Error as error:
        raise _csv_error(error, line=reader.line_num) from None


def _csv_header(reader) -> list[str]:
    try:
        return _strip_header(next(reader, []))
    except csv.Error as error:
        raise _csv_error(error, line=reader.line_num) from None


def csv_source_from_bytes(data: bytes, *, name: str) -> RowSource:
    text, encoding = decode_csv_bytes(data)
    text = text.removeprefix("\ufeff")
    header = _csv_header(csv.reader(io.StringIO(text)))

    def open_rows() -> Iterator[Sequence[object]]:
        rows = _checked_csv(csv.reader(io.StringIO(text)))
        next(rows, None)
        return rows

    return RowSource(name=name, header=header, open_rows=open_rows, total_rows=max(text.count("\n") - 1, 0),
                     encoding=encoding, text_cells=True)  # fmt: skip


def csv_source_from_path(path: str) -> RowSource:
    if os.path.getsize(path) <= WHOLE_FILE_DECODE_LIMIT:
        with open(path, "rb") as handle:
            return csv_source_from_bytes(handle.read(), name=os.path.basename(path))
    encoding = detect_file_encoding(path)
    python_encoding = "utf-8-sig" if encoding == "utf-8-sig" else encoding

    def open_rows() -> Iterator[Sequence[object]]:
        for chunk in open_chunks(CHUNK_ROWS):
            yield from chunk

    def open_chunks(size: int) -> Iterator[list[Sequence[object]]]:
        # Chunks straight from the C reader: a generator step per chunk, not per row.
        with open(path, encoding=python_encoding, errors="strict", newline="") as handle:
            reader = csv.reader(handle)
            try:
                next(reader, None)
                while chunk := list(itertools.islice(reader, size)):
                    yield chunk
            except csv.Error as error:
                raise _csv_error(error, line=reader.line_num) from None

    def open_chunks_of(size: int, wanted: Callable[[int], bool]) -> Iterator[tuple[int, list | None]]:
        # One reader over the file for the chunks wanted; the others are counted line by line from
        # the same file (the reader reads no line ahead of the record it returns), so that the
        # reader's line numbers lack the lines counted: ``counted``.
        with open(path, encoding=python_encoding, errors="strict", newline="") as handle:
            reader = csv.reader(handle)
            counted = 0
            try:
                next(reader, None)
                for index in itertools.count():
                    if wanted(index):
                        chunk = list(itertools.islice(reader, size))
                        if not chunk:
                            return
                        yield len(chunk), chunk
                    else:
                        count, lines = _count_records(handle, size, line=counted + reader.line_num)
                        counted += lines
                        if not count:
                            return
                        yield count, None
            except csv.Error as error:
                raise _csv_error(error, line=counted + reader.line_num) from None

    def open_rows_of(numbers: list[int]) -> Iterator[tuple[int, Sequence[object]]]:
        # As open_chunks_of: the records before each one wanted are counted from the same file.
        with open(path, encoding=python_encoding, errors="strict", newline="") as handle:
            reader = csv.reader(handle)
            counted = 0
            try:
                next(reader, None)
                number = 2  # the next record's
                for wanted in numbers:
                    skipped, lines = _count_records(handle, wanted - number, line=counted + reader.line_num)
                    counted += lines
                    number += skipped
                    row = next(reader, None) if number == wanted else None
                    if row is None:
                        return
                    number += 1
                    yield wanted, row
            except csv.Error as error:
                raise _csv_error(error, line=counted + reader.line_num) from None

    with open(path, encoding=python_encoding, errors="strict", newline="") as handle:
        header = _csv_header(csv.reader(handle))
    return RowSource(name=os.path.basename(path), header=header, open_rows=open_rows,
                     total_rows=max(_count_lines(path) - 1, 0), encoding=encoding,
                     text_cells=True, open_chunks=open_chunks, open_chunks_of=open_chunks_of,
                     open_rows_of=open_rows_of)  # fmt: skip


# A line whose quoted cells all close on it ("1,000.00"): one whole record, as for the csv module
# (a cell that opens a quote at its start ends at the lone quote before a comma or the line's end).
_CELL = r'(?:[^",\r\n]*|"(?:[^"]|"")*")'
_WHOLE_QUOTED_LINE = re.compile(rf"{_CELL}(?:,{_CELL})*(?:\r\n|\n|\r)?").fullmatch


def _count_records(handle, size: int, *, line: int) -> tuple[int, int]:
    """Read up to ``size`` CSV records from ``handle`` (at the start of a record, ``line`` lines
    read before it) without splitting them into cells: (records, lines read). A line without a
    quote character is one whole record to the csv module, exactly (its line endings are the file's
    lines, read with ``newline=""``); a record starting on a line with one is read by a csv.reader,
    since a quoted cell may hold line breaks (and "1,000.00" is how some DMS write amounts)."""
    count = lines = 0
    if size <= 0:
        return 0, 0
    for text in handle:
        lines += 1
        if '"' in text and not _WHOLE_QUOTED_LINE(text):
            record = csv.reader(itertools.chain([text], handle))
            try:
                next(record, None)
            except csv.Error as error:
                raise _csv_error(error, line=line + lines - 1 + record.line_num) from None
            lines += record.line_num - 1
        count += 1
        if count == size:
            break
    return count, lines


def _open_workbook(path: str):
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except _xlsx_errors():
        raise UnreadableFile(str(NOT_XLSX)) from None
    if not workbook.worksheets:
        workbook.close()
        raise UnreadableFile(str(NOT_XLSX))
    return workbook


def xlsx_source_from_path(path: str) -> RowSource:
    def open_rows() -> Iterator[Sequence[object]]:
        workbook = _open_workbook(path)
        try:
            rows = workbook.worksheets[0].iter_rows(values_only=True)
            next(rows, None)
            yield from rows
        except _xlsx_errors():
            raise UnreadableFile(str(NOT_XLSX)) from None
        finally:
            workbook.close()

    workbook = _open_workbook(path)
    try:
        sheet = workbook.worksheets[0]
        header = _strip_header(next(sheet.iter_rows(values_only=True, max_row=1), ()))
        total = max((sheet.max_row or 1) - 1, 0)
    except _xlsx_errors():
        raise UnreadableFile(str(NOT_XLSX)) from None
    finally:
        workbook.close()
    return RowSource(name=os.path.basename(path), header=header, open_rows=open_rows, total_rows=total, encoding="xlsx")


def first_overlong_cell_row(rows: list[Sequence[object]], *, text_cells: bool) -> int | None:
    """The index in ``rows`` of the first row with a cell of CELL_CHARS_LIMIT characters or more, or None."""
    if text_cells:
        if max(map(len, itertools.chain.from_iterable(rows)), default=0) < CELL_CHARS_LIMIT:
            return None
        return next(index for index, row in enumerate(rows) if max(map(len, row), default=0) >= CELL_CHARS_LIMIT)
    for index, row in enumerate(rows):
        for cell in row:
            if isinstance(cell, str) and len(cell) >= CELL_CHARS_LIMIT:
                return index
    return None


def source_from_path(path: str) -> RowSource:
    if path.lower().endswith((".xlsx", ".xlsm")):
        return xlsx_source_from_path(path)
    return csv_source_from_path(path)


def source_from_dataset(dataset, *, name: str, encoding: str = "") -> RowSource:
    """A tablib Dataset (django-import-export) as a row source."""
    header = _strip_header(dataset.headers or [])
    return RowSource(name=name, header=header, open_rows=lambda: iter(dataset), total_rows=len(dataset),
                     encoding=encoding or getattr(dataset, "dms_encoding", ""))  # fmt: skip
