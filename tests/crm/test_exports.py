import pytest

from crm.exports import csv_bytes, spreadsheet_safe


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+86 138", "'+86 138"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("张伟", "张伟"),
        (12, 12),
        (None, None),
    ],
)
def test_spreadsheet_safe(value, safe):
    assert spreadsheet_safe(value) == safe


def test_csv_bytes_has_a_bom_and_escapes_cells():
    data = csv_bytes(["姓名", "备注"], [["张伟", "=1+1"]])

    assert data == "\ufeff姓名,备注\r\n张伟,'=1+1\r\n".encode()
