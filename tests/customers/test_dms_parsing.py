"""Tests for customers.dms.parsing: raw DMS cell values to clean Python values (no database)."""

import codecs
import datetime
import os
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import translation

from customers.dms.parsing import (
    DecodeError,
    DmsValueError,
    FieldError,
    RowRejected,
    decode_csv_bytes,
    is_blank,
    is_valid_mobile,
    normalize_phone,
    parse_date,
    parse_gender,
    parse_int,
    parse_landline,
    parse_mobile,
    parse_money,
    parse_text,
    parse_vin,
    vin_check_digit,
)

if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
    # Run without the project settings (``-p no:django``): lazy messages need a configuration to
    # render, and without I18N they render as their English msgids.
    settings.configure(USE_I18N=False)

CUSTOMERS_CSV = "客户编号,客户姓名\nC001,张伟\n"


def english(message: object) -> str:
    """Render a lazy message as its English msgid, whatever the project's default language."""
    with translation.override("en"):
        return str(message)


def with_check_digit(vin: str) -> str:
    """``vin`` with a correct check digit at position 9."""
    return vin[:8] + vin_check_digit(vin) + vin[9:]


def with_wrong_check_digit(vin: str) -> str:
    """``vin`` with a check digit at position 9 that is certainly wrong."""
    correct = vin_check_digit(vin)
    wrong = "1" if correct != "1" else "2"
    return vin[:8] + wrong + vin[9:]


VALID_VIN = with_check_digit("LSVAU2180N2183294")


# --------------------------------------------------------------------------------------------
# Exceptions
# --------------------------------------------------------------------------------------------


def test_exception_hierarchy() -> None:
    assert issubclass(DecodeError, ValueError)
    assert issubclass(FieldError, DmsValueError)
    assert issubclass(RowRejected, DmsValueError)
    assert issubclass(DmsValueError, ValueError)
    # The importer keeps a row on a FieldError and rejects it on a RowRejected: never confuse them.
    assert not issubclass(RowRejected, FieldError)
    assert not issubclass(FieldError, RowRejected)


def test_field_error_carries_value_and_reason() -> None:
    with pytest.raises(FieldError) as caught:
        parse_date("2023-02-30")
    assert caught.value.value == "2023-02-30"
    assert english(caught.value.reason) == "Impossible date"
    assert english(caught.value) == "Impossible date"


# --------------------------------------------------------------------------------------------
# decode_csv_bytes
# --------------------------------------------------------------------------------------------


def test_decode_utf8_with_bom_strips_it() -> None:
    data = codecs.BOM_UTF8 + CUSTOMERS_CSV.encode("utf-8")
    assert decode_csv_bytes(data) == (CUSTOMERS_CSV, "utf-8-sig")


def test_decode_utf8_without_bom() -> None:
    assert decode_csv_bytes(CUSTOMERS_CSV.encode("utf-8")) == (CUSTOMERS_CSV, "utf-8")


def test_decode_utf8_that_is_also_valid_gbk_stays_utf8() -> None:
    data = CUSTOMERS_CSV.encode("utf-8")
    # Precondition: these bytes also decode as GBK (to mojibake), so the order of attempts matters.
    assert data.decode("gbk") != CUSTOMERS_CSV
    assert decode_csv_bytes(data) == (CUSTOMERS_CSV, "utf-8")


def test_decode_ascii_is_utf8() -> None:
    assert decode_csv_bytes(b"customer_no,name\nC001,Zhang\n") == ("customer_no,name\nC001,Zhang\n", "utf-8")


def test_decode_empty_file() -> None:
    assert decode_csv_bytes(b"") == ("", "utf-8")


@pytest.mark.parametrize(
    "text",
    [
        CUSTOMERS_CSV,
        "VIN码,车牌号,品牌\nLSVAU2180N2183294,苏A12345,大众\n",
        "联通,联通\n",  # the classic GBK byte string that naive detectors call UTF-8
    ],
)
def test_decode_gbk(text: str) -> None:
    data = text.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert decode_csv_bytes(data) == (text, "gbk")


@pytest.mark.parametrize("text", ["客户编号,客户姓名\nC001,王䶮\n", "客户编号,客户姓名\nC002,李𠀀\n"])
def test_decode_gb18030_only_characters(text: str) -> None:
    data = text.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("gbk")
    assert decode_csv_bytes(data) == (text, "gb18030")


