"""SIGTERM under load: requests in flight finish, buffered clicks are written, exit code 0."""

import json
import signal
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from .helpers import client, create_link, create_org, query_value, register, visit


@dataclass
class SlowRequest:
    """A request whose body is still on its way: headers and half the body are sent."""

    connection: socket.socket
    rest: bytes

    @classmethod
    def start(cls, base_url: str, path: str, cookie: str, body: dict) -> "SlowRequest":
        data = json.dumps(body).encode()
        parts = urlsplit(base_url)
        connection = socket.create_connection((parts.hostname, parts.port), timeout=30)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            f"Cookie: kurz_session={cookie}\r\n\r\n"
        )
        connection.sendall(head.encode() + data[: len(data) // 2])
        return cls(connection, data[len(data) // 2 :])

    def finish(self) -> str:
        """Send the rest of the body; the whole answer."""
        self.connection.sendall(self.rest)
        answer = b""
        while chunk := self.connection.recv(65536):
            answer += chunk
        self.connection.close()
        return answer.decode(errors="replace")


def test_sigterm_finishes_requests_in_flight_and_flushes_every_click(
    live_server_factory, database_url
) -> None:
    # Clicks stay in the buffer until the shutdown flush, which is what is under test.
    server = live_server_factory(database_url, KURZ_CLICK_FLUSH_SECONDS="60")
    owner = register(server.base_url)
    org_id = create_org(owner)
    slugs = [create_link(owner.http, org_id)["slug"] for _ in range(3)]

    redirects: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    stop = threading.Event()

    def load(number: int) -> None:
        # One connection per request, as many independent browsers would: a request is either
        # answered in full or refused at connect once the server stops listening.
        while not stop.is_set():
            slug = slugs[number % len(slugs)]
            try:
                with client(server.base_url) as http:
                    response = visit(http, slug)
            except httpx.TransportError:
                if server.process.poll() is not None:
                    return
                continue
            statuses[response.status_code] += 1
            if response.status_code == 302:
                redirects[slug] += 1

    workers = [threading.Thread(target=load, args=(number,)) for number in range(6)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(1.5)
        in_flight = SlowRequest.start(
            server.base_url,
            f"/api/v1/orgs/{org_id}/links",
            owner.session_cookie,
            {"url": "https://example.com/sent-during-shutdown", "slug": "in-flight"},
        )
        time.sleep(0.3)  # the server has read the headers and waits for the body
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        answer = in_flight.finish()
        exit_code = server.process.wait(30)
    finally:
        stop.set()
        for worker in workers:
            worker.join(10)

    assert exit_code == 0, server.log()
    assert answer.startswith("HTTP/1.1 201"), answer
    assert statuses and all(status < 500 for status in statuses), statuses
    assert sum(redirects.values()) > 10, statuses  # there was load when the signal came
    for slug in slugs:
        stored = query_value(
            database_url,
            "SELECT count(*) FROM clicks JOIN links ON links.id = link_id WHERE slug = $1",
            slug,
        )
        assert stored == redirects[slug], (slug, stored, redirects[slug])
    assert query_value(database_url, "SELECT url FROM links WHERE slug = 'in-flight'")
    assert "Traceback" not in server.log(), server.log()
