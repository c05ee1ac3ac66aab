"""Turn raw DMS export values into clean Python values.

Pure functions, no database and no Django settings needed (messages are lazy and only
translated when shown). The importer's rules are in ``docs/dms-import.md``:

- a bad *field* raises :class:`FieldError`; the importer keeps the row, leaves the field empty
  and reports a warning;
- an unusable *key* (a malformed VIN) raises :class:`RowRejected`; the importer rejects the row;
- a file that is neither UTF-8 nor GBK/GB18030 raises :class:`DecodeError`.

Every exception carries a translatable ``reason`` (English msgid, shown in the admin's language).

Values other than free text are NFKC-normalised before matching, which folds full-width digits and
signs to ASCII; the patterns use ``re.ASCII`` so that no other script's digits pass for 0-9.
"""

from __future__ import annotations

import codecs
import datetime
import itertools
import math
import operator
import re
import struct
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from crm.exports import FORMULA_ESCAPE, formula_unescaped

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TypeAlias

    from django.utils.functional import Promise

    Message: TypeAlias = str | Promise

__all__ = [
    "DecodeError",
    "DmsValueError",
    "FieldError",
    "RowRejected",
    "decode_csv_bytes",
    "is_blank",
    "is_valid_mobile",
    "normalize_phone",
    "parse_date",
    "parse_gender",
    "parse_int",
    "parse_landline",
    "parse_mobile",
    "parse_money",
    "parse_text",
    "parse_vin",
    "vin_check_digit",
]


# --------------------------------------------------------------------------------------------
# Exceptions
# --------------------------------------------------------------------------------------------


class DecodeError(ValueError):
    """The uploaded bytes are not text in an encoding the importer accepts."""

    def __init__(self, reason: Message) -> None:
        super().__init__(reason)
        self.reason = reason


class DmsValueError(ValueError):
    """A DMS cell value that cannot be used, with the raw ``value`` and a translatable ``reason``
    (whose ``%(name)s`` placeholders ``params`` fill once it is translated)."""

    def __init__(self, value: object, reason: Message, **params: object) -> None:
        super().__init__(reason % params if params else reason)
        self.value = value
        self.reason = reason
        self.params = params


class FieldError(DmsValueError):
    """A field value is unusable: import the row with this field empty and warn."""


class RowRejected(DmsValueError):
    """A key value is unusable: reject the whole row."""


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------

BLANK_MARKERS = frozenset({"", "null", "none"})


def is_blank(value: object) -> bool:
    """Whether a cell is empty: None, an empty or whitespace string, ``NULL`` or ``None`` (any case)."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() in BLANK_MARKERS
    return False


def _number_to_text(value: float | Decimal) -> str:
    """Write a numeric cell (XLSX) as the text a CSV would hold: ``13800138000.0`` -> ``13800138000``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    return str(value)


def _cell_to_text(value: object) -> str:
    """The stripped text of a cell, numbers written without a spurious ``.0``."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return _number_to_text(value)
    text = str(value).strip()
    return formula_unescaped(text).strip() if text.startswith(FORMULA_ESCAPE) else text


def _normalised_text(value: object) -> str:
    """The cell's text, NFKC-normalised (full-width digits, letters and signs to half-width) and stripped."""
    if type(value) is str and value.isascii():
        # Fast path (most cells): NFKC leaves ASCII text as it is, so only the strip and a formula
        # escape can change it.
        text = value.strip()
        if not text.startswith(FORMULA_ESCAPE):
            return text
    return unicodedata.normalize("NFKC", _cell_to_text(value)).strip()


# --------------------------------------------------------------------------------------------
# Encodings
# --------------------------------------------------------------------------------------------

UTF16_BYTE_ORDER_MARKS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Tried in this order, each strictly. GBK before GB18030 so that plain GBK files are named so.
FALLBACK_ENCODINGS = ("gbk", "gb18030")