def test_decode_gb18030_strips_its_byte_order_mark() -> None:
    data = ("\ufeff" + CUSTOMERS_CSV).encode("gb18030")
    assert decode_csv_bytes(data) == (CUSTOMERS_CSV, "gb18030")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            b"C001,\xff\xfe\xff\n",
            "The file is neither UTF-8 nor GBK/GB18030 text. Save it as CSV UTF-8 and upload it again.",
        ),
        (
            b"\x80abc",
            "The file is neither UTF-8 nor GBK/GB18030 text. Save it as CSV UTF-8 and upload it again.",
        ),
        (
            CUSTOMERS_CSV.encode("gbk") + b"\xff",
            "The file is neither UTF-8 nor GBK/GB18030 text. Save it as CSV UTF-8 and upload it again.",
        ),
        (
            codecs.BOM_UTF8 + CUSTOMERS_CSV.encode("gbk"),
            "The file starts with a UTF-8 byte order mark but is not valid UTF-8 text.",
        ),
        (
            CUSTOMERS_CSV.encode("utf-16"),
            "The file is UTF-16 text. Save it as CSV UTF-8 and upload it again.",
        ),
        (CUSTOMERS_CSV.encode("utf-16-le"), "The file is not a text file."),
        (b"PK\x03\x04\x14\x00\x06\x00", "The file is not a text file."),
    ],
)
def test_decode_rejects_undecodable_bytes(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_csv_bytes(data)
    assert english(caught.value.reason) == reason


# --------------------------------------------------------------------------------------------
# parse_date
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-05",
        "2024-3-5",
        "2024/3/5",
        "2024/03/05",
        "2024.3.5",
        "20240305",
        "2024年3月5日",
        "2024年03月05日",
        "2024 年 3 月 5 日",
        "  2024-03-05  ",
        "\u30002024-03-05\u3000",
        "2024-03-05 00:00:00",
        "2024-03-05T00:00:00",
        "2024/3/5 8:30",
        "2024-03-05 23:59:59.123",
        "20240305 00:00:00",
        "2024年3月5日 00:00:00",
        "２０２４－０３－０５",
        datetime.date(2024, 3, 5),
        datetime.datetime(2024, 3, 5, 10, 30),  # noqa: DTZ001  (a naive XLSX date cell)
        45356,
        45356.0,
        45356.75,  # a serial with a time of day
        "45356",
        "45356.0",
        Decimal("45356"),
        20240305,  # a yyyymmdd number in an XLSX cell
    ],
)
def test_parse_date_accepted_shapes(value: object) -> None:
    assert parse_date(value) == datetime.date(2024, 3, 5)


def test_parse_date_returns_a_date_not_a_datetime() -> None:
    parsed = parse_date(datetime.datetime(2024, 3, 5, 10, 30))  # noqa: DTZ001
    assert type(parsed) is datetime.date


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (1, datetime.date(1900, 1, 1)),
        (59, datetime.date(1900, 2, 28)),
        (61, datetime.date(1900, 3, 1)),
        (36526, datetime.date(2000, 1, 1)),
        (2958465, datetime.date(9999, 12, 31)),
    ],
)
def test_parse_date_excel_serials_around_the_fake_leap_day(serial: int, expected: datetime.date) -> None:
    assert parse_date(serial) == expected
    assert parse_date(str(serial)) == expected


@pytest.mark.parametrize("value", [None, "", "   ", "\u3000", "NULL", "null", "None", "none"])
def test_parse_date_blank(value: object) -> None:
    assert parse_date(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "2023-02-30",
        "2023/2/29",
        "2023.2.30",
        "20230230",
        "2023年2月30日",
        "2024-13-01",
        "2024-00-10",
        "2024-04-31",
        "1899-12-31",
        "0000-01-01",
        60,  # Excel's 1900-02-29, which never existed
    ],
)
def test_parse_date_impossible(value: object) -> None:
    with pytest.raises(FieldError) as caught:
        parse_date(value)
    assert caught.value.value == value
    assert english(caught.value.reason) == "Impossible date"


@pytest.mark.parametrize(
    "value",
    [
        "tomorrow",
        "05/03/2024",  # day/month order is ambiguous: never guessed
        "24-3-5",
        "2024-03",
        "2024-03/05",
        "3.5.2024",
        "2024-03-05 noon",
        0,
        -1,
        2958466,
        "2958466",
        float("nan"),
        True,
    ],
)
def test_parse_date_unrecognised(value: object) -> None:
    with pytest.raises(FieldError) as caught:
        parse_date(value)
    assert english(caught.value.reason) == "Unrecognised date format"


