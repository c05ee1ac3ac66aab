"""Cell parsers of the DMS import: each returns the clean value (None for NULL) or raises a parsing
error, on top of ``customers.dms.parsing``; and each report's columns with their parsers, in the
order of the stage table."""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from customers.choices import REPAIR_TYPE_FROM_DMS, ImportKind
from customers.dms import parsing
from customers.dms.reference import (
    REASON_MISSING_CUSTOMER_NO,
    REASON_MISSING_RO_NO,
    REASON_NO_NAME,
    REASON_TOO_LARGE,
    REASON_TOO_LONG,
    REASON_UNKNOWN_REPAIR_TYPE,
)

# ---------------------------------------------------------------------------------------------
# Cell parsers: each returns the clean value (None for NULL) or raises a parsing error. The stage
# calls them once per distinct raw cell of a column (see ColumnParser), never once per row.
# ---------------------------------------------------------------------------------------------


class _Warn(parsing.FieldError):
    pass


class KeptWithWarnings(tuple):
    """A value that is imported although it deserves warnings: ``(value, [reasons])``."""


def _text(limit: int) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = parsing.parse_text(value)
        if len(text) > limit:
            raise _Warn(value, REASON_TOO_LONG, limit=limit)
        return text

    parse.text_limit = limit  # a plain text column: see ColumnParser.text_column
    parse.blank_text = ""
    return parse


def _customer_name(value: object) -> str:
    """A customer's name: kept as written; a blank one is a warning (the row is still imported, as
    every bad field: the key decides), so that a file that lost its names is seen before it is
    applied."""
    text = parsing.parse_text(value)
    if not text:
        raise _Warn(value, REASON_NO_NAME)
    if len(text) > 100:
        raise _Warn(value, REASON_TOO_LONG, limit=100)
    return text


_customer_name.text_limit = 100
_customer_name.blank_text = None  # a blank name is a warning: never the fast path


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
    if type(value) is str and parsing.VIN_PATTERN.fullmatch(value) and value[8] == parsing.valid_vin_check_digit(value):
        return value  # already clean (most VINs): what parse_vin would return, without its other checks
    vin, warnings = parsing.parse_vin(value)
    return KeptWithWarnings((vin, warnings)) if warnings else vin


_VIN_CHARACTERS = re.compile(r"[A-HJ-NPR-Z0-9]*")  # VIN_PATTERN's characters, any number of them


def _unclean_vin_positions(cells) -> list[int]:
    """The positions of the text cells of a VIN column that are not clean VINs (17 VIN characters with
    the right check digit, which _vin_key returns as they are): only those need parsing. Each distinct
    VIN is checked once, the check digits of the column's VINs all at once. Raises TypeError for a
    missing cell (a short row)."""
    distinct = list(dict.fromkeys(cells))
    joined = "".join(distinct)
    if set(map(len, distinct)) == {parsing.VIN_LENGTH} and _VIN_CHARACTERS.fullmatch(joined):
        valid, valid_joined = distinct, joined  # every cell has the shape of a VIN (most chunks)
    else:
        valid = list(filter(parsing.VIN_PATTERN.fullmatch, distinct))
        valid_joined = "".join(valid)
    check_digits = parsing.valid_vins_check_digits(valid)
    written = valid_joined[parsing.VIN_CHECK_DIGIT_INDEX :: parsing.VIN_LENGTH]  # each VIN's position 9
    clean = set(itertools.compress(valid, map(operator.eq, check_digits, written)))
    return list(itertools.compress(itertools.count(), map(operator.not_, map(clean.__contains__, cells))))


def optional_text(value: object) -> str | None:
    return parsing.parse_text(value) or None


# PostgreSQL's integer and the target's numeric(12, 2): a larger value is a bad field, not a crash.
INTEGER_MAXIMUM = 2**31 - 1
AMOUNT_LIMIT = Decimal("10000000000")


def _whole(value: object) -> int | None:
    try:
        number = parsing.parse_int(value)
    except parsing.DmsValueError:
        raise
    except ValueError:  # digits past Python's limit on turning text into an int (4,300)
        raise _Warn(value, REASON_TOO_LARGE) from None
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
    # An amount with exactly two decimals and no leading zero is its own quantized Decimal's text.
    _money: re.compile(r"(?:0|[1-9]\d{0,9})\.\d\d", re.ASCII),
    parsing.parse_mobile: parsing.MOBILE_PATTERN,
}


# Parsers with a whole-column check of the text cells that are their own parsed value (too much for a
# pattern): it gives the positions of the others, the only cells parsed.
UNCLEAN_POSITIONS = {_vin_key: _unclean_vin_positions}


@dataclass(frozen=True)
class Column:
    field: str
    sql_type: str
    parser: Callable[[object], object]


def import_columns(kind: str) -> list[Column]:
    money = _money
    whole = _whole
    date = parsing.parse_date
    store = Column("store_code", "text", optional_text)
    if kind == ImportKind.CUSTOMERS:
        return [
            Column("customer_no", "text", _key_text(REASON_MISSING_CUSTOMER_NO, 40)),
            Column("name", "text", _customer_name),
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
