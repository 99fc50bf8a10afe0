"""uvicorn's fast HTTP parser (httptools), with the bound on the request head that it lacks.

httptools buffers a request line and headers of any size (h11 stops at 16 KiB, but is about three
times slower here), so one client could make a connection hold megabytes. This protocol counts
the bytes received while a request head is being read and, past ``MAX_REQUEST_HEAD``, answers
431 and closes the connection. Over-long URLs alone are already refused by httptools (400).
These refusals, and uvicorn's own for requests httptools cannot parse, are problem+json like
every error of Kurz.
"""

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .analytics.geo import PEER_KEY
from .errors import APIError, problem_body
from .security import security_headers

MAX_REQUEST_HEAD = 16 * 1024  # request line and headers, as h11 and common proxies allow


class HeadTooLarge(Exception):
    """Raised from a parser callback: httptools stops, and uvicorn answers a bad request."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    reading_head = False
    too_large = False
    parsed = 0  # bytes of URL and headers parsed in this head
    received = 0  # bytes received while this head was still incomplete: what the parser holds

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.reading_head, self.parsed, self.received = True, 0, 0
        # The connection's peer, which uvicorn's proxy headers replace in "client": whether a
        # proxy's country header is trusted depends on it (analytics.geo).
        self.scope[PEER_KEY] = self.client

    def on_url(self, url: bytes) -> None:
        self.count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.count(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.reading_head = False
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
        # A head spread over many chunks is stopped before it completes (httptools reports a
        # header only once it has all of it).
        if self.reading_head and not self.transport.is_closing():
            self.received += len(data)
            if self.received > MAX_REQUEST_HEAD:
                self.too_large = True
                self.send_400_response("")

    def send_400_response(self, msg: str) -> None:
        """uvicorn's refusal of a request it cannot parse, as problem+json like every error."""
        if self.too_large:
            self.logger.warning("Refused a request head over %d bytes.", MAX_REQUEST_HEAD)
            error = APIError(431, "HEADERS_TOO_LARGE", "Request line and headers are too large.")
        else:
            error = APIError(400, "MALFORMED_REQUEST", "The request is not valid HTTP/1.1.")
        body = problem_body(error)
        headers = [
            *security_headers(False),
            ("Content-Type", "application/problem+json"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ]
        head = "".join(f"{name}: {value}\r\n" for name, value in headers)
        self.transport.write(STATUS_LINE[error.status] + head.encode() + b"\r\n" + body)
        self.transport.close()