# --------------------------------------------------------------------------------------------
# Mobiles
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "13800138000",
        " 13800138000 ",
        "138 0013 8000",
        "138-0013-8000",
        "138.0013.8000",
        "(138)00138000",
        "+8613800138000",
        "+86 138 0013 8000",
        "+86-138-0013-8000",
        "(+86)13800138000",
        "0086 13800138000",
        "008613800138000",
        "8613800138000",
        "１３８００１３８０００",
        "+８６\u3000１３８－００１３－８０００",
        "138\u20140013\u20148000",
        13800138000,
        13800138000.0,
    ],
)
def test_parse_mobile_accepted_shapes(value: object) -> None:
    assert parse_mobile(value) == "13800138000"


@pytest.mark.parametrize("value", ["13912345678", "15012345678", "16612345678", "17712345678", "19912345678"])
def test_parse_mobile_every_mainland_prefix(value: str) -> None:
    assert parse_mobile(value) == value


@pytest.mark.parametrize("value", [None, "", "  ", "NULL", "None"])
def test_parse_mobile_blank(value: object) -> None:
    assert parse_mobile(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "12800138000",  # 12x is not a mobile prefix
        "10800138000",
        "23800138000",
        "1380013800",  # 10 digits
        "138001380001",  # 12 digits
        "+85213800138000",
        "8713800138000",
        "+86 1380013800",
        "025-84561234",
        "138-0013-800O",
        "abc",
        "138 0013 8000 转 1",
        "١٣٨٠٠١٣٨٠٠٠",  # Arabic-Indic digits are not 0-9
    ],
)
def test_parse_mobile_invalid(value: object) -> None:
    with pytest.raises(FieldError) as caught:
        parse_mobile(value)
    assert caught.value.value == value
    assert english(caught.value.reason) == "Not a mainland mobile number"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13800138000", True),
        ("19912345678", True),
        ("138 0013 8000", False),
        ("+8613800138000", False),
        ("12800138000", False),
        ("1380013800", False),
        ("", False),
    ],
)
def test_is_valid_mobile(value: str, expected: bool) -> None:
    assert is_valid_mobile(value) is expected


# --------------------------------------------------------------------------------------------
# Landlines
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("025-84561234", "025-84561234"),
        ("025 8456 1234", "025-84561234"),
        ("(025)84561234", "025-84561234"),
        ("（025）84561234", "025-84561234"),
        ("02584561234", "025-84561234"),
        ("025-8456-1234", "025-84561234"),
        ("０２５－８４５６１２３４", "025-84561234"),
        ("+86 25 8456 1234", "025-84561234"),
        ("0086-25-84561234", "025-84561234"),
        ("010-62345678", "010-62345678"),
        ("01062345678", "010-62345678"),
        ("0335-3456789", "0335-3456789"),  # 7-digit local number
        ("03353456789", "0335-3456789"),
        ("0571 8888 6666", "0571-88886666"),
        ("057188886666", "0571-88886666"),
        ("025-84561234-123", "025-84561234-123"),
        ("025-84561234转123", "025-84561234-123"),
        ("025-84561234 转 8001", "025-84561234-8001"),
        ("025-84561234 ext. 8", "025-84561234-8"),
        ("025-84561234 EXT 8", "025-84561234-8"),
        ("025-84561234x123", "025-84561234-123"),
        ("025-84561234#123", "025-84561234-123"),
    ],
)
def test_parse_landline_accepted_shapes(value: str, expected: str) -> None:
    assert parse_landline(value) == expected


@pytest.mark.parametrize("value", [None, "", "  ", "NULL"])
def test_parse_landline_blank(value: object) -> None:
    assert parse_landline(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "84561234",  # no area code
        "25-84561234",  # area code without its 0
        2584561234,  # an XLSX number lost the leading 0: not guessed back
        "13800138000",
        "+8613800138000",
        "025-845612",  # local number too short
        "025-845612345",  # local number too long
        "025-04561234",  # local numbers never start with 0 or 1
        "025-14561234",
        "400-820-8820",
        "025-84561234转",
        "abc",
    ],
)
def test_parse_landline_invalid(value: object) -> None:
    with pytest.raises(FieldError) as caught:
        parse_landline(value)
    assert caught.value.value == value
    assert english(caught.value.reason) == "Not a landline number with area code"


# --------------------------------------------------------------------------------------------
# normalize_phone
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+86 138 0013 8000", ("13800138000", None)),
        ("(025)84561234", (None, "025-84561234")),
        ("0335-3456789-1", (None, "0335-34567891")),  # ambiguous: an 8-digit number wins
        ("", (None, None)),
        ("NULL", (None, None)),
        (None, (None, None)),
    ],
)
def test_normalize_phone(value: object, expected: tuple[str | None, str | None]) -> None:
    assert normalize_phone(value) == expected


