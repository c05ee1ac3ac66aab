"""The column parser of the DMS import and the COPY encoding of its stage rows: each distinct cell
of a column goes once through its parser, and the parsed texts become ``COPY FROM STDIN`` lines."""

from __future__ import annotations

import datetime
import itertools
import operator
import re
from collections.abc import Callable, Sequence

from crm.exports import FORMULA_ESCAPE
from customers.choices import IssueSeverity
from customers.dms import parsing
from customers.dms.reference import msgid
from customers.dms_import.cells import CLEAN_CELLS, UNCLEAN_POSITIONS, KeptWithWarnings

COPY_NULL = "\\N"  # COPY's NULL


def copy_text(value) -> str:
    if value is None:
        return COPY_NULL
    if "\\" in value or (not value.isprintable() and ("\t" in value or "\n" in value or "\r" in value)):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


_COPY_ESCAPES = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\r": "\r"}


def copy_value(text: str) -> str:
    """The value a COPY text (from ``copy_text``, not NULL) stands for: its escapes undone."""
    if "\\" not in text:
        return text
    return re.sub(r"\\[\\tnr]", lambda match: _COPY_ESCAPES[match.group()], text)


def value_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)[:300]


# A character that COPY must escape, or the formula escape of a rejected-rows file read back.
_ESCAPED = re.compile(r"[\\\t\n\r]|" + re.escape(FORMULA_ESCAPE))
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


