"""Security on a live server: headers on every kind of answer, limits, secrets kept secret."""

import asyncio
import contextlib
import json
import re
import socket
import uuid
from http import HTTPStatus
from unittest.mock import ANY
from urllib.parse import urlsplit

import httpx
import pytest

from ..support import PASSWORD, PROBLEM, assert_problem
from .helpers import BROWSER, client, create_link, create_org, register

HTML = {"Accept": "text/html", "User-Agent": BROWSER}


def answers(server, owner, org_id: str, slug: str, headers: dict | None = None) -> dict:
    """One answer of every kind the service gives, by name."""
    http = client(server.base_url, headers=headers or {}, cookies=owner.http.cookies)
    anonymous = client(server.base_url, headers=headers or {})
    page = http.get("/docs").text
    docs_asset = re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', page)[0]
    ui_asset = re.findall(r'(?:src|href)="(/assets/[^"]+)"', http.get("/").text)[0]
    return {
        "api json": http.get(f"/api/v1/orgs/{org_id}/links"),
        "api created": http.post(
            f"/api/v1/orgs/{org_id}/links", json={"url": "https://a.example"}
        ),
        "api error": anonymous.get("/api/v1/session"),
        "validation error": http.post(f"/api/v1/orgs/{org_id}/links", json={"url": "ftp://x"}),
        "not found": http.get("/api/v1/nope"),
        "method not allowed": http.delete("/healthz"),
        "redirect": anonymous.get(f"/{slug}", follow_redirects=False),
        "redirect head": anonymous.head(f"/{slug}"),
        "unknown slug": anonymous.get("/no-such-slug"),
        "unknown slug html": anonymous.get("/no-such-slug", headers=HTML),
        "html page": anonymous.get("/"),
        "docs": anonymous.get("/docs"),
        "docs asset": anonymous.get(docs_asset),
        "ui asset": anonymous.get(ui_asset),
        "openapi": anonymous.get("/openapi.json"),
        "health": anonymous.get("/healthz"),
        "no content": http.delete(f"/api/v1/orgs/{org_id}/links/{slug}"),
    }


def assert_secure_headers(name: str, response: httpx.Response, https: bool) -> None:
    headers = response.headers
    policy = headers.get("content-security-policy", "")
    assert "default-src 'self'" in policy, (name, headers)
    assert "frame-ancestors 'none'" in policy or headers.get("x-frame-options") == "DENY", name
    assert headers.get("x-frame-options") == "DENY", name
    assert headers.get("x-content-type-options") == "nosniff", name
    assert headers.get("referrer-policy"), name
    if https:
        assert headers.get("strict-transport-security", "").startswith("max-age="), name
    else:
        assert "strict-transport-security" not in headers, name


@pytest.mark.parametrize("https", [False, True], ids=["http", "https behind a proxy"])
def test_every_kind_of_answer_carries_the_security_headers(live_server, https: bool) -> None:
    owner = register(live_server.base_url)
    org_id = create_org(owner)
    slug = create_link(owner.http, org_id)["slug"]
    # uvicorn trusts X-Forwarded-Proto from loopback (the proxy in front), as in production.
    headers = {"X-Forwarded-Proto": "https"} if https else {}
    seen = answers(live_server, owner, org_id, slug, headers)
    expected = {
        "api json": 200,
        "api created": 201,
        "api error": 401,
        "validation error": 400,
        "not found": 404,
        "method not allowed": 405,
        "redirect": 302,
        "redirect head": 302,
        "unknown slug": 404,
        "unknown slug html": 404,
        "html page": 200,
        "docs": 200,
        "docs asset": 200,
        "ui asset": 200,
        "openapi": 200,
        "health": 200,
        "no content": 204,
    }
    assert {name: response.status_code for name, response in seen.items()} == expected
    for name, response in seen.items():
        assert_secure_headers(name, response, https)
        if response.status_code >= 400 and name != "unknown slug html":
            assert response.headers["content-type"].startswith(PROBLEM), name
    assert seen["unknown slug html"].headers["content-type"].startswith("text/html")
    assert "content-type" not in seen["no content"].headers  # no body, so no type


def test_pages_work_under_the_content_security_policy(live_server) -> None:
    """The policy allows scripts and styles from this origin only: no inline code at all."""
    for path in ("/", "/docs"):
        page = httpx.get(live_server.base_url + path).text
        for tag in re.findall(r"<script\b[^>]*>", page):
            assert "src=" in tag, (path, tag)
        assert not re.search(r"<script\b[^>]*>\s*[^<\s]", page), path  # no inline script body
        assert not re.search(r"\son[a-z]+\s*=", page), path  # no inline event handlers
        assert "<style" not in page and " style=" not in page, path
        assert "http://" not in page and "https://" not in page, path  # nothing from elsewhere


