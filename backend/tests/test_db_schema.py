"""Installations in schemas of their own (KURZ_DB_SCHEMA), sharing one database."""

import asyncio
import os
import subprocess
import sys
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from kurz.config import ConfigError, Settings
from kurz.database import SCHEMA_LOCKS, connection_settings, links_channel, quote_identifier
from kurz.migrations import LOCK_KEY, MigrationError, latest_version, migrate_url

from .reliability.helpers import create_link, create_org, register, visit, wait_for
from .support import BACKEND_DIR, run_admin

PROD = "Kurz Prod"


def run(coroutine):
    return asyncio.run(coroutine)


async def connect(url: str, schema: str = "public") -> asyncpg.Connection:
    return await asyncpg.connect(url, server_settings=connection_settings(schema))


# --- the name --------------------------------------------------------------------------------


def test_the_schema_is_public_unless_set() -> None:
    assert Settings.from_env({}).db_schema == "public"
    assert Settings.from_env({"KURZ_DB_SCHEMA": PROD}).db_schema == PROD
    assert Settings.from_env({"KURZ_DB_SCHEMA": "kürz_1"}).db_schema == "kürz_1"


@pytest.mark.parametrize(
    "name",
    ["", 'kurz"; DROP SCHEMA public; --', "kurz\x00", "a\nb", "pg_kurz", "PG_TEMP",
     "information_schema", "x" * 64, "é" * 32],
)  # fmt: skip
def test_a_hostile_or_reserved_schema_name_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="KURZ_DB_SCHEMA"):
        Settings.from_env({"KURZ_DB_SCHEMA": name})


def test_names_are_quoted_and_channels_fit_postgresql() -> None:
    assert quote_identifier(PROD) == '"Kurz Prod"'
    assert quote_identifier("public") == '"public"'
    assert connection_settings(PROD) == {"search_path": '"Kurz Prod"'}
    channels = {links_channel(name) for name in ("public", PROD, "kurz prod", "x" * 63)}
    assert len(channels) == 4
    assert all(len(channel.encode()) <= 63 for channel in channels)


# --- against a real database -----------------------------------------------------------------


async def test_each_schema_takes_its_own_advisory_locks(fresh_database) -> None:
    url = fresh_database()
    # At once, on a database without the extension: one creates it, neither fails.
    applied = await asyncio.gather(migrate_url(url, "alpha"), migrate_url(url, PROD))
    assert [len(files) for files in applied] == [latest_version() + 1] * 2
    holder, same, other = await connect(url, "alpha"), await connect(url, "alpha"), None
    try:
        other = await connect(url, PROD)
        lock = f"SELECT pg_advisory_lock({SCHEMA_LOCKS}, $1)"
        try_lock = f"SELECT pg_try_advisory_lock({SCHEMA_LOCKS}, $1)"
        await holder.execute(lock, LOCK_KEY)
        assert await same.fetchval(try_lock, LOCK_KEY) is False
        assert await other.fetchval(try_lock, LOCK_KEY) is True
    finally:
        for connection in (holder, same, other):
            if connection is not None:
                await connection.close()


async def test_link_changes_notify_the_channel_of_their_schema(fresh_database) -> None:
    url = fresh_database()
    for schema in ("public", PROD):
        await migrate_url(url, schema)
    listener, writer = await connect(url), await connect(url, PROD)
    heard: asyncio.Queue = asyncio.Queue()
    try:

        def hear(_connection, _pid, channel: str, slug: str) -> None:
            heard.put_nowait((channel, slug))

        for schema in ("public", PROD):
            await listener.add_listener(links_channel(schema), hear)
        org_id = await writer.fetchval("INSERT INTO orgs (name) VALUES ('Acme') RETURNING id")
        await writer.execute(
            "INSERT INTO links (org_id, slug, url) VALUES ($1, 'in-prod', 'https://e.example/')",
            org_id,
        )
        assert await asyncio.wait_for(heard.get(), 5) == (links_channel(PROD), "in-prod")
        # The one in public: the same trigger there names its own channel.
        public = await connect(url)
        try:
            org_id = await public.fetchval("INSERT INTO orgs (name) VALUES ('A') RETURNING id")
            await public.execute(
                "INSERT INTO links (org_id, slug, url) VALUES ($1, 'in-public', 'https://e.example/')",
                org_id,
            )
        finally:
            await public.close()
        assert await asyncio.wait_for(heard.get(), 5) == (links_channel("public"), "in-public")
    finally:
        await listener.close()
        await writer.close()


async def test_a_role_that_may_not_create_the_schema_gets_a_clear_error(
    fresh_database, postgres_url
) -> None:
    url = fresh_database()
    role = f"kurz_limited_{uuid.uuid4().hex[:8]}"
    run_admin(postgres_url, f'CREATE ROLE "{role}" LOGIN')
    try:
        parts = urlsplit(url)
        as_role = urlunsplit(parts._replace(netloc=f"{role}@{parts.netloc.rpartition('@')[2]}"))
        with pytest.raises(MigrationError, match="does not exist and this role may not create"):
            await migrate_url(as_role, "tenant")
    finally:
        run_admin(url, f'DROP OWNED BY "{role}"')
        run_admin(postgres_url, f'DROP ROLE "{role}"')


