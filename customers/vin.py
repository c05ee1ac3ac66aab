"""The vehicle identification number (VIN, 车架号): 17 characters, no I, O or Q, and the check digit
at position 9 (ISO 3779, as GB 16735 requires for every car sold in China)."""

from __future__ import annotations

import unicodedata

from django.utils.translation import gettext_lazy as _

from customers.dms.parsing import VIN_CHECK_DIGIT_INDEX, VIN_LENGTH, VIN_PATTERN, vin_check_digit

__all__ = ["vin_check_digit", "vin_is_valid", "vin_normalise", "vin_problem"]


def vin_normalise(value: str) -> str:
    """Full-width characters half-width, spaces dropped, upper case."""
    text = unicodedata.normalize("NFKC", value or "")
    return "".join(text.split()).upper()


def vin_problem(vin: str):
    """What is wrong with a (normalised) VIN, as a message for staff, or None when it is valid."""
    if len(vin) != VIN_LENGTH:
        return _("A VIN has exactly 17 characters (this one has %(count)s).") % {"count": len(vin)}
    if any(letter in vin for letter in "IOQ"):
        return _("A VIN never contains the letters I, O or Q: check for 1 and 0.")
    if not VIN_PATTERN.fullmatch(vin):
        return _("A VIN holds only the letters A–Z and the digits 0–9.")
    expected = vin_check_digit(vin)
    if vin[VIN_CHECK_DIGIT_INDEX] != expected:
        return _(
            "The check digit (the 9th character) of this VIN does not match: check every character "
            "against the vehicle's certificate."
        )
    return None


def vin_is_valid(vin: str) -> bool:
    """17 VIN characters with the right check digit."""
    return vin_problem(vin_normalise(vin)) is None
