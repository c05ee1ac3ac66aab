"""The second factor (TOTP, django-otp) that managers, administrators and superusers confirm after
their password: who needs it, enrolment of the first device, checking a code."""

import base64
import io

import django_otp
import qrcode
import qrcode.image.svg
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from crm.choices import Role

ROLES_WITH_SECOND_FACTOR = frozenset({Role.MANAGER, Role.ADMIN})
DEVICE_NAME = "authenticator"


def user_needs_second_factor(user) -> bool:
    """Managers, administrators and superusers must confirm every log-in with a TOTP code."""
    return bool(user.is_superuser or getattr(user, "role", None) in ROLES_WITH_SECOND_FACTOR)


def totp_device_for_user(*, user, confirmed: bool = True) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("pk").first()


@transaction.atomic
def totp_device_start_enrolment(*, user) -> TOTPDevice:
    """The unconfirmed device a user is enrolling (created once, the same secret on every reload)."""
    device = totp_device_for_user(user=user, confirmed=False)
    if device is None:
        device = TOTPDevice(user=user, name=DEVICE_NAME, confirmed=False)
        device.full_clean()
        device.save()
    return device


def totp_device_confirm(*, request: HttpRequest, device: TOTPDevice, code: str) -> bool:
    """Check ``code`` against ``device``; on success confirm the device (first enrolment) and mark
    the session verified the way ``django_otp.login`` does. Returns whether the code was right."""
    code = (code or "").strip()
    if not (len(code) == device.digits and code.isdigit()) or not device.verify_token(code):
        return False
    if not device.confirmed:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    django_otp.login(request, device)
    return True


def totp_code_matches(*, user, code: str) -> bool:
    """Whether ``code`` is the current code of one of the user's confirmed devices (API token)."""
    code = (code or "").strip()
    if not code.isdigit():
        return False
    return any(device.verify_token(code) for device in TOTPDevice.objects.filter(user=user, confirmed=True))


def totp_secret_base32(device: TOTPDevice) -> str:
    """The secret as people type it into an authenticator app (base32, no padding)."""
    return base64.b32encode(device.bin_key).decode("ascii").rstrip("=")


def totp_qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// URL as an inline SVG QR code, drawn on the server."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode("utf-8")
    return svg[svg.index("<svg") :]


@transaction.atomic
def totp_device_ensure_confirmed(*, user, name: str = DEVICE_NAME) -> TOTPDevice:
    """The user's confirmed device, created if the user has none (demo users; never for real staff,
    who enrol from the QR code on their first log-in)."""
    device = totp_device_for_user(user=user)
    if device is None:
        device = TOTPDevice(user=user, name=name, confirmed=True)
        device.full_clean()
        device.save()
    return device


def totp_current_code(device: TOTPDevice) -> str:
    """The code the device's authenticator app shows now (demo command only)."""
    from django_otp.oath import TOTP

    generator = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{generator.token():0{device.digits}d}"
