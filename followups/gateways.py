"""SMS gateways: where messages go. Chosen by ``SMS_GATEWAY`` (file, console or http).

Every send carries the message's idempotency key. A gateway must treat a second send with the same
key as already done: that is what makes a resend after a worker crash harmless.
"""

import fcntl
import json
import logging
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class GatewayError(Exception):
    """The gateway refused or failed to take the message; it may be retried later."""


@dataclass(frozen=True)
class SendResult:
    message_id: str
    duplicate: bool = False


class SmsGateway:
    """The interface: ``send`` returns a SendResult or raises GatewayError."""

    def send(self, *, key: str, mobile: str, text: str) -> SendResult:
        raise NotImplementedError


class FileGateway(SmsGateway):
    """Appends one JSON line per message to ``<dir>/sent.jsonl`` (the default gateway).

    The file is the record of what was sent: a key already in it is not written again. The gateway
    remembers the keys it has read and, before each send, reads only what was appended since (the
    file only grows; a file replaced or cut is read again from its start), so a batch of 100,000
    messages reads the record once, not once per message.
    """

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        self.directory = Path(directory or settings.SMS_FILE_GATEWAY_DIR)
        self._keys: set[str] = set()
        self._read_up_to = 0
        self._file_id: tuple[int, int] | None = None

    @property
    def path(self) -> Path:
        return self.directory / "sent.jsonl"

    def _read_new_lines(self) -> None:
        try:
            status = self.path.stat()
        except FileNotFoundError:
            self._keys, self._read_up_to, self._file_id = set(), 0, None
            return
        file_id = (status.st_dev, status.st_ino)
        if file_id != self._file_id or status.st_size < self._read_up_to:
            self._keys, self._read_up_to, self._file_id = set(), 0, file_id
        with open(self.path, "rb") as record:
            record.seek(self._read_up_to)
            appended = record.read()
        complete = appended.rfind(b"\n") + 1  # a line still being written (or cut by a crash) waits
        for line in appended[:complete].splitlines():
            try:
                self._keys.add(json.loads(line)["key"])
            except (ValueError, KeyError):
                continue  # a line cut short by a crash is not a sent message
        self._read_up_to += complete

    def sent_keys(self) -> set[str]:
        self._read_new_lines()
        return set(self._keys)

    def send(self, *, key: str, mobile: str, text: str) -> SendResult:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / "sent.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._read_new_lines()
            if key in self._keys:
                return SendResult(message_id=key, duplicate=True)
            line = json.dumps(
                {"key": key, "mobile": mobile, "text": text, "at": timezone.now().isoformat()}, ensure_ascii=False
            )
            with open(self.path, "a", encoding="utf-8") as sent:
                sent.write(line + "\n")
                sent.flush()
                os.fsync(sent.fileno())
            self._keys.add(key)
        _throttle()
        return SendResult(message_id=key)


class ConsoleGateway(SmsGateway):
    """Logs the message (development)."""

    def __init__(self) -> None:
        self.sent: set[str] = set()

    def send(self, *, key: str, mobile: str, text: str) -> SendResult:
        if key in self.sent:
            return SendResult(message_id=key, duplicate=True)
        self.sent.add(key)
        logger.info("SMS %s to %s: %s", key, mobile, text)
        return SendResult(message_id=key)


class HttpGateway(SmsGateway):
    """POSTs JSON ``{"key", "mobile", "text"}`` to ``SMS_GATEWAY_URL`` with ``Authorization: Bearer
    SMS_GATEWAY_TOKEN``; the provider answers ``{"message_id": …}`` and de-duplicates by ``key``."""

    def __init__(self, url: str | None = None, token: str | None = None, timeout: int = 10) -> None:
        self.url = url or settings.SMS_GATEWAY_URL
        self.token = token or settings.SMS_GATEWAY_TOKEN
        self.timeout = timeout
        if not self.url:
            raise GatewayError("SMS_GATEWAY_URL is not set")

    def send(self, *, key: str, mobile: str, text: str) -> SendResult:
        body = json.dumps({"key": key, "mobile": mobile, "text": text}, ensure_ascii=False).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.token}",
                "Idempotency-Key": key,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read() or b"{}")
        except (urllib.error.URLError, TimeoutError, ValueError) as error:
            raise GatewayError(str(error)[:300]) from error
        _throttle()
        return SendResult(message_id=str(answer.get("message_id", key)), duplicate=bool(answer.get("duplicate")))


def _throttle() -> None:
    rate = settings.SMS_GATEWAY_RATE_PER_SECOND
    if rate:
        time.sleep(1 / rate)


GATEWAYS = {
    "file": "followups.gateways.FileGateway",
    "console": "followups.gateways.ConsoleGateway",
    "http": "followups.gateways.HttpGateway",
}


def get_gateway() -> SmsGateway:
    return import_string(GATEWAYS.get(settings.SMS_GATEWAY, settings.SMS_GATEWAY))()
