"""python manage.py import_dms {customers|vehicles|repair_orders} FILE [KIND FILE ...] [--errors-file OUT]
[--store CODE] [--dry-run]

Each file prints one line ``created=N updated=N unchanged=N rejected=N warnings=N`` (the last line
printed, for one file). Several files (``import_dms customers c.csv vehicles v.csv repair_orders r.csv``)
are imported one after another in this one process, exactly as the same commands run one by one:
each file is its own batch and its own transaction; a file that fails stops the command, the files
before it stay imported. While a file is written (the database's work), the large files after it
are already parsed (``dms_import_parse_ahead``), which changes nothing of what each imports."""

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
from customers.services import dms_import_errors_csv, dms_import_parse_ahead, dms_import_run, import_batch_create

BAR_WIDTH = 30
ISSUES_SHOWN = 50


class Command(BaseCommand):
    help = "Import a DMS export: customers, vehicles or repair orders (see docs/dms-import.md)."
    # No system checks: they import every URL configuration and view (0.5 s at each start) for a
    # command that serves no page; `manage.py check` and the test suite run them.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=ImportKind.values)
        parser.add_argument("file")
        parser.add_argument(
            "more", nargs="*", metavar="KIND FILE",
            help="More reports to import after the first, in this order and in this one process "
                 "(e.g. vehicles v.csv repair_orders r.csv).",
        )  # fmt: skip
        parser.add_argument("--errors-file", help="Write the rejected rows with their reasons here (UTF-8 with BOM).")
        parser.add_argument("--store", help="Store code for rows without one.")
        parser.add_argument("--dry-run", action="store_true", help="Check and count only; change nothing.")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw the progress bar.")

    def handle(self, *args, **options):
        started = time.monotonic()
        files = [(options["kind"], options["file"]), *self._more_files(options["more"])]
        if len(files) > 1 and options["errors_file"]:
            raise CommandError(
                _("--errors-file takes one file: import the files one by one to write each one's rejected rows.")
            )
        for _kind, path in files[1:]:
            # Refused before the first file is imported, not after it has changed the data.
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                raise CommandError(_("Cannot read %(path)s: no such file, or not readable.") % {"path": path})
        self._sources, self._parsed_ahead = {}, {}  # by position in files: see _parse_ahead
        try:
            for position, (kind, path) in enumerate(files):
                if len(files) > 1 and options["verbosity"] >= 1:
                    self.stderr.write(_("Importing %(kind)s from %(path)s") % {"kind": kind, "path": path})
                on_staged = (
                    (lambda position=position: self._parse_ahead(files, position, options)) if files[1:] else None
                )
                self._import_one(kind=kind, path=path, options=options, position=position, on_staged=on_staged)
        finally:
            for parsed_ahead in self._parsed_ahead.values():
                parsed_ahead.cancel()
        if options["verbosity"] >= 2:
            # The command's own time, without the process's start-up (Python, Django, the apps): what
            # an import costs in a process already running, as in the Celery worker of the admin's.
            self.stderr.write(f"import_dms work={time.monotonic() - started:.2f}s")

    def _parse_ahead(self, files: list[tuple[str, str]], position: int, options: dict) -> None:
        """Once the file at ``position`` is staged, start parsing the files after it (one after
        another), while this one is written. A file of a report already imported before it in this
        command is left to its turn (its table may have fingerprints by then: a re-import), and so
        is a file that cannot be read (its turn reports it)."""
        after = None
        for later in range(position + 1, len(files)):
            kind, path = files[later]
            if later in self._parsed_ahead:
                after = self._parsed_ahead[later]
                continue
            if any(earlier == kind for earlier, _path in files[:later]):
                continue
            try:
                source = self._sources.get(later) or source_from_path(path)
                store = store_for_code(options["store"])
            except (ApplicationError, DecodeError, OSError):
                continue
            self._sources[later] = source
            try:
                parsed_ahead = dms_import_parse_ahead(kind=kind, source=source, store=store, after=after)
            except Exception:  # only a head start: its turn parses the file and reports what fails
                continue
            if parsed_ahead is not None:
                self._parsed_ahead[later] = after = parsed_ahead

    @staticmethod
    def _more_files(more: list[str]) -> list[tuple[str, str]]:
        """The files after the first, as (kind, path): ``KIND FILE`` pairs."""
        if len(more) % 2:
            raise CommandError(_("Give each further file after its report: KIND FILE [KIND FILE ...]."))
        pairs = list(zip(more[::2], more[1::2], strict=True))
        for kind, _path in pairs:
            if kind not in ImportKind.values:
                raise CommandError(
                    _("Unknown report “%(kind)s”: choose one of %(kinds)s.")
                    % {"kind": kind, "kinds": ", ".join(ImportKind.values)}
                )
        return pairs

    def _import_one(self, *, kind: str, path: str, options: dict, position: int = 0, on_staged=None) -> None:
        started = time.monotonic()
        if options["errors_file"]:
            self._check_writable(options["errors_file"])
        try:
            store = store_for_code(options["store"])
            source = self._sources.pop(position, None) or source_from_path(path)
        except (ApplicationError, DecodeError, OSError) as error:
            raise CommandError(str(getattr(error, "reason", None) or getattr(error, "message", error))) from None
        batch = import_batch_create(kind=kind, file_name=source.name, store=store,
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
            outcome = dms_import_run(batch=batch, source=source, progress=progress, on_staged=on_staged,
                                     parsed_ahead=self._parsed_ahead.pop(position, None))  # fmt: skip
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
