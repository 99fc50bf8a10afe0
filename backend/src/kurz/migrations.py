"""Forward-only migrations: ``backend/db/N.py`` files, each ``async def migrate(db) -> None``.

The applied version lives in the single-row ``schema_migration`` table (-1 before any file ran).
Each file and its version bump commit in one transaction, and the whole run holds an advisory
lock, so several instances starting at once on one database apply every file exactly once.
Everything lives in the installation's schema (``KURZ_DB_SCHEMA``, created if missing), which
the pool's connections search alone; the extensions Kurz uses live in the schema they are in
already, or else in ``public``, so that dropping one installation's schema leaves the others
(whose indexes use them too) intact.

Also a command line: ``pdm run migrate`` applies what is pending and prints it;
``pdm run migrate --status`` prints the version and the pending files.
"""

import argparse
import asyncio
import importlib.util
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import asyncpg
from databases import Database
from databases.core import Connection

from .config import MIGRATIONS_DIR, Settings, StartupError
from .database import SCHEMA_LOCKS, connection_settings, fetch_row, quote_identifier

# An arbitrary constant naming Kurz's migration lock among the database's advisory locks: alone,
# the lock on what installations share (schemas, extensions); with SCHEMA_LOCKS, the lock of an
# installation's migrations.
LOCK_KEY = 0x4B55525A
EXTENSIONS = ("pg_trgm",)
# The oldest PostgreSQL with every feature that Kurz's migrations and queries use.
MIN_SERVER_VERSION = 150_000

Migrate = Callable[[Connection], Coroutine[Any, Any, None]]


class MigrationError(StartupError):
    """The migrations cannot run or failed; the message names the cause."""


def check_server_version(version_num: int, version: str) -> None:
    """Refuse a PostgreSQL too old for Kurz (its server_version_num and server_version)."""
    if version_num < MIN_SERVER_VERSION:
        raise MigrationError(f"Kurz needs PostgreSQL 15 or later; this server is {version}")


def migration_files(directory: Path = MIGRATIONS_DIR) -> dict[int, Path]:
    """The numbered files, refusing gaps (0, 1, 3 means 2 was lost)."""
    files = {int(path.stem): path for path in directory.glob("*.py") if path.stem.isdigit()}
    expected = set(range(len(files)))
    if set(files) != expected:
        missing = sorted(expected - set(files)) or sorted(set(files) - expected)
        raise MigrationError(f"migration files in {directory} have a gap near {missing}")
    return files


def latest_version(directory: Path = MIGRATIONS_DIR) -> int:
    return len(migration_files(directory)) - 1


def _load(path: Path) -> Migrate:
    spec = importlib.util.spec_from_file_location(f"kurz_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    migrate: Migrate = module.migrate
    return migrate


async def _ensure_version_table(connection: Connection) -> None:
    await connection.execute("""CREATE TABLE IF NOT EXISTS schema_migration (
               onerow_id BOOL PRIMARY KEY DEFAULT TRUE CHECK (onerow_id),
               version INTEGER NOT NULL
           )""")
    await connection.execute(
        "INSERT INTO schema_migration (version) VALUES (-1) ON CONFLICT DO NOTHING"
    )


async def _prepare_schema(connection: Connection, schema: str) -> str:
    """Create ``schema`` and the extensions if missing; return the search path migrations run
    with: the schema, then the schemas of the extensions."""
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(:key)", {"key": LOCK_KEY})
        exists = await connection.fetch_val(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = :schema)",
            {"schema": schema},
        )
        if not exists:
            try:
                await connection.execute(f"CREATE SCHEMA {quote_identifier(schema)}")
            except asyncpg.InsufficientPrivilegeError as error:
                raise MigrationError(
                    f"the schema {schema!r} (KURZ_DB_SCHEMA) does not exist and this role may not "
                    f"create it ({error}); create it for the role, or grant it CREATE on the "
                    "database"
                ) from None
        for extension in EXTENSIONS:
            try:
                await connection.execute(
                    f"CREATE EXTENSION IF NOT EXISTS {extension} SCHEMA public"
                )
            except asyncpg.InsufficientPrivilegeError as error:
                raise MigrationError(
                    f"the PostgreSQL extension {extension} is not installed and this role may "
                    f"not create it ({error}); have the database owner run "
                    f"CREATE EXTENSION {extension}"
                ) from None
        schemas = await connection.fetch_all(
            """SELECT DISTINCT quote_ident(nspname) AS name FROM pg_extension
                 JOIN pg_namespace ON pg_namespace.oid = extnamespace
                WHERE extname = ANY(:extensions) AND nspname <> :schema""",
            {"extensions": list(EXTENSIONS), "schema": schema},
        )
    return ", ".join([quote_identifier(schema), *(row["name"] for row in schemas)])