def test_migrate_command_honours_the_schema_and_refuses_a_hostile_one(fresh_database) -> None:
    url = fresh_database()

    def migrate(schema: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "DATABASE_URL": url, "KURZ_DB_SCHEMA": schema}
        return subprocess.run(
            [sys.executable, "-m", "kurz.migrations"],
            env=env,
            cwd=BACKEND_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )

    result = migrate(PROD)
    assert result.returncode == 0, result.stderr
    assert f"at version {latest_version()}" in result.stdout

    async def tables() -> dict[str, int]:
        connection = await connect(url)
        try:
            rows = await connection.fetch(
                "SELECT table_schema, count(*) FROM information_schema.tables "
                "WHERE table_schema IN ('public', $1) GROUP BY table_schema",
                PROD,
            )
            return {row[0]: row[1] for row in rows}
        finally:
            await connection.close()

    assert set(run(tables())) == {PROD}

    result = migrate('x"; DROP SCHEMA "Kurz Prod" CASCADE; --')
    assert result.returncode != 0
    assert result.stderr.strip().startswith("migrate: KURZ_DB_SCHEMA must not contain")
    assert set(run(tables())) == {PROD}


# --- two installations, two live servers, one database -------------------------------------


def test_two_installations_share_a_database_without_seeing_each_other(
    fresh_database, live_server_factory
) -> None:
    url = fresh_database()
    alpha = live_server_factory(url, KURZ_DB_SCHEMA="alpha")
    prod = live_server_factory(url, KURZ_DB_SCHEMA=PROD)
    orgs, users = {}, {}
    for name, server, own in (("alpha", alpha, "only-a"), (PROD, prod, "only-k")):
        user = users[name] = register(server.base_url)
        orgs[name] = create_org(user)
        # The same slug in both, to different places; and one of each's own.
        create_link(user.http, orgs[name], slug="shared", url=f"https://{own}.example/")
        create_link(user.http, orgs[name], slug=own)

    assert visit(users["alpha"].http, "shared").headers["Location"] == "https://only-a.example/"
    assert visit(users[PROD].http, "shared").headers["Location"] == "https://only-k.example/"
    assert visit(users["alpha"].http, "only-k").status_code == 404
    assert visit(users[PROD].http, "only-a").status_code == 404

    # Clicks: each counts its own.
    for _ in range(3):
        assert visit(users["alpha"].http, "only-a").status_code == 302
    assert visit(users[PROD].http, "only-k").status_code == 302

    def clicks(name: str, slug: str) -> int:
        response = users[name].http.get(f"/api/v1/orgs/{orgs[name]}/links/{slug}")
        assert response.status_code == 200, response.text
        return response.json()["clicks"]

    assert wait_for(lambda: clicks("alpha", "only-a") == 3, 10)
    assert clicks(PROD, "only-k") == 1
    # Both "shared" links were visited once each, on their own server.
    assert clicks("alpha", "shared") == 1
    assert clicks(PROD, "shared") == 1

    # An edit on one does not evict the other's cache: make the prod server's cached "shared"
    # stale behind its back (no trigger), edit alpha's "shared", then change a marker link in
    # prod that prod hears of; once it has, it has heard whatever alpha's edit sent it too.
    async def change_behind_prods_back() -> None:
        connection = await connect(url, PROD)
        try:
            async with connection.transaction():
                await connection.execute("SET LOCAL session_replication_role = replica")
                await connection.execute(
                    "UPDATE links SET url = 'https://stale.example/' WHERE slug = 'shared'"
                )
        finally:
            await connection.close()

    async def change_marker() -> None:
        connection = await connect(url, PROD)
        try:
            await connection.execute(
                "UPDATE links SET url = 'https://marker.example/' WHERE slug = 'only-k'"
            )
        finally:
            await connection.close()

    run(change_behind_prods_back())
    response = users["alpha"].http.patch(
        f"/api/v1/orgs/{orgs['alpha']}/links/shared", json={"url": "https://a2.example/"}
    )
    assert response.status_code == 200, response.text
    run(change_marker())
    wait_for(
        lambda: visit(users[PROD].http, "only-k").headers["Location"] == "https://marker.example/",
        10,
    )
    assert visit(users[PROD].http, "shared").headers["Location"] == "https://only-k.example/"
    assert visit(users["alpha"].http, "shared").headers["Location"] == "https://a2.example/"

    # Dropping one installation's schema leaves the other whole.
    alpha.stop()
    run_admin(url, 'DROP SCHEMA "alpha" CASCADE')
    org_k = orgs[PROD]
    created = create_link(users[PROD].http, org_k, slug="after-drop")
    assert visit(users[PROD].http, created["slug"]).status_code == 302
    found = users[PROD].http.get(f"/api/v1/orgs/{org_k}/links", params={"q": "marker"})
    assert found.status_code == 200, found.text
    assert [link["slug"] for link in found.json()["items"]] == ["only-k"]

    async def prod_state() -> tuple:
        connection = await connect(url, PROD)
        try:
            return (
                await connection.fetchval("SELECT version FROM schema_migration"),
                await connection.fetchval("SELECT to_regclass('links_search_idx') IS NOT NULL"),
                await connection.fetchval(
                    "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'"
                ),
            )
        finally:
            await connection.close()

    assert run(prod_state()) == (latest_version(), True, 1)


async def test_migrations_find_an_extension_installed_in_another_schema(fresh_database) -> None:
    url = fresh_database()
    run_admin(url, "CREATE SCHEMA extensions", "CREATE EXTENSION pg_trgm SCHEMA extensions")
    await migrate_url(url, PROD)
    connection = await connect(url, PROD)
    try:
        assert await connection.fetchval("SELECT version FROM schema_migration") == (
            latest_version()
        )
        index = await connection.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'links_search_idx'"
        )
        assert "extensions.gin_trgm_ops" in index
        extension_schema = await connection.fetchval(
            "SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'pg_trgm'"
        )
        assert str(extension_schema) == "extensions"
    finally:
        await connection.close()