def raw_request(base_url: str, request: bytes) -> bytes:
    """Send bytes as they are (no client-side limits), return the answer until the server
    closes the connection, as it does after refusing a request."""
    parts = urlsplit(base_url)
    answer = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as connection:
        connection.sendall(request)
        with contextlib.suppress(ConnectionResetError):
            while chunk := connection.recv(65536):
                answer += chunk
    return answer


def test_limits_on_bodies_urls_headers_and_pages(live_server_factory, database_url) -> None:
    server = live_server_factory(database_url, KURZ_MAX_BODY_BYTES="4096")
    owner = register(server.base_url)
    org_id = create_org(owner)
    links = f"/api/v1/orgs/{org_id}/links"
    big = {"url": "https://example.com/", "title": "x" * 5000}

    # A body over the limit: 413 problem+json, whether its length is announced or not.
    asyncio.run(assert_problem(owner.http.post(links, json=big), 413))
    chunked = owner.http.post(
        links,
        content=iter([json.dumps(big).encode()]),
        headers={"Content-Type": "application/json"},
    )
    asyncio.run(assert_problem(chunked, 413))
    asyncio.run(
        assert_problem(owner.http.post("/api/v1/users", json={**big, "password": "x"}), 413)
    )

    # Overlong request line and headers, and requests that are not HTTP: refused with
    # problem+json, and the server keeps serving.
    host = urlsplit(server.base_url).netloc
    long_url = f"GET /{'a' * 100_000} HTTP/1.1\r\nHost: {host}\r\n\r\n"
    long_header = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Big: {'a' * 100_000}\r\n\r\n"
    header_without_colon = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nNo colon\r\n\r\n"
    for request, status, code in (
        (long_url, 431, "HEADERS_TOO_LARGE"),
        (long_header, 431, "HEADERS_TOO_LARGE"),
        (header_without_colon, 400, "MALFORMED_REQUEST"),
        ("NONSENSE\r\n\r\n", 400, "MALFORMED_REQUEST"),
    ):
        head, _, body = raw_request(server.base_url, request.encode()).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 %d " % status), head
        assert b"\r\nContent-Type: application/problem+json\r\n" in head, head
        assert b"\r\nX-Content-Type-Options: nosniff\r\n" in head, head
        assert json.loads(body) == {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": ANY,
            "code": code,
        }
    assert httpx.get(server.base_url + "/healthz").status_code == 200

    # Pagination is capped.
    for path in (links, f"/api/v1/orgs/{org_id}/audit"):
        assert owner.http.get(path, params={"limit": 100}).status_code == 200
        for limit in (101, 0, -1, "many"):
            asyncio.run(assert_problem(owner.http.get(path, params={"limit": limit}), 400))


def test_secrets_stay_out_of_logs_and_answers(live_server) -> None:
    base_url = live_server.base_url
    answered: list[httpx.Response] = []
    secrets: list[str] = []

    owner = register(base_url)
    secrets += [owner.password, owner.session_cookie]
    answered.append(
        owner.http.post(
            "/api/v1/session", json={"email": owner.email, "password": "Wrong-password-42!"}
        )
    )
    secrets.append("Wrong-password-42!")
    stranger = client(base_url)
    answered.append(
        stranger.post(
            "/api/v1/session", json={"email": "nobody@example.com", "password": PASSWORD}
        )
    )
    org_id = create_org(owner)
    created = owner.http.post(
        f"/api/v1/orgs/{org_id}/tokens", json={"name": "ci", "role": "admin"}
    )
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    secrets.append(token)
    bearer = client(base_url, headers={"Authorization": f"Bearer {token}"})
    answered.append(bearer.get(f"/api/v1/orgs/{org_id}/links"))
    bogus = f"kurz_{uuid.uuid4().hex}"
    secrets.append(bogus)
    answered.append(
        client(base_url, headers={"Authorization": f"Bearer {bogus}"}).get(
            f"/api/v1/orgs/{org_id}/links"
        )
    )
    new_password = "An0ther correct horse battery"
    secrets.append(new_password)
    answered.append(
        owner.http.put(
            "/api/v1/users/me/password",
            json={"current_password": owner.password, "new_password": new_password},
        )
    )
    answered += [
        owner.http.get("/api/v1/session"),
        owner.http.get(f"/api/v1/orgs/{org_id}/tokens"),
        owner.http.get(f"/api/v1/orgs/{org_id}/members"),
        owner.http.get(f"/api/v1/orgs/{org_id}/audit"),
        owner.http.get("/api/v1/orgs"),
    ]
    assert answered[2].status_code == 200 and answered[3].status_code == 401

    log = live_server.log()
    for secret in secrets:
        assert secret not in log, f"a secret is in the server log: {secret[:6]}..."
    assert "$2b$" not in log
    for response in answered:
        text = response.text
        assert "$2b$" not in text and "password_hash" not in text and "secret_hash" not in text
        assert token not in text and owner.password not in text and new_password not in text
    assert all("token" not in item for item in answered[-4].json()["items"])
