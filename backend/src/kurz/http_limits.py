"""uvicorn's fast HTTP parser (httptools), with the bound on the request head that it lacks.

httptools buffers a request line and headers of any size (h11 stops at 16 KiB, but is about three
times slower here), so one client could make a connection hold megabytes. This protocol counts
the bytes received while a request head is being read and, past ``MAX_REQUEST_HEAD``, answers
431 and closes the connection. Over-long URLs alone are already refused by httptools (400).
"""

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .security import security_headers

MAX_REQUEST_HEAD = 16 * 1024  # request line and headers, as h11 and common proxies allow
REFUSAL = b"Request line and headers are too large."


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
        if not self.too_large:
            super().send_400_response(msg)
            return
        self.logger.warning("Refused a request head over %d bytes.", MAX_REQUEST_HEAD)
        headers = [
            *security_headers(False),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(REFUSAL))),
            ("Connection", "close"),
        ]
        head = "".join(f"{name}: {value}\r\n" for name, value in headers)
        self.transport.write(STATUS_LINE[431] + head.encode() + b"\r\n" + REFUSAL)
        self.transport.close()
