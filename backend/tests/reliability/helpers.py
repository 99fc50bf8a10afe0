"""Acting on live servers over real HTTP, from plain (synchronous) test code."""

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import asyncpg
import httpx

from ..support import PASSWORD

T = TypeVar("T")
# Clicks from browsers count; this one is not a known bot.
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


@dataclass
class User:
    id: str
    email: str
    password: str
    http: httpx.Client  # logged in: carries the session cookie

    @property
    def session_cookie(self) -> str:
        return self.http.cookies["kurz_session"]


def client(base_url: str, **options) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=options.pop("timeout", 10), **options)


def register(base_url: str, password: str = PASSWORD) -> User:
    """A new user, logged in."""
    email = f"user-{uuid.uuid4().hex[:10]}@example.com"
    http = client(base_url)
    response = http.post("/api/v1/users", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    response = http.post("/api/v1/session", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return User(id=response.json()["id"], email=email, password=password, http=http)


def create_org(user: User, name: str = "Acme") -> str:
    response = user.http.post("/api/v1/orgs", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def create_link(http: httpx.Client, org_id: str, **fields) -> dict:
    fields.setdefault("url", f"https://example.com/{uuid.uuid4().hex}")
    response = http.post(f"/api/v1/orgs/{org_id}/links", json=fields)
    assert response.status_code == 201, response.text
    return response.json()


def create_token(user: User, org_id: str, role: str = "admin") -> str:
    response = user.http.post(
        f"/api/v1/orgs/{org_id}/tokens", json={"name": f"{role} token", "role": role}
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]


def visit(http: httpx.Client, slug: str) -> httpx.Response:
    """GET /<slug> as a browser would (the click counts), without following the redirect."""
    return http.get(f"/{slug}", headers={"User-Agent": BROWSER}, follow_redirects=False)


def wait_for(check: Callable[[], T], timeout: float, interval: float = 0.1) -> T:
    """Call ``check`` until it returns something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s: last {value!r}")
        time.sleep(interval)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def query_value(database_url: str, sql: str, *arguments):
    """One value from the database, straight over SQL (for what the API cannot show)."""

    async def fetch():
        connection = await asyncpg.connect(database_url)
        try:
            return await connection.fetchval(sql, *arguments)
        finally:
            await connection.close()

    return asyncio.run(fetch())
