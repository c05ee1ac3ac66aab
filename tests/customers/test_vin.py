"""customers/vin.py: 17 characters, no I/O/Q, the ISO 3779 check digit at position 9."""

import pytest

from customers.vin import vin_check_digit, vin_is_valid, vin_normalise, vin_problem


@pytest.mark.parametrize(
    ("vin", "digit"),
    [
        ("1M8GDM9AXKP042788", "X"),  # the textbook example of ISO 3779 / 49 CFR 565
        ("1HGCM82633A004352", "3"),
        ("LSVAU218XN2183294", "X"),  # a Chinese WMI (LSV, SAIC Volkswagen) with its right check digit
    ],
)
def test_real_vins_are_valid(vin, digit):
    assert vin_check_digit(vin) == digit
    assert vin_is_valid(vin) is True
    assert vin_problem(vin) is None


def test_a_wrong_check_digit_is_refused_with_its_own_message():
    # LSVAU2180N2183294 looks real but its 9th character should be X.
    assert vin_is_valid("LSVAU2180N2183294") is False
    assert "第 9 位" in str(vin_problem("LSVAU2180N2183294"))


@pytest.mark.parametrize(
    ("vin", "words"),
    [
        ("1M8GDM9AXKP04278", "17 位"),
        ("1M8GDM9AXKP0427888", "17 位"),
        ("1M8GDM9AXKP0427O8", "I、O、Q"),
        ("1M8GDM9AXKP04278-", "只能包含"),
    ],
)
def test_malformed_vins(vin, words):
    assert words in str(vin_problem(vin))
    assert vin_is_valid(vin) is False


def test_normalise_full_width_lower_case_and_spaces():
    assert vin_normalise(" １m8gdm9axkp 042788 ") == "1M8GDM9AXKP042788"
    assert vin_is_valid(" １m8gdm9axkp 042788 ") is True
