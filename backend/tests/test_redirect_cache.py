import asyncio
import gc
import time
from datetime import UTC, datetime, timedelta

import pytest

from kurz.redirects.cache import LinkCache, LinkListener, asyncpg_dsn
from kurz.redirects.unknown_slugs import UnknownSlugLimiter
from kurz.services import services


class FakePool:
    """Answers ``select_redirect``'s query from a dict, counting queries; may be slowed down."""

    def __init__(self, links: dict[str, str] | None = None, delay: float = 0) -> None:
        self.links = links or {}
        self.delay = delay
        self.queries: list[str] = []
        self.down = False

    async def fetchrow(self, query: str, slug: str):
        self.queries.append(slug)
        url = self.links.get(slug)  # read at once, answered after the delay
        await asyncio.sleep(self.delay)
        if self.down:
            raise ConnectionRefusedError("database down")
        if url is None:
            return None
        expires_at = datetime.now(UTC) + timedelta(hours=1)
        return {
            "id": len(url),
            "url": url,
            "redirect_status": 302,
            "expires_at": expires_at,
            "disabled": False,
            "password_hash": None,
            "max_clicks": None,
            "expired_url": None,
            "rules": "[]",
        }


async def test_hits_are_served_from_memory() -> None:
    pool = FakePool({"abc": "https://a.example/"})
    cache = LinkCache()
    cache.pool = pool
    first = await cache.lookup("abc")
    assert first is not None and first.location == "https://a.example/"
    assert first.active(time.time())
    assert await cache.lookup("abc") == first
    assert pool.queries == ["abc"]


async def test_entries_stay_out_of_the_garbage_collectors_sight() -> None:
    """Flat tuples of atoms are untracked after a collection, so a full cache adds nothing to
    the pauses of full collections (which every waiting redirect would feel)."""
    cache = LinkCache()
    cache.pool = FakePool({"abc": "https://a.example/"})
    await cache.lookup("abc")
    await cache.lookup("nope")
    gc.collect()
    assert not any(gc.is_tracked(entry) for entry in cache._entries.values())


async def test_unknown_slugs_are_remembered_briefly() -> None:
    pool = FakePool()
    cache = LinkCache(negative_ttl=0.1)
    cache.pool = pool
    assert await cache.lookup("nope") is None
    assert await cache.lookup("nope") is None
    assert pool.queries == ["nope"]
    await asyncio.sleep(0.15)
    pool.links["nope"] = "https://now.example/"
    assert (await cache.lookup("nope")).location == "https://now.example/"


async def test_entries_expire_after_the_ttl() -> None:
    pool = FakePool({"abc": "https://a.example/"})
    cache = LinkCache(ttl=0.1)
    cache.pool = pool
    await cache.lookup("abc")
    pool.links["abc"] = "https://b.example/"
    await asyncio.sleep(0.15)
    assert (await cache.lookup("abc")).location == "https://b.example/"


async def test_the_least_recently_used_entry_goes_first() -> None:
    pool = FakePool({slug: f"https://{slug}.example/" for slug in ("aaa", "bbb", "ccc")})
    cache = LinkCache(max_entries=2)
    cache.pool = pool
    await cache.lookup("aaa")
    await cache.lookup("bbb")
    await cache.lookup("aaa")  # now bbb is the least recently used
    await cache.lookup("ccc")
    assert len(cache) == 2
    pool.queries.clear()
    await cache.lookup("aaa")
    await cache.lookup("ccc")
    assert pool.queries == []
    await cache.lookup("bbb")
    assert pool.queries == ["bbb"]


async def test_concurrent_misses_of_one_slug_share_one_query() -> None:
    pool = FakePool({"hot": "https://hot.example/"}, delay=0.05)
    cache = LinkCache()
    cache.pool = pool
    results = await asyncio.gather(*(cache.lookup("hot") for _ in range(20)))
    assert len({id(result) for result in results}) == 1
    assert pool.queries == ["hot"]


async def test_a_read_racing_an_eviction_is_not_cached() -> None:
    pool = FakePool({"abc": "https://old.example/"}, delay=0.05)
    cache = LinkCache()
    cache.pool = pool
    lookup = asyncio.ensure_future(cache.lookup("abc"))
    await asyncio.sleep(0.01)  # the query has read the old row...
    pool.links["abc"] = "https://new.example/"
    cache.evict("abc")  # ...and the change is announced before it returns
    assert (await lookup).location == "https://old.example/"
    assert (await cache.lookup("abc")).location == "https://new.example/"