def decode_csv_bytes(data: bytes) -> tuple[str, str]:
    """Decode an uploaded CSV file and name the encoding that was used.

    Returns ``(text, encoding)`` with ``encoding`` one of ``'utf-8-sig'`` (UTF-8 with a byte order
    mark, which is stripped), ``'utf-8'``, ``'gbk'`` or ``'gb18030'`` (only when the text uses
    characters outside GBK). Every attempt is strict, and UTF-8 is tried first: many UTF-8 Chinese
    byte strings are also valid GBK, while GBK Chinese text is practically never valid UTF-8, so
    neither is ever mistaken for the other. Raises :class:`DecodeError` when nothing fits.
    """
    if data.startswith(UTF16_BYTE_ORDER_MARKS):
        raise DecodeError(_("The file is UTF-16 text. Save it as CSV UTF-8 and upload it again."))
    if b"\x00" in data:
        # Neither UTF-8 nor GBK/GB18030 text ever holds a zero byte: this is a binary file
        # (an XLSX uploaded as CSV, say) or UTF-16 without a byte order mark.
        raise DecodeError(_("The file is not a text file."))
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raise DecodeError(_("The file starts with a UTF-8 byte order mark but is not valid UTF-8 text.")) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    for encoding in FALLBACK_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # GB18030 has its own encoding of U+FEFF; drop it like the UTF-8 one.
        return text.removeprefix("\ufeff"), encoding
    raise DecodeError(_("The file is neither UTF-8 nor GBK/GB18030 text. Save it as CSV UTF-8 and upload it again."))


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------

MINIMUM_YEAR = 1900
EXCEL_SERIAL_MINIMUM = 1
EXCEL_SERIAL_MAXIMUM = 2958465  # 9999-12-31
# Excel's 1900 date system counts a 29 February 1900 that never existed (serial 60), so serials
# after it are one day ahead of a plain count from 1900-01-01.
EXCEL_FAKE_LEAP_DAY_SERIAL = 60
EXCEL_EPOCH_BEFORE_LEAP_DAY = datetime.date(1899, 12, 31)
EXCEL_EPOCH_AFTER_LEAP_DAY = datetime.date(1899, 12, 30)

TIME_SUFFIX = r"(?:(?:\s+|T)\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?"
SEPARATED_DATE_PATTERN = re.compile(
    r"(?P<year>\d{4})(?P<separator>[-/.])(?P<month>\d{1,2})(?P=separator)(?P<day>\d{1,2})" + TIME_SUFFIX, re.ASCII
)
CHINESE_DATE_PATTERN = re.compile(
    r"(?P<year>\d{4})\s*年\s*(?P<month>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*日?" + TIME_SUFFIX, re.ASCII
)
COMPACT_DATE_PATTERN = re.compile(r"(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})" + TIME_SUFFIX, re.ASCII)
EXCEL_SERIAL_PATTERN = re.compile(r"(?P<days>\d{1,7})(?:\.\d+)?", re.ASCII)
DATE_PATTERNS = (SEPARATED_DATE_PATTERN, CHINESE_DATE_PATTERN, COMPACT_DATE_PATTERN)


def parse_date(value: object) -> datetime.date | None:
    """Parse a DMS date cell.

    Accepts ``2024-03-05``, ``2024/3/5``, ``2024.3.5``, ``20240305`` and ``2024年3月5日``, each with an
    optional time part that is ignored (``2024-03-05 00:00:00``); ``datetime.date`` and
    ``datetime.datetime`` objects (XLSX date cells); and Excel serial numbers in the 1900 date
    system, as numbers or numeric text (``45356`` is 2024-03-05). Blank and ``NULL`` give None.
    Raises :class:`FieldError` for an impossible date (``2023-02-30``) or an unrecognised shape.
    """
    if type(value) is str:
        # Fast path (most CSV date cells): a cell that matches a date shape as it is gives the date
        # its normalised text gives. The shapes hold only ASCII digits, separators and 年月日, which
        # NFKC leaves as they are, begin with a digit and end in a digit or 日 (or spaces that the
        # Chinese shape allows there), so the blank check, the strip and NFKC change nothing here.
        date = _date_of_shape(value, value)
        if date is not None:
            return date
    if is_blank(value):
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    date = _date_of_shape(value, _normalised_text(value))
    if date is None:
        raise FieldError(value, _("Unrecognised date format"))
    return date


