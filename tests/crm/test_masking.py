import pytest

from crm.masking import mask_phone


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812341234", "138****1234"),
        ("025-84561234", "025-****1234"),
        ("", ""),
        (None, ""),
        ("1234", "****"),
    ],
)
def test_mask_phone(value, masked):
    assert mask_phone(value) == masked
