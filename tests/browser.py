"""Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by Playwright (never a
downloaded browser)."""

import base64
import os
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def browser_page(live_server):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's ORM is still used
    # synchronously by the test itself, which is safe here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
        page = context.new_page()
        page.set_default_timeout(15000)
        try:
            yield page
        finally:
            context.close()
            browser.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def log_in(page, live_server, username: str, password: str) -> None:
    """Log in through the form, like a person: managers and administrators then type the current
    TOTP code of their device (enrolling one from the page's secret on their first log-in)."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    if "/accounts/verify/setup/" in page.url:
        secret = page.get_attribute("[data-totp-secret]", "data-totp-secret")
        page.fill("#id_code", totp_code(base64.b32decode(secret + "=" * (-len(secret) % 8))))
        page.click("button[type=submit].primary")
        page.wait_for_load_state("domcontentloaded")
    elif "/accounts/verify/" in page.url:
        page.fill("#id_code", current_device_code(username))
        page.click("button[type=submit].primary")
        page.wait_for_load_state("domcontentloaded")


def totp_code(key: bytes, *, step: int = 30, digits: int = 6) -> str:
    from django_otp.oath import totp

    return f"{totp(key, step=step, digits=digits):0{digits}d}"


def current_device_code(username: str) -> str:
    """The code the user's authenticator app shows now. A code is accepted once: if this time step's
    code was already used (a second log-in within 30 s), wait for the next step."""
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user__username=username, confirmed=True).order_by("pk").first()
    while True:
        generator = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        if generator.t() > device.last_t:
            return f"{generator.token():0{device.digits}d}"
        time.sleep(0.5)


# Screenshots the browser tests keep as artefacts (CI keeps the folder): TEST_ARTIFACTS_DIR, else
# var/test-artifacts under the project.
ARTIFACTS_DIR = Path(
    os.environ.get("TEST_ARTIFACTS_DIR") or Path(__file__).resolve().parent.parent / "var" / "test-artifacts"
)


def save_screenshot(page, name: str) -> Path:
    """Keep a full-page screenshot of ``page`` as ``screenshots/<name>.png`` in the artefacts folder."""
    path = ARTIFACTS_DIR / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def fits_without_sideways_scroll(page, *, tries: int = 20) -> bool:
    """Whether the page fits its width, given a few frames to settle: the charts follow a new width
    a frame later (Chart.js watches its box)."""
    for _try in range(tries):
        if page.evaluate(NO_HORIZONTAL_SCROLL):
            return True
        page.wait_for_timeout(100)
    return False
