"""python manage.py import_dms {customers|vehicles|repair_orders} FILE [--errors-file OUT] [--store CODE] [--dry-run]

The last line printed is ``created=N updated=N unchanged=N rejected=N warnings=N``."""

import os
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from crm.exceptions import ApplicationError
from crm.selectors import store_for_code
from customers.choices import ImportKind
from customers.dms.parsing import DecodeError
from customers.dms.sources import source_from_path
from customers.selectors import import_issues_for_batch
from customers.services import dms_import_errors_csv, dms_import_run, import_batch_create

BAR_WIDTH = 30
ISSUES_SHOWN = 50


class Command(BaseCommand):
    help = "Import a DMS export: customers, vehicles or repair orders (see docs/dms-import.md)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=ImportKind.values)
        parser.add_argument("file")
        parser.add_argument("--errors-file", help="Write the rejected rows with their reasons here (UTF-8 with BOM).")
        parser.add_argument("--store", help="Store code for rows without one.")
        parser.add_argument("--dry-run", action="store_true", help="Check and count only; change nothing.")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw the progress bar.")

    def handle(self, *args, **options):
        started = time.monotonic()
        if options["errors_file"]:
            self._check_writable(options["errors_file"])
        try:
            store = store_for_code(options["store"])
            source = source_from_path(options["file"])
        except (ApplicationError, DecodeError, OSError) as error:
            raise CommandError(str(getattr(error, "reason", None) or getattr(error, "message", error))) from None
        batch = import_batch_create(kind=options["kind"], file_name=source.name, store=store,
                                    dry_run=options["dry_run"])  # fmt: skip
        show_progress = not options["no_progress"] and sys.stderr.isatty()

        def progress(done: int, total: int) -> None:
            if not show_progress:
                return
            share = min(done / total, 1) if total else 1
            filled = int(share * BAR_WIDTH)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} rows")
            sys.stderr.flush()

        try:
            outcome = dms_import_run(batch=batch, source=source, progress=progress)
        except ApplicationError as error:
            raise CommandError(str(error.message)) from None
        finally:
            if show_progress:
                sys.stderr.write("\n")
        batch.refresh_from_db()
        if options["errors_file"]:
            with open(options["errors_file"], "wb") as handle:
                handle.write(dms_import_errors_csv(source=source, outcome=outcome))
        if options["verbosity"] >= 1:
            self._report_issues(batch)
        if options["verbosity"] >= 2:
            timings = " ".join(f"{name}={seconds:.2f}s" for name, seconds in outcome.timings.items())
            bulk = f" bulk={','.join(outcome.bulk_loaded)}" if outcome.bulk_loaded else ""
            self.stderr.write(f"batch #{batch.pk} {timings} total={time.monotonic() - started:.2f}s{bulk}")
        self.stdout.write(outcome.summary())

    @staticmethod
    def _check_writable(path: str) -> None:
        """Refused before the import, not after it has changed the data."""
        folder = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(path) or not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise CommandError(
                _("Cannot write the errors file %(path)s: no such folder, or not writable.") % {"path": path}
            )

    def _report_issues(self, batch) -> None:
        """Every rejection and warning is reported: the first ones here, all of them in the admin."""
        issues, total = import_issues_for_batch(batch=batch, limit=ISSUES_SHOWN)
        for issue in issues:
            self.stderr.write(
                _("Row %(row)s, %(column)s “%(value)s”: %(reason)s (%(severity)s)")
                % {
                    "row": issue.row_number,
                    "column": issue.column or "—",
                    "value": issue.value,
                    "reason": issue.reason_display,
                    "severity": issue.get_severity_display(),
                }
            )
        if total > len(issues):
            self.stderr.write(
                _("… and %(count)s more: see import #%(batch)s in the admin, or use --errors-file.")
                % {"count": total - len(issues), "batch": batch.pk}
            )