def _date_of_shape(value: object, text: str) -> datetime.date | None:
    """The date ``text`` (the cell ``value``'s text) shows in one of the date shapes or as an Excel
    serial number; None when it has none of them. Raises FieldError for an impossible date."""
    for pattern in DATE_PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            return _build_date(value, int(match["year"]), int(match["month"]), int(match["day"]))
    match = EXCEL_SERIAL_PATTERN.fullmatch(text)
    if match:
        return _date_from_excel_serial(value, int(match["days"]))
    return None


def _build_date(value: object, year: int, month: int, day: int) -> datetime.date:
    if year < MINIMUM_YEAR:
        raise FieldError(value, _("Impossible date"))
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise FieldError(value, _("Impossible date")) from None


def _date_from_excel_serial(value: object, serial: int) -> datetime.date:
    if not EXCEL_SERIAL_MINIMUM <= serial <= EXCEL_SERIAL_MAXIMUM:
        raise FieldError(value, _("Unrecognised date format"))
    if serial == EXCEL_FAKE_LEAP_DAY_SERIAL:
        raise FieldError(value, _("Impossible date"))
    if serial < EXCEL_FAKE_LEAP_DAY_SERIAL:
        return EXCEL_EPOCH_BEFORE_LEAP_DAY + datetime.timedelta(days=serial)
    return EXCEL_EPOCH_AFTER_LEAP_DAY + datetime.timedelta(days=serial)


# --------------------------------------------------------------------------------------------
# Phones
# --------------------------------------------------------------------------------------------

# Whitespace, ASCII and Unicode dashes (U+2010..U+2015, U+2212), dots, parentheses and brackets.
PHONE_SEPARATORS_PATTERN = re.compile(r"[\s\-\u2010-\u2015\u2212.()\[\]]+")
DIGITS_PATTERN = re.compile(r"\d+", re.ASCII)
MOBILE_PATTERN = re.compile(r"1[3-9]\d{9}", re.ASCII)
MOBILE_WITH_COUNTRY_CODE_PATTERN = re.compile(r"(?:\+86|0086|86)(?P<mobile>1[3-9]\d{9})", re.ASCII)
INTERNATIONAL_PREFIX_PATTERN = re.compile(r"(?:\+|00)86")
EXPLICIT_EXTENSION_PATTERN = re.compile(
    r"(?P<number>.+?)\s*(?:转|轉|分机|ext\.?|x|#)\s*(?P<extension>\d{1,6})", re.IGNORECASE | re.ASCII
)
TRAILING_DASH_GROUP_PATTERN = re.compile(r"(?P<number>.+?)\s*-\s*(?P<extension>\d{1,6})", re.ASCII)
AREA_CODE_PATTERN = re.compile(r"0[1-9]\d{1,2}", re.ASCII)
LOCAL_NUMBER_PATTERN = re.compile(r"[2-9]\d{6,7}", re.ASCII)
# Beijing (010) and the 02x cities have two-digit area codes; every other area code has three.
TWO_DIGIT_AREA_CODE_STARTS = ("01", "02")


def _strip_phone_separators(text: str) -> str:
    return PHONE_SEPARATORS_PATTERN.sub("", text)


def is_valid_mobile(value: str) -> bool:
    """Whether ``value`` is already a clean mainland mobile number: ``1[3-9]`` and 9 more digits."""
    return bool(MOBILE_PATTERN.fullmatch(value))


def parse_mobile(value: object) -> str | None:
    """Parse a mobile cell into 11 digits (``138 0013 8000``, ``+86-13800138000``, ``１３８…`` all work).

    Full-width characters become half-width, spaces, dashes, dots and parentheses are dropped and a
    ``+86``, ``0086`` or ``86`` country code in front of 11 digits is removed. Blank gives None.
    Raises :class:`FieldError` when what remains is not a mainland mobile number.
    """
    if is_blank(value):
        return None
    digits = _strip_phone_separators(_normalised_text(value))
    if MOBILE_PATTERN.fullmatch(digits):
        return digits
    match = MOBILE_WITH_COUNTRY_CODE_PATTERN.fullmatch(digits)
    if match:
        return match["mobile"]
    raise FieldError(value, _("Not a mainland mobile number"))