async def test_database_errors_reach_the_caller_and_are_not_cached() -> None:
    pool = FakePool({"abc": "https://a.example/"})
    pool.down = True
    cache = LinkCache()
    cache.pool = pool
    with pytest.raises(ConnectionRefusedError):
        await cache.lookup("abc")
    pool.down = False
    assert (await cache.lookup("abc")).location == "https://a.example/"


def test_the_limiter_allows_a_burst_then_one_per_second() -> None:
    limiter = UnknownSlugLimiter(burst=3, per_second=1.0)
    assert [limiter.take("1.1.1.1") for _ in range(3)] == [0, 0, 0]
    wait = limiter.take("1.1.1.1")
    assert 0.9 < wait <= 1.0
    assert limiter.take("2.2.2.2") == 0


def test_the_limiter_forgets_the_least_recent_clients_beyond_its_bound() -> None:
    limiter = UnknownSlugLimiter(burst=1, max_clients=100)
    for n in range(1000):
        limiter.take(f"10.0.{n // 256}.{n % 256}")
    assert limiter.clients == 100


def test_asyncpg_dsn_drops_the_driver_suffix() -> None:
    assert asyncpg_dsn("postgresql+asyncpg://u:p@h:5/db") == "postgresql://u:p@h:5/db"
    assert (
        asyncpg_dsn("postgresql://u@h/db?sslmode=require") == "postgresql://u@h/db?sslmode=require"
    )


# --- the listener against the real database ------------------------------------------------


async def test_the_listener_reconnects_and_clears_what_it_may_have_missed(
    app, db, make_org, make_link, client
) -> None:
    listener: LinkListener = services(app).link_listener
    await asyncio.wait_for(listener.connected.wait(), 5)
    org_id, owner = await make_org()
    link = await make_link(org_id, owner, url="https://before.example/")
    assert (await client.get(f"/{link['slug']}")).headers["Location"] == "https://before.example/"

    killed = await db.fetch_val("""SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND query LIKE 'LISTEN%'""")
    assert killed == 1
    # Changed while nobody listens: no notification will arrive for this.
    await db.execute(
        "UPDATE links SET url = 'https://after.example/' WHERE slug = :slug",
        {"slug": link["slug"]},
    )
    deadline = time.monotonic() + 5
    while (await client.get(f"/{link['slug']}")).headers["Location"] != "https://after.example/":
        assert time.monotonic() < deadline, "the listener did not come back"
        await asyncio.sleep(0.05)
    await asyncio.wait_for(listener.connected.wait(), 5)

    # And it listens again: the next change arrives as a notification.
    await client.get(f"/{link['slug']}")
    await db.execute(
        "UPDATE links SET url = 'https://again.example/' WHERE slug = :slug",
        {"slug": link["slug"]},
    )
    deadline = time.monotonic() + 1
    while (await client.get(f"/{link['slug']}")).headers["Location"] != "https://again.example/":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


async def test_edits_that_do_not_change_redirects_do_not_evict_links(
    app, db, make_org, make_link
) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner)
    cache: LinkCache = services(app).link_cache
    await asyncio.sleep(0.3)  # the creation's own notification evicts; let it arrive first
    await cache.lookup(link["slug"])
    await db.execute("UPDATE links SET title = 'x' WHERE slug = :slug", {"slug": link["slug"]})
    await asyncio.sleep(0.2)  # time for a notification to arrive, were one sent
    assert link["slug"] in cache._entries


async def test_bulk_changes_clear_the_whole_cache(app, db, make_org, make_link) -> None:
    org_id, owner = await make_org()
    cache: LinkCache = services(app).link_cache
    kept = await make_link(org_id, owner)
    await cache.lookup(kept["slug"])
    await db.execute(
        """INSERT INTO links (org_id, slug, url)
           SELECT :org_id, 'bulk' || n, 'https://example.com/' FROM generate_series(1, 150) n""",
        {"org_id": org_id},
    )
    deadline = time.monotonic() + 1
    while kept["slug"] in cache._entries:  # '*' arrived: everything went
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
