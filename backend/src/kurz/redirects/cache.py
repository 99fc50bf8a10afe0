"""The in-process slug -> link cache behind every redirect, and its invalidation across instances.

``LinkCache`` holds what a redirect needs (id, Location, status, expiry, disabled, and the
link controls: password hash, whether clicks are limited, expired URL, rules) for up to
``max_entries`` slugs, least recently used out first, and remembers unknown slugs briefly too
(so probing random slugs does not cost a query each). A miss costs one query, on a small asyncpg
pool of the cache's own (``open()``); concurrent misses of one slug share it.

Branded domains: ``domains`` maps each verified hostname to its domain, and a link on one is
keyed ``<domain_id>/<slug>`` (default-domain links by their slug alone). A change of any domain
NOTIFYs ``#domains``, upon which every instance reads the verified hostnames again.

Freshness: a trigger on ``links`` NOTIFYs the installation's channel (``links_channel``) with
the key on every change that affects a redirect, including the cascade when an org is deleted
('*' for bulk changes). ``LinkListener`` LISTENs on a dedicated asyncpg connection and evicts
what it is told, so every instance sees an edit within milliseconds of its commit. The instance
making a change also evicts at once, without waiting for the round trip. When the listener
(re)connects it clears the cache, since it may have missed notifications while away; while it
is away it retries every second at most. Entries also expire after ``ttl`` seconds: a safety
net, kept long because with working sets of 100,000s of links a short TTL would turn a large
share of redirects into queries.

Expiry times are kept in the entry and compared on every hit, so a cached link answers 410 the
moment it expires.

Entries are stored as tuples of numbers and strings (rules: tuples of those), which CPython's
garbage collector stops tracking; 100,000 cached links then add nothing to the pauses of its
full collections (objects would: about 100 ms each on this machine, felt by every redirect
waiting meanwhile).
"""

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from dataclasses import astuple, dataclass
from typing import Any

import asyncpg
from werkzeug.urls import iri_to_uri

from ..background import cancel_and_wait
from ..database import UNAVAILABLE_ERRORS, connection_settings
from ..models.domains import ServedDomain, select_served_domains
from ..models.links import RedirectTarget, select_redirect
from .rules import Rule, cached_rules

log = logging.getLogger(__name__)

# What ends a LISTEN connection: the database gone, or a query of it refused.
LISTEN_ERRORS: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, asyncpg.PostgresError)
CLEAR_ALL = "*"  # never a slug
DOMAINS_CHANGED = "#domains"  # never a slug either


# Not frozen: a frozen dataclass sets each field through object.__setattr__, several times the
# cost of plain slots, and every cache hit builds one.
@dataclass(slots=True)
class CachedLink:
    id: int
    status: int
    location: str  # ASCII (IDNA host, percent-encoded path): safe in a header as is
    expires_at: float | None  # Unix time
    disabled: bool
    password_hash: str | None = None  # also what the link's unlock cookies are signed with
    limited: bool = False  # has max_clicks: each human redirect takes one in the database
    expired_location: str | None = None  # instead of 410 once expired, disabled or used up
    rules: tuple[Rule, ...] = ()
    plain: bool = True  # no password, limit or rules: the fast path answers it as it is

    @classmethod
    def of(cls, target: RedirectTarget) -> "CachedLink":
        limited = target.max_clicks is not None
        expired = target.expired_url
        rules = cached_rules([{**rule, "url": iri_to_uri(rule["url"])} for rule in target.rules])
        return cls(
            id=target.id,
            status=target.redirect_status,
            location=iri_to_uri(target.url),
            expires_at=None if target.expires_at is None else target.expires_at.timestamp(),
            disabled=target.disabled,
            password_hash=target.password_hash,
            limited=limited,
            expired_location=None if expired is None else iri_to_uri(expired),
            rules=rules,
            plain=target.password_hash is None and not limited and not rules,
        )

    def active(self, now: float) -> bool:
        return not self.disabled and (self.expires_at is None or self.expires_at > now)