def parse_landline(value: object) -> str | None:
    """Parse a landline cell into ``area-local`` form, keeping an extension: ``025-84561234-123``.

    Accepts ``025 8456 1234``, ``(025)84561234``, ``02584561234``, ``+86 25 84561234`` and
    extensions written ``-123``, ``转123``, ``ext 123``, ``x123`` or ``#123``. The area code is
    ``0`` plus 2 digits (010, 02x) or 3 digits (every other area), the local number 7 or 8 digits
    not starting with 0 or 1. Blank gives None. Raises :class:`FieldError` for anything else,
    including a number without an area code.
    """
    if is_blank(value):
        return None
    text = _normalised_text(value)
    for number_text, extension in _landline_readings(text):
        landline = _format_landline(number_text, extension)
        if landline is not None:
            return landline
    raise FieldError(value, _("Not a landline number with area code"))


def _landline_readings(text: str) -> list[tuple[str, str | None]]:
    """The ways to split ``text`` into number and extension, most likely first."""
    explicit_match = EXPLICIT_EXTENSION_PATTERN.fullmatch(text)
    if explicit_match:
        return [(explicit_match["number"], explicit_match["extension"])]
    readings: list[tuple[str, str | None]] = [(text, None)]
    dash_match = TRAILING_DASH_GROUP_PATTERN.fullmatch(text)
    if dash_match:
        readings.append((dash_match["number"], dash_match["extension"]))
    return readings


def _format_landline(number_text: str, extension: str | None) -> str | None:
    digits = _strip_phone_separators(number_text)
    international_match = INTERNATIONAL_PREFIX_PATTERN.match(digits)
    if international_match:
        digits = "0" + digits[international_match.end() :]
    if not DIGITS_PATTERN.fullmatch(digits):
        return None
    area_code_length = 3 if digits.startswith(TWO_DIGIT_AREA_CODE_STARTS) else 4
    area_code = digits[:area_code_length]
    local_number = digits[area_code_length:]
    if not AREA_CODE_PATTERN.fullmatch(area_code) or not LOCAL_NUMBER_PATTERN.fullmatch(local_number):
        return None
    landline = f"{area_code}-{local_number}"
    if extension:
        landline = f"{landline}-{extension}"
    return landline


def normalize_phone(value: object) -> tuple[str | None, str | None]:
    """Classify a phone cell that may hold either kind of number (a "联系电话" column).

    Returns ``(mobile, None)``, ``(None, landline)`` or ``(None, None)`` for a blank cell, with the
    number normalised as by :func:`parse_mobile` or :func:`parse_landline`. Raises
    :class:`FieldError` when the value is neither.
    """
    if is_blank(value):
        return None, None
    try:
        return parse_mobile(value), None
    except FieldError:
        pass
    try:
        return None, parse_landline(value)
    except FieldError:
        raise FieldError(value, _("Not a phone number")) from None


# --------------------------------------------------------------------------------------------
# VIN
# --------------------------------------------------------------------------------------------

VIN_LENGTH = 17
VIN_CHECK_DIGIT_INDEX = 8  # position 9
VIN_PATTERN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
VIN_CHARACTERS_PATTERN = re.compile(r"[A-Za-z0-9]*")
VIN_FORBIDDEN_LETTERS_PATTERN = re.compile(r"[IOQ]")
VIN_TRANSLITERATION = {
    **{str(digit): digit for digit in range(10)},
    "A": 1,
    "B": 2,
    "C": 3,
    "D": 4,
    "E": 5,
    "F": 6,
    "G": 7,
    "H": 8,
    "J": 1,
    "K": 2,
    "L": 3,
    "M": 4,
    "N": 5,
    "P": 7,
    "R": 9,
    "S": 2,
    "T": 3,
    "U": 4,
    "V": 5,
    "W": 6,
    "X": 7,
    "Y": 8,
    "Z": 9,
}
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# VIN_TRANSLITERATION as a bytes.translate table (each VIN character's byte → its value), so that a
# VIN's values are read at C speed: a third less work per VIN than a dictionary look-up per character.
VIN_VALUES_TABLE = bytes(VIN_TRANSLITERATION.get(chr(code), 0) for code in range(256))
CHECK_DIGITS = "0123456789X"


