"""python manage.py dms_sample OUT_DIR --customers N [--seed S] [--today YYYY-MM-DD] [--stores NJ01,NJ02]
[--mess] [--encoding utf-8-sig|gbk|gb18030|utf-8] [--xlsx]

Writes a synthetic DMS export (customers, vehicles, repair_orders) that ``import_dms`` reads; see
docs/dms-import.md. The last line printed is ``customers=N vehicles=N repair_orders=N rejected=N
warnings=N``: the keys the import will create and the planted problems it will report."""

import codecs
import datetime
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.dms.sample import dms_sample_write


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(_("--today must be a date like 2026-11-22, not “%(value)s”.") % {"value": value}) from None


class Command(BaseCommand):
    help = "Write a synthetic DMS export (customers, vehicles, repair orders) that import_dms reads."

    def add_arguments(self, parser):
        parser.add_argument("out_dir", help="Folder for customers.csv, vehicles.csv and repair_orders.csv.")
        parser.add_argument("--customers", type=int, default=1000, help="How many customers (default 1000).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed: the same seed gives the same files.")
        parser.add_argument("--today", help="The export's date, YYYY-MM-DD (default: today in the CRM's time zone).")
        parser.add_argument("--stores", default="NJ01", help="Comma-separated store codes (default NJ01).")
        parser.add_argument("--mess", action="store_true",
                            help="Write it like a real export: GBK, stray spaces, full-width digits, mixed "
                                 "date and phone spellings, and a few rows the import must reject.")  # fmt: skip
        parser.add_argument("--encoding", help="CSV encoding: utf-8-sig (default), utf-8, gbk (default with --mess), "
                                               "gb18030.")  # fmt: skip
        parser.add_argument("--xlsx", action="store_true", help="Write .xlsx workbooks instead of CSV.")

    def handle(self, *args, out_dir, customers, seed, today, stores, mess, encoding, xlsx, **options):
        if customers < 1:
            raise CommandError(_("--customers must be at least 1."))
        store_codes = [code.strip() for code in stores.split(",") if code.strip()]
        if not store_codes or any(len(code) > 20 for code in store_codes):
            raise CommandError(_("--stores must name one or more store codes of at most 20 characters."))
        if encoding:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise CommandError(_("Unknown encoding: %(encoding)s.") % {"encoding": encoding}) from None
            if xlsx:
                raise CommandError(_("--encoding applies to CSV files; an XLSX workbook has none."))
        started = time.monotonic()
        try:
            outcome = dms_sample_write(
                out_dir=out_dir,
                customers=customers,
                seed=seed,
                today=_date(today) if today else timezone.localdate(),
                stores=store_codes,
                mess=mess,
                encoding=encoding,
                xlsx=xlsx,
            )
        except UnicodeEncodeError as error:
            unwritable = error.object[error.start : error.end]
            message = _("The encoding %(encoding)s cannot write “%(text)s”.")
            raise CommandError(message % {"encoding": encoding, "text": unwritable}) from None
        except OSError as error:
            message = _("Cannot write to %(folder)s: %(error)s.")
            raise CommandError(message % {"folder": out_dir, "error": error.strerror or error}) from None
        if options["verbosity"] >= 1:
            for name, path in outcome.paths.items():
                self.stderr.write(f"{path}: {outcome.rows[name]} rows")
            self.stderr.write(f"written in {time.monotonic() - started:.1f}s")
        self.stdout.write(outcome.summary())
