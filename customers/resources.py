"""The DMS import inside the django-import-export admin: upload → preview → confirm.

The formats read CSV in any encoding the importer accepts (UTF-8 with or without BOM, GBK, GB18030)
and XLSX with its date cells; the resources hand the whole dataset to the same set-based service as
``manage.py import_dms`` (a preview is a dry run of it), so admin and command share one code path.
Large files are confirmed into a Celery task; the import's admin page shows its progress."""

import csv
import io

import tablib
from django.core.files.base import ContentFile
from import_export import resources
from import_export.fields import Field
from import_export.formats import base_formats
from import_export.results import Error, Result, RowResult

from crm.exceptions import ApplicationError
from crm.scoping import visible_store_ids
from crm.tasks import enqueue_on_commit
from customers.choices import ImportKind
from customers.dms.parsing import DecodeError, decode_csv_bytes
from customers.dms.reference import REFERENCE_HEADERS
from customers.dms.sources import source_from_dataset
from customers.models import Customer, RepairOrder, Vehicle
from customers.services import dms_import_run, import_batch_create
from customers.tasks import run_dms_import

# Confirmed files with more rows than this run in a Celery task.
ASYNC_ROW_THRESHOLD = 5000
PREVIEW_ROWS = 200


class DmsCsvFormat(base_formats.CSV):
    """CSV read as bytes and decoded by the importer's rules (never UTF-8 taken for GBK)."""

    def is_binary(self):
        return True

    def get_read_mode(self):
        return "rb"

    def create_dataset(self, in_stream, **kwargs):
        if isinstance(in_stream, str):
            in_stream = in_stream.encode("utf-8")
        try:
            text, encoding = decode_csv_bytes(in_stream)
        except DecodeError as error:
            raise ValueError(str(error.reason)) from None
        rows = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
        dataset = tablib.Dataset(headers=next(rows, []))
        width = len(dataset.headers or [])
        for row in rows:
            # Blank lines stay (the importer skips them), so row numbers are the file's, as the
            # command and the background task count them.
            dataset.append((row + [""] * width)[:width])
        dataset.dms_encoding = encoding
        return dataset


class DmsXlsxFormat(base_formats.XLSX):
    """XLSX with real date cells and serial numbers kept for the date parser."""


class DmsImportResource(resources.Resource):
    kind: str = ""

    def get_user_visible_fields(self):
        """The columns of this report in the DMS reference format (docs/dms-import.md), as the
        upload form lists them: the header a DMS export uses for each field."""
        return [Field(attribute=field, column_name=header) for header, field in REFERENCE_HEADERS[self.kind].items()]

    @classmethod
    def get_display_name(cls):
        return ImportKind(cls.kind).label

    def import_data(self, dataset, dry_run=False, raise_errors=False, use_transactions=None,
                    collect_failed_rows=False, rollback_on_validation_errors=False, **kwargs):  # fmt: skip
        user = kwargs.get("user")
        file_name = kwargs.get("file_name") or "upload.csv"
        result = Result()
        result.diff_headers = ["#", str(ImportKind(self.kind).label)]
        store = kwargs.get("store")
        batch = import_batch_create(kind=self.kind, file_name=file_name, user=user, store=store, dry_run=dry_run)
        result.dms_batch = batch
        if not dry_run and len(dataset) > ASYNC_ROW_THRESHOLD:
            self._run_in_background(batch, dataset)
            return result
        source = source_from_dataset(dataset, name=file_name)
        try:
            outcome = dms_import_run(batch=batch, source=source,
                                     allowed_store_ids=visible_store_ids(user) if user else None)  # fmt: skip
        except ApplicationError as error:
            result.append_base_error(Error(ValueError(str(error.message))))
            return result
        result.dms_outcome = outcome
        result.dms_changes = outcome.changes
        for keys, import_type in (
            (outcome.created_keys, RowResult.IMPORT_TYPE_NEW),
            (outcome.changed_keys, RowResult.IMPORT_TYPE_UPDATE),
            (outcome.unchanged_keys, RowResult.IMPORT_TYPE_SKIP),
        ):
            for key in keys[:PREVIEW_ROWS]:
                row = RowResult()
                row.import_type = import_type
                row.diff = ["", key]
                result.append_row_result(row)
        result.totals[RowResult.IMPORT_TYPE_NEW] = outcome.created
        result.totals[RowResult.IMPORT_TYPE_UPDATE] = outcome.updated
        result.totals[RowResult.IMPORT_TYPE_SKIP] = outcome.unchanged
        return result

    def _run_in_background(self, batch, dataset) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(dataset.headers or [])
        for row in dataset:
            writer.writerow(["" if cell is None else cell.isoformat() if hasattr(cell, "isoformat") else cell
                             for cell in row])  # fmt: skip
        batch.source_file.save(f"upload-{batch.pk}.csv", ContentFile(buffer.getvalue().encode("utf-8-sig")))
        enqueue_on_commit(run_dms_import, batch.pk)


class CustomerDmsResource(DmsImportResource):
    kind = ImportKind.CUSTOMERS

    class Meta:
        model = Customer


class VehicleDmsResource(DmsImportResource):
    kind = ImportKind.VEHICLES

    class Meta:
        model = Vehicle


class RepairOrderDmsResource(DmsImportResource):
    kind = ImportKind.REPAIR_ORDERS

    class Meta:
        model = RepairOrder