async def select_version(connection: Connection | Database) -> int:
    """The applied version, -1 when no migration ever ran."""
    exists = await connection.fetch_val("SELECT to_regclass('schema_migration') IS NOT NULL")
    if not exists:
        return -1
    version: int = await connection.fetch_val("SELECT version FROM schema_migration")
    return version


async def migrate(
    db: Database, directory: Path = MIGRATIONS_DIR, schema: str = "public"
) -> list[Path]:
    """Apply every pending file in order, in ``schema`` (which ``db``'s connections search);
    return the files applied."""
    files = migration_files(directory)
    applied = []
    async with db.connection() as connection:
        server = await fetch_row(
            connection,
            """SELECT current_setting('server_version_num')::INTEGER AS version_num,
                      current_setting('server_version') AS version""",
        )
        check_server_version(server["version_num"], server["version"])
        search_path = await _prepare_schema(connection, schema)
        lock = {"key": LOCK_KEY}
        await connection.execute(f"SELECT pg_advisory_lock({SCHEMA_LOCKS}, :key)", lock)
        try:
            await _ensure_version_table(connection)
            version = await select_version(connection)
            if version > len(files) - 1:
                raise MigrationError(
                    f"the database is at migration {version}, newer than this code's latest "
                    f"({len(files) - 1} in {directory}); refusing to run older code against it"
                )
            for number in range(version + 1, len(files)):
                path = files[number]
                try:
                    async with connection.transaction():
                        await connection.execute(
                            "SELECT set_config('search_path', :path, true)", {"path": search_path}
                        )
                        await _load(path)(connection)
                        await connection.execute(
                            "UPDATE schema_migration SET version = :version",
                            {"version": number},
                        )
                except Exception as error:
                    raise MigrationError(
                        f"migration {path.name} failed and was rolled back: "
                        f"{type(error).__name__}: {error}"
                    ) from error
                applied.append(path)
        finally:
            await connection.execute(f"SELECT pg_advisory_unlock({SCHEMA_LOCKS}, :key)", lock)
    return applied


async def migrate_url(url: str, schema: str = "public") -> list[Path]:
    """``migrate`` on a pool of its own for the database at ``url`` (tests, the benchmark)."""
    db = Database(url, server_settings=connection_settings(schema))
    await db.connect()
    try:
        return await migrate(db, schema=schema)
    finally:
        await db.disconnect()


async def _main(status_only: bool) -> None:
    from .database import connect, database_url

    settings = Settings.from_env()
    db = await connect(database_url(settings), settings)
    try:
        if status_only:
            version = await select_version(db)
            pending = [p.name for n, p in sorted(migration_files().items()) if n > version]
            print(f"version: {version}")
            print(f"pending: {', '.join(pending) if pending else 'none'}")
        else:
            applied = await migrate(db, schema=settings.db_schema)
            for path in applied:
                print(f"applied {path.name}")
            print(f"at version {await select_version(db)}")
    finally:
        await db.disconnect()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="migrate", description=__doc__.splitlines()[0])
    parser.add_argument("--status", action="store_true", help="show version and pending files")
    args = parser.parse_args(argv)
    try:
        asyncio.run(_main(args.status))
    except StartupError as error:
        sys.exit(f"migrate: {error}")


if __name__ == "__main__":
    main()
