"""Overload on a live server: floods of password checks, and slow or idle clients."""

import asyncio
import json
import os
import socket
import uuid
from urllib.parse import urlsplit

import httpx

from tests.support import assert_problem

from .helpers import register, wait_for

# Well beyond what a worker admits (a hash per CPU, eight times as many waiting).
LOGINS = len(os.sched_getaffinity(0)) * 10 + 40


async def test_a_flood_of_logins_is_bounded_and_other_calls_stay_fast(live_server) -> None:
    user = register(live_server.base_url)
    limits = httpx.Limits(max_connections=LOGINS + 10)
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=60, limits=limits) as http:

        async def login() -> httpx.Response:
            body = {"email": f"{uuid.uuid4().hex}@example.com", "password": "wrong password"}
            return await http.post("/api/v1/session", json=body)

        logins = [asyncio.create_task(login()) for _ in range(LOGINS)]
        # Once the first BUSY is back the flood is in, and most hashes are still to come.
        busy = None
        for finished in asyncio.as_completed(logins):
            response = await finished
            if response.status_code == 503:
                busy = response
                break
        assert busy is not None, "no login was refused as BUSY"
        answer = await http.get("/api/v1/session", cookies={"kurz_session": user.session_cookie})
        pending_after_call = sum(not task.done() for task in logins)
        responses = await asyncio.gather(*logins)

    assert answer.status_code == 200 and answer.json()["email"] == user.email
    assert pending_after_call > 0  # the normal call was answered while logins still queued
    await assert_problem(busy, 503, "BUSY")
    assert int(busy.headers["retry-after"]) >= 1
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {401, 503}, statuses
    assert statuses.count(401) >= 2  # the admitted ones were checked, as usual
    for response in responses:
        if response.status_code == 503:
            await assert_problem(response, 503, "BUSY")


def raw_connection(server) -> socket.socket:
    parts = urlsplit(server.base_url)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=30)
    return connection


def read_all(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def problem_of(answer: bytes) -> tuple[int, dict, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, json.loads(body)


def test_slow_and_idle_clients_are_cut_off_others_get_through(live_server_factory, database_url):
    server = live_server_factory(
        database_url, KURZ_REQUEST_HEAD_TIMEOUT="1", KURZ_IDLE_TIMEOUT="1"
    )
    idle = raw_connection(server)
    slow = raw_connection(server)
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: kurz.test\r\n")
    slow.settimeout(0.2)
    answer = b""
    for _ in range(300):  # a header every 0.2 s: the head never completes
        try:
            chunk = slow.recv(65536)
        except TimeoutError:
            try:
                slow.sendall(b"X-Slow: still coming\r\n")
            except OSError:  # closed meanwhile
                break
            continue
        if not chunk:
            break
        answer += chunk
    else:
        raise AssertionError("the slow client was never cut off")
    status, headers, body = problem_of(answer)
    assert status == 408 and body["code"] == "REQUEST_TIMEOUT"
    assert headers["content-type"] == "application/problem+json"
    assert read_all(idle) == b""  # closed without a word
    with httpx.Client(base_url=server.base_url) as http:
        response = http.get("/healthz")
    assert response.status_code == 200
    assert "server" not in response.headers  # no banner naming the software
    log = server.log()
    assert "request head was not complete" in log
    assert "sent no request in time" in log


def test_connections_beyond_the_bound_are_answered_503(live_server_factory, database_url):
    server = live_server_factory(database_url, KURZ_MAX_CONNECTIONS="4", KURZ_IDLE_TIMEOUT="60")
    held = [raw_connection(server) for _ in range(4)]
    extra = raw_connection(server)
    extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: kurz.test\r\n\r\n")
    status, headers, body = problem_of(read_all(extra))
    assert status == 503 and body["code"] == "BUSY"
    assert headers["content-type"] == "application/problem+json"
    assert int(headers["retry-after"]) >= 1
    assert "over 4 connections" in server.log()
    for connection in held:
        connection.close()
    with httpx.Client(base_url=server.base_url) as http:
        assert wait_for(lambda: http.get("/healthz").status_code == 200, timeout=10)