@pytest.mark.parametrize("value", ["12345", "12800138000", "84561234", "电话"])
def test_normalize_phone_invalid(value: str) -> None:
    with pytest.raises(FieldError) as caught:
        normalize_phone(value)
    assert caught.value.value == value
    assert english(caught.value.reason) == "Not a phone number"


# --------------------------------------------------------------------------------------------
# VIN
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vin", "check_digit"),
    [
        ("1M8GDM9AXKP042788", "X"),  # remainder 10
        ("11111111111111111", "1"),
        ("1HGCM82633A004352", "3"),
        ("JHMCM56557C404453", "5"),
        ("LSVAU2180N2183294", "X"),
        ("LFV2A21K8D3123456", "0"),
    ],
)
def test_vin_check_digit(vin: str, check_digit: str) -> None:
    assert vin_check_digit(vin) == check_digit


def test_vin_check_digit_ignores_position_nine() -> None:
    assert vin_check_digit("LFV2A21K0D3123456") == vin_check_digit("LFV2A21KXD3123456")


@pytest.mark.parametrize("vin", ["LFV2A21K8D312345", "LFV2A21K8D3I23456", "lfv2a21k8d3123456", ""])
def test_vin_check_digit_rejects_non_vins(vin: str) -> None:
    with pytest.raises(ValueError, match="Not a 17-character VIN"):
        vin_check_digit(vin)


@pytest.mark.parametrize(
    "value",
    [
        VALID_VIN,
        f"  {VALID_VIN}  ",
        VALID_VIN.lower(),
        f" {VALID_VIN.lower()} ",
        f"\u3000{VALID_VIN}\t",
        "".join(chr(ord(character) + 0xFEE0) for character in VALID_VIN),  # full-width
    ],
)
def test_parse_vin_valid(value: str) -> None:
    assert parse_vin(value) == (VALID_VIN, [])


@pytest.mark.parametrize("vin", ["1M8GDM9AXKP042788", "1HGCM82633A004352", "LFV2A21K0D3123456"])
def test_parse_vin_correct_check_digits_have_no_warning(vin: str) -> None:
    assert parse_vin(vin) == (vin, [])


def test_parse_vin_wrong_check_digit_is_a_warning_not_a_rejection() -> None:
    wrong_vin = with_wrong_check_digit(VALID_VIN)
    assert wrong_vin != VALID_VIN
    vin, warnings = parse_vin(wrong_vin.lower())
    assert vin == wrong_vin
    assert [english(warning) for warning in warnings] == ["The VIN check digit (position 9) is wrong"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "Missing VIN"),
        ("", "Missing VIN"),
        ("   ", "Missing VIN"),
        ("NULL", "Missing VIN"),
        (VALID_VIN[:16], "A VIN must be 17 characters long"),
        (VALID_VIN + "1", "A VIN must be 17 characters long"),
        ("LSV", "A VIN must be 17 characters long"),
        ("I" + VALID_VIN[1:], "A VIN must not contain the letters I, O or Q"),
        (VALID_VIN[:10] + "O" + VALID_VIN[11:], "A VIN must not contain the letters I, O or Q"),
        (VALID_VIN[:16] + "q", "A VIN must not contain the letters I, O or Q"),
        (VALID_VIN[:8] + "-" + VALID_VIN[9:], "A VIN may contain only letters and digits"),
        ("LSVAU 2180N2183294", "A VIN may contain only letters and digits"),
        ("车架号LSVAU2180N2183", "A VIN may contain only letters and digits"),
        ("LSVAU2180N21832ß", "A VIN may contain only letters and digits"),  # "ß".upper() is "SS"
    ],
)
def test_parse_vin_rejected(value: object, reason: str) -> None:
    with pytest.raises(RowRejected) as caught:
        parse_vin(value)
    assert caught.value.value == value
    assert english(caught.value.reason) == reason


# --------------------------------------------------------------------------------------------
# Gender
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("男", "M"),
        ("女", "F"),
        (" 男 ", "M"),
        ("男性", "M"),
        ("女性", "F"),
        ("M", "M"),
        ("F", "F"),
        ("m", "M"),
        ("f", "F"),
        ("Ｍ", "M"),
        ("male", "M"),
        ("Female", "F"),
        ("FEMALE", "F"),
        ("1", "M"),
        ("0", "F"),
        (1, "M"),
        (0, "F"),
        (1.0, "M"),
        ("未知", ""),
        ("保密", ""),
        ("", ""),
        ("  ", ""),
        (None, ""),
        ("NULL", ""),
    ],
)
def test_parse_gender(value: object, expected: str) -> None:
    assert parse_gender(value) == expected