class LinkCache:
    """One per process, in ``services(app).link_cache``."""

    def __init__(
        self, max_entries: int = 100_000, ttl: float = 300.0, negative_ttl: float = 5.0
    ) -> None:
        self.max_entries = max_entries
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        # slug -> (fresh until on the monotonic clock, *the link's fields), or (fresh until,)
        # for "no such slug"
        self._entries: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
        self._loading: dict[str, asyncio.Future[CachedLink | None]] = {}
        # Bumped by every eviction: a lookup that raced with one must not store what it read.
        self._generation = 0
        self.pool: asyncpg.Pool | None = None  # None until open(): lookups are not possible
        # Verified branded hostnames; empty on most installations, which then never look at
        # the Host header.
        self.domains: dict[str, ServedDomain] = {}
        self._domains_read = 0  # load_domains() calls started; a slower, older one must not win
        self._domains_stored = 0

    async def open(
        self, dsn: str, *, schema: str, max_size: int = 4, query_seconds: float = 5.0
    ) -> None:
        """Open the pool for misses (it reconnects by itself after an outage)."""
        self.pool = await asyncpg.create_pool(
            dsn,
            min_size=1,
            max_size=max_size,
            timeout=query_seconds,
            command_timeout=query_seconds,
            server_settings=connection_settings(schema),
        )

    async def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            await pool.close()

    def __len__(self) -> int:
        return len(self._entries)

    async def lookup(self, slug: str, domain_id: int | None = None) -> CachedLink | None:
        """The link named ``slug`` on the default domain (any org) or on the branded domain
        ``domain_id``, or None when there is none (needs ``open()``)."""
        # The key the database's notifications name (db/10.py).
        key = slug if domain_id is None else f"{domain_id}/{slug}"
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            self._entries.move_to_end(key)
            return CachedLink(*entry[1:]) if len(entry) > 1 else None
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._load(key, slug, domain_id))
            loading.add_done_callback(lambda done: self._loaded(key, done))
        # Shielded: one waiter giving up (client gone) must not cancel the others' query.
        return await asyncio.shield(loading)

    async def _load(self, key: str, slug: str, domain_id: int | None) -> CachedLink | None:
        generation = self._generation
        assert self.pool is not None, "open() the cache first"
        target = await select_redirect(self.pool, slug, domain_id)
        link = None if target is None else CachedLink.of(target)
        if generation == self._generation:
            ttl = self.ttl if link is not None else self.negative_ttl
            fields = () if link is None else astuple(link)
            self._entries[key] = (time.monotonic() + ttl, *fields)
            self._entries.move_to_end(key)
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return link

    def served_domain(self, host: str) -> ServedDomain | None:
        """The verified branded domain a ``Host`` header names, or None (the default domain)."""
        if not self.domains:
            return None
        return self.domains.get(host.partition(":")[0].rstrip(".").lower())

    async def load_domains(self) -> None:
        """Read the verified hostnames afresh (after a change, and when the listener connects)."""
        self._domains_read += 1
        started = self._domains_read
        assert self.pool is not None, "open() the cache first"
        domains = await select_served_domains(self.pool)
        if started > self._domains_stored:
            self.domains, self._domains_stored = domains, started

    def _loaded(self, slug: str, done: asyncio.Future[CachedLink | None]) -> None:
        if self._loading.get(slug) is done:
            del self._loading[slug]
        if not done.cancelled():
            done.exception()  # retrieved here, so that a failure nobody awaited is not logged

    def evict(self, slug: str) -> None:
        self._generation += 1
        self._entries.pop(slug, None)
        self._loading.pop(slug, None)  # later lookups must not join a read from before

    def forget(self, slug: str, domain_id: int | None) -> None:
        """Evict a link named by its slug and domain."""
        self.evict(slug if domain_id is None else f"{domain_id}/{slug}")

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._loading.clear()


class LinkListener:
    """LISTENs for link changes and evicts them from ``cache``; reconnects on its own."""

    def __init__(
        self,
        cache: LinkCache,
        dsn: str,
        *,
        channel: str,
        max_retry_delay: float = 1.0,
        health_interval: float = 10.0,
    ) -> None:
        self.cache = cache
        self.dsn = dsn
        self.channel = channel
        self.max_retry_delay = max_retry_delay
        self.health_interval = health_interval
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kurz-link-listener")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def _notified(self, _connection: object, _pid: int, _channel: str, payload: object) -> None:
        key = str(payload)  # asyncpg passes NOTIFY payloads as text
        if key == CLEAR_ALL:
            self.cache.clear()
        elif key == DOMAINS_CHANGED:
            self._reload_domains()
        else:
            self.cache.evict(key)

    def _reload_domains(self) -> None:
        task = asyncio.ensure_future(self.cache.load_domains())
        task.add_done_callback(self._domains_loaded)

    @staticmethod
    def _domains_loaded(task: asyncio.Future[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            # The listener's next (re)connection loads them again.
            log.warning("link cache listener: reading domains failed: %s", task.exception())

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                await self._listen()
                delay = 0.1  # it was connected: the next outage starts the backoff afresh
            except LISTEN_ERRORS as error:
                log.warning("link cache listener: %s: %s", type(error).__name__, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_retry_delay)

    async def _listen(self) -> None:
        """Hold one LISTEN connection until it is lost (or fails a health check)."""
        connection = await asyncpg.connect(self.dsn, timeout=5)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        try:
            await connection.add_listener(self.channel, self._notified)
            # Only now: whatever changed before LISTEN took effect is gone from the cache.
            self.cache.clear()
            await self.cache.load_domains()
            self.connected.set()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.health_interval):
                        await lost.wait()
                if not lost.is_set():
                    # A silently dropped network path shows no termination; a query does.
                    await connection.fetchval("SELECT 1", timeout=5)
            log.warning("link cache listener: connection lost; reconnecting")
        finally:
            self.connected.clear()
            connection.terminate()


def asyncpg_dsn(url: str) -> str:
    """asyncpg's form of a ``databases`` URL (``postgresql+asyncpg://`` -> ``postgresql://``)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}://{rest}"