def vin_check_digit(vin: str) -> str:
    """The ISO 3779 check digit (``0``–``9`` or ``X``) for a 17-character VIN.

    The character at position 9 has weight 0, so it does not matter what it holds. Raises
    ``ValueError`` when ``vin`` is not 17 valid VIN characters.
    """
    if not VIN_PATTERN.fullmatch(vin):
        raise ValueError(f"Not a 17-character VIN: {vin!r}")
    return valid_vin_check_digit(vin)


def valid_vin_check_digit(vin: str) -> str:
    """:func:`vin_check_digit` of a ``vin`` already known to match VIN_PATTERN (not checked again)."""
    values = vin.encode("ascii").translate(VIN_VALUES_TABLE)
    return CHECK_DIGITS[sum(map(operator.mul, values, VIN_WEIGHTS)) % 11]


def valid_vins_check_digits(vins: Sequence[str]) -> str:
    """The check digits of many VINs already known to match VIN_PATTERN, as one string (its i-th
    character is the i-th VIN's :func:`valid_vin_check_digit`), computed for all of them at once.

    A column of VINs costs a few big-integer operations instead of a Python loop per VIN: the values
    of the VINs' characters at one position (every 17th byte of their translated concatenation) are
    read as one integer with a 16-bit lane per VIN, and the weighted sum of the 17 integers holds each
    VIN's weighted sum in its own lane (at most 89 × 9 = 801, so a lane never carries into the next).
    """
    count = len(vins)
    values = "".join(vins).encode("ascii").translate(VIN_VALUES_TABLE)
    lanes = bytearray(2 * count)  # the low byte of each little-endian lane set below, the high byte 0
    total = 0
    for position, weight in enumerate(VIN_WEIGHTS):
        lanes[::2] = values[position::VIN_LENGTH]
        total += weight * int.from_bytes(lanes, "little")
    sums = struct.unpack(f"<{count}H", total.to_bytes(2 * count, "little"))
    return "".join(map(CHECK_DIGITS.__getitem__, map(operator.mod, sums, itertools.repeat(11))))


def parse_vin(value: object) -> tuple[str, list[Message]]:
    """Parse a VIN key: trimmed, upper-cased and NFKC-normalised.

    Returns ``(vin, warnings)``; a wrong check digit (position 9) is a warning, since real
    vehicles carry such VINs. Raises :class:`RowRejected` when the VIN is missing, has other
    characters than letters and digits, contains I, O or Q, or is not 17 characters long.
    """
    if is_blank(value):
        raise RowRejected(value, _("Missing VIN"))
    text = _normalised_text(value)
    # Checked before upper-casing: "ß".upper() is "SS" and "ı".upper() is "I".
    if not VIN_CHARACTERS_PATTERN.fullmatch(text):
        raise RowRejected(value, _("A VIN may contain only letters and digits"))
    vin = text.upper()
    if VIN_FORBIDDEN_LETTERS_PATTERN.search(vin):
        raise RowRejected(value, _("A VIN must not contain the letters I, O or Q"))
    if len(vin) != VIN_LENGTH:
        raise RowRejected(value, _("A VIN must be 17 characters long"))
    warnings: list[Message] = []
    if vin[VIN_CHECK_DIGIT_INDEX] != valid_vin_check_digit(vin):
        warnings.append(_("The VIN check digit (position 9) is wrong"))
    return vin, warnings


# --------------------------------------------------------------------------------------------
# Gender
# --------------------------------------------------------------------------------------------

