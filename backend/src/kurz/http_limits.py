"""uvicorn's fast HTTP parser (httptools), with the bounds on clients that it lacks.

httptools buffers a request line and headers of any size (h11 stops at 16 KiB, but is about three
times slower here), so one client could make a connection hold megabytes. This protocol counts
the bytes received while a request head is being read and, past ``MAX_REQUEST_HEAD``, answers
431 and closes the connection. Over-long URLs alone are already refused by httptools (400).

Slow clients: uvicorn waits forever for a request head, so connections that send a partial head,
or nothing, would pile up until the process runs out of file descriptors. Here a head must be
complete ``KURZ_REQUEST_HEAD_TIMEOUT`` seconds after its first byte (else 408 and close), a new
connection must start a request within ``KURZ_IDLE_TIMEOUT`` (else it is closed), and a worker
holds at most ``KURZ_MAX_CONNECTIONS`` connections: requests on any beyond are answered 503.

These refusals, and uvicorn's own for requests httptools cannot parse, are problem+json like
every error of Kurz, and each is logged.
"""

from asyncio import Transport
from functools import cache

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .analytics.geo import PEER_KEY
from .config import Settings
from .errors import APIError, problem_body
from .security import security_headers

MAX_REQUEST_HEAD = 16 * 1024  # request line and headers, as h11 and common proxies allow


@cache
def _settings() -> Settings:
    """The server's settings: uvicorn makes the protocol itself, in every worker process."""
    return Settings.from_env()


class HeadTooLarge(Exception):
    """Raised from a parser callback: httptools stops, and uvicorn answers a bad request."""


class ConnectionRefused(Exception):
    """Raised from a parser callback once the refusal is sent: httptools stops parsing."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    reading_head = False
    too_large = False
    parsed = 0  # bytes of URL and headers parsed in this head
    received = 0  # bytes received while this head was still incomplete: what the parser holds
    over_capacity = False  # opened while the worker held its maximum of connections
    opened_at = 0.0  # loop time of the connection
    head_started_at: float | None = None  # loop time of the latest request head's first byte
    # One timer per connection checks both deadlines; it is re-armed when it fires, never per
    # request, since creating and cancelling a timer per request costs the event loop dearly.
    head_timer = None

    # A stream transport, as uvicorn's own override narrows asyncio's BaseTransport.
    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        settings = _settings()
        self.over_capacity = len(self.connections) > settings.max_connections
        self.opened_at = self.loop.time()
        self.check_deadlines()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_head_timer()
        super().connection_lost(exc)

    def stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def check_deadlines(self) -> None:
        """Cut off a connection that sent no request in time, or a request head not complete
        in time; else check again at the next moment one of them could be due."""
        self.head_timer = None
        if self.transport.is_closing():
            return
        settings = _settings()
        now = self.loop.time()
        if self.head_started_at is None:  # no request yet: the idle wait of a new connection
            left = self.opened_at + settings.idle_timeout - now
            if left <= 0:
                self.idle_timeout()
                return
        elif self.reading_head:
            left = self.head_started_at + settings.request_head_timeout - now
            if left <= 0:
                self.head_timeout()
                return
        else:  # between heads: the next one cannot be late before this
            left = settings.request_head_timeout
        self.head_timer = self.loop.call_later(
            min(left, settings.request_head_timeout), self.check_deadlines
        )

    def idle_timeout(self) -> None:
        if not self.transport.is_closing():
            self.logger.info("Closed a connection that sent no request in time.")
            self.transport.close()

    def head_timeout(self) -> None:
        if not self.transport.is_closing():
            self.logger.warning(
                "Closed a connection whose request head was not complete after %g s.",
                _settings().request_head_timeout,
            )
            self.send_problem(
                APIError(408, "REQUEST_TIMEOUT", "The request head took too long to arrive.")
            )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.reading_head, self.parsed, self.received = True, 0, 0
        # From the head's first byte (this also ends the idle wait of a new connection).
        self.head_started_at = self.loop.time()
        # The connection's peer, which uvicorn's proxy headers replace in "client": whether a
        # proxy's country header is trusted depends on it (analytics.geo).
        # ASGI scopes may carry extra keys; hypercorn's HTTPScope TypedDict lists none.
        self.scope[PEER_KEY] = self.client  # type: ignore[literal-required]

    def on_url(self, url: bytes) -> None:
        self.count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.count(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.reading_head = False
        if self.over_capacity:
            self.logger.warning(
                "Refused a request: over %d connections.", _settings().max_connections
            )
            self.send_problem(
                APIError(
                    503,
                    "BUSY",
                    "The server has too many connections; try again in a moment.",
                    headers={"Retry-After": "1"},
                )
            )
            raise ConnectionRefused
        super().on_headers_complete()

    def count(self, size: int) -> None:
        self.parsed += size
        if self.parsed > MAX_REQUEST_HEAD:
            self.too_large = True
            raise HeadTooLarge

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        super().data_received(data)
        if self.transport.is_closing():
            return
        # A head spread over many chunks is stopped before it completes (httptools reports a
        # header only once it has all of it).
        if self.reading_head and not self.transport.is_closing():
            self.received += len(data)
            if self.received > MAX_REQUEST_HEAD:
                self.too_large = True
                self.send_400_response("")

    def send_400_response(self, msg: str) -> None:
        """uvicorn's refusal of a request it cannot parse, as problem+json like every error."""
        if self.transport.is_closing():  # already answered (a refusal raised in a callback)
            return
        if self.too_large:
            self.logger.warning("Refused a request head over %d bytes.", MAX_REQUEST_HEAD)
            error = APIError(431, "HEADERS_TOO_LARGE", "Request line and headers are too large.")
        else:
            error = APIError(400, "MALFORMED_REQUEST", "The request is not valid HTTP/1.1.")
        self.send_problem(error)

    def send_problem(self, error: APIError) -> None:
        """Answer ``error`` as problem+json and close the connection."""
        self.stop_head_timer()
        body = problem_body(error)
        headers = [
            *security_headers(False),
            *error.headers.items(),
            ("Content-Type", "application/problem+json"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ]
        head = "".join(f"{name}: {value}\r\n" for name, value in headers)
        self.transport.write(STATUS_LINE[error.status] + head.encode() + b"\r\n" + body)
        self.transport.close()
