import pytest

from crm.exports import csv_bytes, formula_unescaped, spreadsheet_safe


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


@pytest.mark.parametrize(
    ("value", "safe"),
    [(" =1+1", "' =1+1"), ("\n=1+1", "'\n=1+1"), ("a=1", "a=1"), ("'x", "'x")],
)
def test_spreadsheet_safe_sees_formulas_behind_spaces_and_line_feeds(value, safe):
    assert spreadsheet_safe(value) == safe


@pytest.mark.parametrize("value", ["=1+1", "-120.5", "@SUM(A1)", " =1", "张伟", "'x", "O'Brien"])
def test_formula_unescaped_undoes_exactly_spreadsheet_safe(value):
    assert formula_unescaped(spreadsheet_safe(value)) == value