@pytest.mark.parametrize("value", ["男女", "x", "2", "unknown", "先生", -1])
def test_parse_gender_invalid(value: object) -> None:
    with pytest.raises(FieldError) as caught:
        parse_gender(value)
    assert caught.value.value == value
    assert english(caught.value.reason) == "Unknown gender"


# --------------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1234", "1234.00"),
        ("1234.5", "1234.50"),
        ("1234.50", "1234.50"),
        ("1234.500", "1234.50"),
        ("1,234.50", "1234.50"),
        ("1,234,567", "1234567.00"),
        ("¥1234", "1234.00"),
        ("￥1,234.50", "1234.50"),
        ("¥ 1234", "1234.00"),
        ("1234元", "1234.00"),
        ("RMB 1234.5", "1234.50"),
        ("１２３４．５", "1234.50"),
        (" 1234 ", "1234.00"),
        ("0", "0.00"),
        ("-50.00", "-50.00"),
        (1234, "1234.00"),
        (1234.5, "1234.50"),
        (0.1 + 0.2, "0.30"),  # a float artefact from an XLSX formula
        (Decimal("99.9"), "99.90"),
    ],
)
def test_parse_money(value: object, expected: str) -> None:
    parsed = parse_money(value)
    assert isinstance(parsed, Decimal)
    assert str(parsed) == expected


@pytest.mark.parametrize("value", [None, "", " ", "NULL", "null"])
def test_parse_money_blank(value: object) -> None:
    assert parse_money(value) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", "Not an amount"),
        ("1,23", "Not an amount"),  # a decimal comma or a typo: never guessed
        ("12,34.5", "Not an amount"),
        ("1.2.3", "Not an amount"),
        ("1 234", "Not an amount"),
        ("¥", "Not an amount"),
        ("$100", "Not an amount"),
        ("NaN", "Not an amount"),
        (float("nan"), "Not an amount"),
        (float("inf"), "Not an amount"),
        ("12.345", "An amount has at most two decimal places"),
    ],
)
def test_parse_money_invalid(value: object, reason: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_money(value)
    assert english(caught.value.reason) == reason


# --------------------------------------------------------------------------------------------
# Whole numbers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12345", 12345),
        ("12,345", 12345),
        ("1,234,567", 1234567),
        ("12345.0", 12345),
        ("12345.00", 12345),
        (" 12345 ", 12345),
        ("１２３４５", 12345),
        ("0", 0),
        (12345, 12345),
        (12345.0, 12345),
    ],
)
def test_parse_int(value: object, expected: int) -> None:
    parsed = parse_int(value)
    assert type(parsed) is int
    assert parsed == expected


@pytest.mark.parametrize("value", [None, "", "  ", "NULL", "None"])
def test_parse_int_blank(value: object) -> None:
    assert parse_int(value) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("-5", "Must not be negative"),
        (-5, "Must not be negative"),
        ("-12,345", "Must not be negative"),
        ("12345.5", "Not a whole number"),
        (12345.5, "Not a whole number"),
        ("12,34", "Not a whole number"),
        ("abc", "Not a whole number"),
        ("12 345", "Not a whole number"),
        ("١٢٣", "Not a whole number"),
        (True, "Not a whole number"),
    ],
)
def test_parse_int_invalid(value: object, reason: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_int(value)
    assert caught.value.value == value
    assert english(caught.value.reason) == reason


# --------------------------------------------------------------------------------------------
# Text and blanks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" 张伟 ", "张伟"),
        ("\u3000张伟\u3000", "张伟"),
        ("南京市 鼓楼区", "南京市 鼓楼区"),
        ("ＡＢＣ１２３", "ＡＢＣ１２３"),  # no NFKC: text is kept as written
        ("NULL", ""),
        ("None", ""),
        ("", ""),
        (None, ""),
        (100234, "100234"),
        (100234.0, "100234"),
        (12.5, "12.5"),
    ],
)
def test_parse_text(value: object, expected: str) -> None:
    assert parse_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, True),
        ("", True),
        ("   ", True),
        ("\t\n", True),
        ("\u3000", True),
        ("NULL", True),
        ("null", True),
        (" Null ", True),
        ("None", True),
        ("NONE", True),
        ("0", False),
        (0, False),
        ("张伟", False),
        ("NULLS", False),
    ],
)
def test_is_blank(value: object, expected: bool) -> None:
    assert is_blank(value) is expected
