"""An SMS provider on loopback for the tests that kill a Celery worker in the middle of a batch.

It speaks what ``followups.gateways.HttpGateway`` sends (a JSON POST with a bearer token and an
``Idempotency-Key``), keeps each key once (a key it has accepted is answered as a duplicate, as a
real provider's idempotency does) and, with ``hold_after=N``, stops answering once it has accepted
N messages: every later request waits, unanswered, until ``resume()``. A worker killed while it
waits is killed in the middle of its batch however busy the machine is; a rate limit and a poll of
the sent file would only make that likely.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "sms-test-token"


class SmsProvider:
    def __init__(self, *, hold_after: int | None = None) -> None:
        self.hold_after = hold_after
        self.accepted: list[str] = []  # keys, in the order the provider took them
        self.duplicates: list[str] = []  # keys sent again after they had been accepted
        self._keys: set[str] = set()
        self.holding = threading.Event()  # set when the first request is held
        self._answering = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def env(self) -> dict[str, str]:
        """The settings that point a worker's HTTP gateway here."""
        return {
            "SMS_GATEWAY": "http",
            "SMS_GATEWAY_URL": f"http://127.0.0.1:{self._server.server_port}/send",
            "SMS_GATEWAY_TOKEN": TOKEN,
        }

    def resume(self) -> None:
        """Answer again: held requests get a 503 (their sender is usually dead by now)."""
        self.hold_after = None
        self._answering.set()

    def __enter__(self) -> "SmsProvider":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.resume()
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, key: str) -> tuple[int, dict]:
        with self._lock:
            if self.hold_after is None or len(self.accepted) < self.hold_after:
                if key in self._keys:
                    self.duplicates.append(key)
                    return 200, {"message_id": key, "duplicate": True}
                self.accepted.append(key)
                self._keys.add(key)
                return 200, {"message_id": key}
        self.holding.set()
        self._answering.wait()
        return 503, {"error": "provider was not answering"}

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    status, answer = 401, {"error": "bad token"}
                elif self.headers.get("Idempotency-Key") != body["key"]:
                    status, answer = 400, {"error": "Idempotency-Key is not the message's key"}
                else:
                    status, answer = provider._answer(body["key"])
                payload = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the sender was killed while its request was held

            def log_message(self, *args):
                pass

        return Handler
