"""The outcome of a DMS import (counts, issues, timings) and its rejected-rows report."""

from __future__ import annotations

import csv
import io
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext

from crm.exports import spreadsheet_safe
from crm.masking import mask_phone
from customers.choices import IssueSeverity
from customers.dms.sources import RowSource
from customers.dms_import.columns import value_text
from customers.models import ImportBatch, ImportIssue


@dataclass
class Issue:
    row_number: int
    column: str
    value: str
    reason: str  # msgid
    severity: str
    params: dict | None = None  # fill the msgid's placeholders once translated


@dataclass
class FieldChange:
    """One column of an updated row: its header in the DMS reference format (what staff see in their
    export), the model field (its choices word the values), the value in the CRM and the file's."""

    label: str
    field: object
    old: str | None
    new: str | None

    def _word(self, value: str | None) -> str:
        if value in (None, ""):
            return "—"
        if self.field.choices:
            return str(dict(self.field.flatchoices).get(value, value))
        if self.field.name in ("mobile", "landline"):
            return mask_phone(value)  # a preview reveals no whole number
        return value

    @property
    def old_display(self) -> str:
        return self._word(self.old)

    @property
    def new_display(self) -> str:
        return self._word(self.new)


@dataclass
class RowChange:
    """An updated row of a preview: its row number in the file, its key and what changes."""

    row_number: int
    key: str
    fields: list[FieldChange]


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
    # A preview's first updated rows with what changes in each (importer.PREVIEW_CHANGES of them).
    changes: list[RowChange] = field(default_factory=list)
    # Provisional cards made in the CRM that this import adopted (docs/desk.md).
    adopted_customer_ids: list[int] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    skipped_rows: int = 0  # rows not parsed because their fingerprint was unchanged
    parsed_rows: int = 0
    touched_customer_ids: list[int] = field(default_factory=list)  # whose segment facts may have changed
    # The days (settle / delivery dates) the import changed, when it read them with the touched
    # customers (repair orders; vehicles when none was updated): the volumes listener recounts
    # them without joining the written rows again. None: the listener looks them up.
    written_days: list | None = None
    bulk_loaded: list[str] = field(default_factory=list)  # tables whose indexes were built after the write
    # The rejected rows as read from the file while the database writes (see RejectedRowsReader).
    rejected_rows_reader: RejectedRowsReader | None = None

    def rejected_raw_rows(self) -> dict[int, list[str]] | None:
        """The rejected rows' cells as they were in the file (row number → texts), when they were
        read ahead during the import; None means read them now."""
        return self.rejected_rows_reader.result() if self.rejected_rows_reader is not None else None

    def summary(self) -> str:
        return (
            f"created={self.created} updated={self.updated} unchanged={self.unchanged} "
            f"rejected={self.rejected} warnings={self.warnings}"
        )


def _raw_rows(source: RowSource, row_numbers) -> dict[int, list[str]]:
    """The cells (as texts) of the rows of these numbers, read from the file (up to the last one)."""
    return {number: [value_text(cell) for cell in row] for number, row in source.rows_of(row_numbers)}


class RejectedRowsReader:
    """Reads the rejected rows of a file in a thread while the import's apply phase runs in the
    database (the main thread then waits on the server with the GIL released), so that the
    rejected-rows report no longer reads the whole file again after the import. Any error (the
    file changed or vanished) makes ``result()`` None: the report then reads the file itself and
    reports the error as before."""

    def __init__(self, source: RowSource, row_numbers: Sequence[int], *, known: dict[int, list[str]] | None = None):
        """``known``: rows already kept by the stage (a re-import parses, and so keeps, every row that
        can be rejected); only the others are read from the file, and the file not at all when none is."""
        known = known or {}
        self._known = {number: known[number] for number in row_numbers if number in known}
        missing = sorted(number for number in row_numbers if number not in known)
        self._rows: dict[int, list[str]] | None = None
        self._thread = None
        if not missing:
            self._rows = {}
            return
        self._thread = threading.Thread(target=self._read, args=(source, missing), daemon=True,
                                        name="dms-rejected-rows")  # fmt: skip
        self._thread.start()

    def _read(self, source: RowSource, row_numbers: list[int]) -> None:
        try:
            self._rows = _raw_rows(source, row_numbers)
        except Exception:  # reported by the report's own read of the file, which raises it again
            self._rows = None

    def result(self) -> dict[int, list[str]] | None:
        if self._thread is not None:
            self._thread.join()
        return None if self._rows is None else {**self._known, **self._rows}


def errors_csv_bytes(
    *,
    source: RowSource,
    rejected_rows: dict[int, list[tuple[str, dict | None]]],
    raw_rows: dict[int, list[str]] | None = None,
) -> bytes:
    """The rejected rows as they were in the file plus "row" and "reason" columns, UTF-8 with BOM.
    ``raw_rows``: the rejected rows' cells already read (RejectedRowsReader); a row missing there
    is read from the file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([spreadsheet_safe(cell) for cell in (*source.header, gettext("Row"), gettext("Reason"))])
    if rejected_rows:
        cells_of = dict(raw_rows or {})
        missing = set(rejected_rows) - set(cells_of)
        if missing:
            cells_of.update(_raw_rows(source, missing))
        for row_number in sorted(rejected_rows):
            if row_number not in cells_of:
                continue  # beyond the end of the file
            rendered = (ImportIssue.render_reason(reason, params) for reason, params in rejected_rows[row_number])
            reasons = "; ".join(dict.fromkeys(rendered))
            cells = [spreadsheet_safe(cell) for cell in cells_of[row_number]]
            writer.writerow([*cells, row_number, spreadsheet_safe(reasons)])
    return buffer.getvalue().encode("utf-8-sig")


def outcome_rejected_rows(outcome: ImportOutcome) -> dict[int, list[tuple[str, dict | None]]]:
    rows: dict[int, list[tuple[str, dict | None]]] = defaultdict(list)
    for issue in outcome.issues:
        if issue.severity == IssueSeverity.REJECTED:
            rows[issue.row_number].append((issue.reason, issue.params))
    return rows
