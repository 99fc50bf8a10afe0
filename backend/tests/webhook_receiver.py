"""A real webhook receiver for tests: an HTTP server thread on localhost that verifies every
request's signature with the ``standardwebhooks`` library and answers as a test tells it."""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# Answers that take this long (seconds) count as timed out: tests shorten the sender's timeout.
SLOW = 3.0


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered
    verified_by: list[str]  # the secrets whose signature matched
    delay: float = 0.0  # waited before answering; the sender gives up on slow answers

    @property
    def event(self) -> dict:
        return json.loads(self.body)

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def signatures(self) -> list[str]:
        return self.headers["webhook-signature"].split(" ")


@dataclass
class Receiver:
    """``answer(number, request)`` picks each answer's status (number counts from 1, per
    webhook-id); ``delay`` seconds are waited before answering (timeouts)."""

    secrets: list[str] = field(default_factory=list)
    answer: Callable[[int, Received], int] = lambda number, received: 200
    delay: Callable[[int, Received], float] = lambda number, received: 0.0
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def delivered(self) -> list[Received]:
        """The requests answered promptly with a 2xx whose signature verified."""
        with self._lock:
            return [
                r
                for r in self.received
                if 200 <= r.status < 300 and r.verified_by and r.delay < SLOW
            ]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Waits (for live servers) until ``count`` requests were answered with a 2xx."""
        deadline = time.monotonic() + timeout
        while len(self.delivered()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.delivered())} of {count} deliveries arrived")
            time.sleep(0.05)
        return self.delivered()

    def _handle(self, headers: dict[str, str], body: bytes) -> tuple[int, float]:
        verified = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            verified.append(secret)
        received = Received(headers, body, 0, verified)
        with self._lock:
            number = sum(r.id == received.id for r in self.received) + 1
            received.status = self.answer(number, received) if verified else 401
            received.delay = self.delay(number, received)
            self.received.append(received)
        return received.status, received.delay


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self) -> None:  # noqa: N802 - the http.server convention
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, delay = self.receiver._handle(headers, body)
        time.sleep(delay)
        try:
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:
            pass  # the sender gave up waiting

    def log_message(self, *args) -> None:
        pass


class ReceiverServer:
    def __init__(self, receiver: Receiver) -> None:
        handler = type("Handler", (_Handler,), {"receiver": receiver})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        receiver.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