GENDER_MALE = "M"
GENDER_FEMALE = "F"
GENDER_UNKNOWN = ""
GENDER_VALUES = {
    "男": GENDER_MALE,
    "男性": GENDER_MALE,
    "m": GENDER_MALE,
    "male": GENDER_MALE,
    "1": GENDER_MALE,
    "女": GENDER_FEMALE,
    "女性": GENDER_FEMALE,
    "f": GENDER_FEMALE,
    "female": GENDER_FEMALE,
    "0": GENDER_FEMALE,
    # DMS placeholders for "not recorded": empty, not worth a warning.
    "未知": GENDER_UNKNOWN,
    "保密": GENDER_UNKNOWN,
}


def parse_gender(value: object) -> str:
    """Parse a gender cell into ``'M'``, ``'F'`` or ``''``.

    Accepts 男/女 (also 男性/女性), M/F, male/female in any case, 1 (male) and 0 (female); blank,
    未知 and 保密 give ``''``. Raises :class:`FieldError` for anything else.
    """
    if is_blank(value):
        return GENDER_UNKNOWN
    key = _normalised_text(value).lower()
    if key not in GENDER_VALUES:
        raise FieldError(value, _("Unknown gender"))
    return GENDER_VALUES[key]


# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------

CENT = Decimal("0.01")
CURRENCY_PREFIX_PATTERN = re.compile(r"^(?:¥|RMB|CNY)\s*", re.IGNORECASE)
CURRENCY_SUFFIX_PATTERN = re.compile(r"\s*(?:元|RMB|CNY)$", re.IGNORECASE)
# Either plain digits or correctly grouped thousands; "1,23" is rejected, not guessed.
AMOUNT_PATTERN = re.compile(r"(?P<negative>-)?(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<fraction>\d+))?", re.ASCII)
WHOLE_NUMBER_PATTERN = re.compile(r"(?P<negative>-)?(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.0+)?", re.ASCII)


def parse_money(value: object) -> Decimal | None:
    """Parse an amount in yuan into a Decimal with two decimal places.

    Accepts ``1234``, ``1234.5``, ``1,234.50``, ``¥1234``, ``1234元`` and full-width digits; a
    float (XLSX number) is rounded to the cent. Blank gives None. Raises :class:`FieldError` for
    anything else, including text with more than two decimal places.
    """
    if is_blank(value):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FieldError(value, _("Not an amount"))
        return Decimal(repr(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    text = _normalised_text(value)
    text = CURRENCY_PREFIX_PATTERN.sub("", text)
    text = CURRENCY_SUFFIX_PATTERN.sub("", text)
    match = AMOUNT_PATTERN.fullmatch(text)
    if not match:
        raise FieldError(value, _("Not an amount"))
    fraction = match["fraction"] or ""
    if len(fraction.rstrip("0")) > 2:
        raise FieldError(value, _("An amount has at most two decimal places"))
    amount = Decimal(match["whole"].replace(",", "") + "." + (fraction or "0"))
    if match["negative"]:
        amount = -amount
    return amount.quantize(CENT)


def parse_int(value: object) -> int | None:
    """Parse a whole, non-negative number such as a mileage: ``12345``, ``12,345``, ``12345.0``.

    Blank gives None. Raises :class:`FieldError` for a negative number, a fraction or anything
    that is not a number.
    """
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise FieldError(value, _("Not a whole number"))
    text = _normalised_text(value)
    match = WHOLE_NUMBER_PATTERN.fullmatch(text)
    if not match:
        raise FieldError(value, _("Not a whole number"))
    if match["negative"]:
        raise FieldError(value, _("Must not be negative"))
    return int(match["whole"].replace(",", ""))


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


def parse_text(value: object) -> str:
    """A text cell, stripped of surrounding whitespace; blank and ``NULL`` give ``''``.

    The characters are kept as they are (no NFKC), and a number from an XLSX cell is written
    without a spurious ``.0`` (a card number ``100234.0`` becomes ``'100234'``).
    """
    if type(value) is str:  # every CSV cell: the same rules, without the general path's checks
        text = value.strip()
        if text.startswith(FORMULA_ESCAPE):  # a cell of a rejected-rows file, read back
            return formula_unescaped(text).strip()
        return "" if len(text) <= 4 and text.lower() in BLANK_MARKERS else text
    if is_blank(value):
        return ""
    return _cell_to_text(value)