class ColumnParser:
    """One column's parser, applied to each distinct cell once: cell → (COPY text, value, severity,
    reasons). A parsing error gives NULL with WARNING (a bad field) or REJECTED (an unusable key).

    Three shortcuts keep a dealer group's export quick: a plain text column of text cells is
    stripped and checked as a whole (``text_column``); text cells matching the parser's clean
    pattern (CLEAN_CELLS: an 11-digit mobile, a plain whole number) or passing its whole-column
    check (UNCLEAN_POSITIONS: a VIN with its right check digit) are their own value; and the
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
        self.clean_run = (  # a run of clean lines, each ended by a line feed (see _unmatched_positions)
            re.compile(rf"(?:(?:{pattern.pattern})\n)*", pattern.flags).match if pattern is not None else None
        )  # fmt: skip
        self.unclean_positions_of = UNCLEAN_POSITIONS.get(parse)
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
            return COPY_NULL, None, IssueSeverity.REJECTED, ((msgid(error.reason), error.params or None),)
        except parsing.FieldError as error:
            return COPY_NULL, None, IssueSeverity.WARNING, ((msgid(error.reason), error.params or None),)
        severity, reasons = _OK, ()
        if type(value) is KeptWithWarnings:
            value, warnings = value
            severity, reasons = IssueSeverity.WARNING, tuple((msgid(reason), None) for reason in warnings)
        if value is None:
            return COPY_NULL, None, severity, reasons
        return copy_text(value if type(value) is str else str(value)), value, severity, reasons

    def column(self, cells, *, text_cells: bool) -> tuple[list, list, dict]:
        """(COPY text of each cell, the cells' dictionary keys, distinct key → parse result for the
        keys with a warning or a rejection)."""
        if text_cells and self.text_limit is not None:
            split = self.text_column(cells)
            if split is not None:
                texts, odd = split
                return self._patched(texts, cells, odd) if odd else (texts, cells, {})
        if text_cells and self.all_clean is not None:
            try:
                joined = "\n".join(cells)
            except TypeError:  # a missing cell (a short row)
                joined = None
            if joined is not None and joined.count("\n") == len(cells) - 1:
                if self.all_clean(joined):
                    return list(cells), cells, {}
                # A few cells that are not clean (a blank, "1,000.00"): only those are parsed.
                return self._patched(list(cells), cells, self._unmatched_positions(cells, joined))
        if text_cells and self.unclean_positions_of is not None:  # a column of VINs
            try:
                odd = self.unclean_positions_of(cells)
            except TypeError:  # a missing cell (a short row)
                odd = None
            if odd is not None:
                return self._patched(list(cells), cells, odd) if odd else (list(cells), cells, {})
        return self.cells_column(cells, text_cells=text_cells)

    def _unmatched_positions(self, cells, joined: str) -> list[int]:
        """The positions of the text cells that the clean pattern does not match, given the cells
        joined by line feeds (none holds one). A call of a pattern costs as much as twenty dictionary
        look-ups, so no cell is matched on its own: a column whose values repeat (amounts) has each
        distinct value matched once, the positions then found at C speed; a column of mostly distinct
        values (mobiles, mileages) is matched in runs of clean lines, one call per unclean cell."""
        distinct = set(cells)
        if 2 * len(distinct) <= len(cells):
            clean = self.clean
            unclean = {cell for cell in distinct if not clean(cell)}
            return list(itertools.compress(itertools.count(), map(unclean.__contains__, cells)))
        text = joined + "\n"
        end = len(text)
        positions = []
        position = line = 0  # the start of line number ``line``
        while True:
            stop = self.clean_run(text, position).end()  # the start of the first unclean line, or the end
            if stop == end:
                return positions
            line += text.count("\n", position, stop)
            positions.append(line)
            position = text.index("\n", stop) + 1
            line += 1

    def _patched(self, texts: list, cells, odd: list[int]) -> tuple[list, list, dict]:
        """``texts`` of a column of text cells whose cells at the positions ``odd`` are parsed one by
        one (the others' texts are their parsed texts already): the same as parsing every cell."""
        odd_texts, _keys, problems = self.cells_column(list(map(cells.__getitem__, odd)), text_cells=True)
        for position, text in zip(odd, odd_texts, strict=True):
            texts[position] = text
        return texts, cells, problems

    def cells_column(self, cells, *, text_cells: bool) -> tuple[list, list, dict]:
        """``column`` by parsing each distinct cell (remembered across chunks while that pays)."""
        keys = cells if text_cells else _cell_keys(cells)
        self.cells_seen += len(keys)
        if self.text_cache:
            texts = list(map(self.text_cache.get, keys))
            # Taken before parsing the new cells, which may decide to stop caching and empty the cache.
            # (An empty set's intersection would still walk every key.)
            problem_keys = self.problem_keys.intersection(keys) if self.problem_keys else ()
            problems = {key: self.cache[key] for key in problem_keys}
            if None in texts:  # a few cells not seen before: parse just those
                # Picked out and merged back at C speed, not by a Python loop over the chunk's rows:
                # a key has the same text (or None) wherever it is, so new_texts holds exactly the
                # keys whose text is None.
                unseen = list(map(operator.is_, texts, itertools.repeat(None)))
                new_keys = list(itertools.compress(keys, unseen))
                new_cells = new_keys if keys is cells else list(itertools.compress(cells, unseen))
                new_texts, new_problems = self.results(new_keys, new_cells)
                texts = list(map(new_texts.get, keys, texts))
                problems.update(new_problems)
            # (else dates, amounts: every cell seen before, no parsing at all)
            return texts, keys, problems
        texts, problems = self.results(keys, cells)
        return list(map(texts.__getitem__, keys)), keys, problems

    def text_column(self, cells) -> tuple[list[str], list[int]] | None:
        """A plain text column whose every cell is text: each stripped at C speed, and the positions
        of the odd cells, which the parser must see (a blank where that matters, a NULL marker, too
        long, in need of COPY escaping); the others' stripped texts are their parsed texts. None
        for a missing cell (a short row): the cell-by-cell path decides."""
        try:
            stripped = list(map(str.strip, cells))
        except TypeError:  # a missing cell (a short row)
            return None
        distinct = set(stripped)
        odd_texts = distinct & _BLANK_SPELLINGS
        if self.blank_text is None and "" in distinct:
            odd_texts.add("")
        if max(map(len, distinct), default=0) > self.text_limit:
            odd_texts.update(text for text in distinct if len(text) > self.text_limit)
        joined = "".join(distinct)
        if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined or FORMULA_ESCAPE in joined:
            odd_texts.update(text for text in distinct if _ESCAPED.search(text))
        if not odd_texts:
            return stripped, []
        return stripped, list(itertools.compress(itertools.count(), map(odd_texts.__contains__, stripped)))

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


def transpose(rows: list[Sequence[object]], indexes: list[int | None]) -> list:
    """The chunk's cells column by column, one entry per index (None for an unmapped column; None
    cells where a short row has none)."""
    widths = set(map(len, rows))
    if len(widths) == 1:
        width = widths.pop()
        columns = list(zip(*rows, strict=True))
        missing = [None] * len(rows)
        return [None if index is None else columns[index] if index < width else missing for index in indexes]
    return [None if index is None else [row[index] if index < len(row) else None for row in rows] for index in indexes]
