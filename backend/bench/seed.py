"""The benchmark's data, made with set-based SQL (``generate_series``) in seconds.

- 100 orgs with 1,000 links each: the 100,000 slugs ``b000001`` .. ``b100000`` that the load
  generator picks from at random;
- one more org (number 0) with 100,000 links of its own (``big000001`` ..) for the links list,
  and an org API token (member role) to read it;
- 1,000,000 clicks on ``big000001`` over the last 30 days, rolled up as the recorder would;
- the verified branded domain ``BRANDED_HOST`` of org 1, with the same 100,000 slugs again;
- 10,000 links with targeting rules (``r000001`` ..), spread over the 100 orgs like the first.

Org n and user n (its owner) have md5-derived ids, so rows refer to each other without lookups.
"""

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import bcrypt
from databases import Database

from kurz.auth import TOKEN_PREFIX, hash_secret, new_secret
from kurz.migrations import migrate_url
from kurz.models.clicks import LOCK_BATCHES_SHARED, delete_expired_clicks, roll_up_clicks

ORGS = 100
LINKS = 100_000  # spread over ORGS: the redirect benchmark's population
PREFIX = "b"
BIG_ORG_LINKS = 100_000
BIG_PREFIX = "big"
CLICKS = 1_000_000
CLICK_DAYS = 30
BRANDED_HOST = "go.bench.example"
RULE_LINKS = 10_000
RULE_PREFIX = "r"
# Three rules the benchmark's visits (a desktop browser on loopback) all miss, so that each
# redirect looks up its country and its user agent and checks every rule: the costliest case.
RULES = """[{"country": "DE", "url": "https://example.de/"},
            {"os": "iOS", "url": "https://apps.apple.com/app/example"},
            {"device": "mobile", "url": "https://m.example.com/"}]"""

# The hash of a forgotten random password: these users own things, they never log in.
USERS_SQL = """INSERT INTO users (id, email, name, password_hash)
       SELECT md5('bench-user-' || i)::uuid, 'bench-' || i || '@example.com', 'Bench ' || i, $2
         FROM generate_series(0, $1) AS i"""
ORGS_SQL = [
    """INSERT INTO orgs (id, name)
       SELECT md5('bench-org-' || i)::uuid, 'Bench org ' || i FROM generate_series(0, $1) AS i""",
    """INSERT INTO members (org_id, user_id, role)
       SELECT md5('bench-org-' || i)::uuid, md5('bench-user-' || i)::uuid, 'owner'
         FROM generate_series(0, $1) AS i""",
]
# $1 links named $2000001.., one second apart (newest first by number, as the list pages them),
# spread over orgs 1..$3, or all in org 0 when $3 is 0.
LINKS_SQL = """INSERT INTO links (org_id, slug, url, title, created_by, created_at, updated_at)
    SELECT md5('bench-org-' || n.org)::uuid, $2 || lpad(i::text, 6, '0'),
           'https://example.com/' || $2 || '/' || i, 'Link ' || $2 || i,
           md5('bench-user-' || n.org)::uuid,
           now() - i * interval '1 second', now() - i * interval '1 second'
      FROM generate_series(1, $1) AS i,
           LATERAL (SELECT CASE WHEN $3 = 0 THEN 0 ELSE 1 + i % $3 END) AS n (org)"""
# Org 1's verified domain, and $1 links on it named $2000001.. (the default domain's slugs).
DOMAIN_SQL = """INSERT INTO domains (org_id, hostname, verification_value, verified_at)
    VALUES (md5('bench-org-1')::uuid, $1, 'bench', now()) RETURNING id"""
BRANDED_LINKS_SQL = """INSERT INTO links (org_id, slug, url, created_by, domain_id)
    SELECT md5('bench-org-1')::uuid, $2 || lpad(i::text, 6, '0'),
           'https://example.com/branded/' || i, md5('bench-user-1')::uuid, $3
      FROM generate_series(1, $1) AS i"""
# The org API token the API latencies are measured with.
READER_SQL = """INSERT INTO api_tokens (org_id, name, role, secret_hash, created_by)
    VALUES (md5('bench-org-0')::uuid, 'bench', 'member', $1, md5('bench-user-0')::uuid)"""
# $2 raw clicks on link $1 over $3 days, as the recorder stores them (in one batch, taken and
# written under the lock a flush holds): 5 % bots, about 100,000 distinct visitors, a long tail
# of referrer hosts.
CLICKS_SQL = """WITH batch AS (SELECT nextval('click_batches') AS id)
    INSERT INTO clicks (batch, link_id, at, bot, referrer, browser, os, device, visitor)
    SELECT batch.id, $1, now() - ((i::bigint * 7919) % ($3 * 86400)) * interval '1 second',
           i % 20 = 0,
           CASE WHEN i % 3 = 0 THEN NULL ELSE 'site' || (i % 500) || '.example' END,
           (ARRAY['Chrome', 'Firefox', 'Safari', 'Edge', 'Opera'])[1 + i % 5],
           (ARRAY['Windows', 'Mac OS X', 'Linux', 'Android', 'iOS'])[1 + i % 5],
           CASE WHEN i % 20 = 0 THEN 'bot' ELSE (ARRAY['desktop', 'mobile', 'tablet'])[1 + i % 3]
           END,
           substring(sha256(int4send(i % 100003)) FROM 1 FOR 16)
      FROM batch, generate_series(1, $2) AS i"""


async def roll_up_and_expire(url: str) -> None:
    """What the recorder does in the background: the clicks are rolled up (into the link's
    counter too), and the visitors counted for days before yesterday are deleted."""
    db = Database(url)
    await db.connect()
    try:
        await roll_up_clicks(db)
        now = datetime.now(UTC)
        await delete_expired_clicks(db, now - timedelta(days=365), now.date() - timedelta(days=1))
    finally:
        await db.disconnect()


@dataclass
class Seeded:
    big_org_id: str
    clicks_slug: str
    token: str
    counts: dict
    seconds: float


async def seed(url: str) -> Seeded:
    """Migrate the empty database at ``url`` and fill it."""
    started = time.monotonic()
    await migrate_url(url)
    token = new_secret(TOKEN_PREFIX)
    password_hash = bcrypt.hashpw(secrets.token_urlsafe(32).encode(), bcrypt.gensalt(4))
    clicks_slug = f"{BIG_PREFIX}000001"
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            await connection.execute(USERS_SQL, ORGS, password_hash.decode())
            for statement in ORGS_SQL:
                await connection.execute(statement, ORGS)
            await connection.execute(LINKS_SQL, LINKS, PREFIX, ORGS)
            await connection.execute(LINKS_SQL, BIG_ORG_LINKS, BIG_PREFIX, 0)
            await connection.execute(LINKS_SQL, RULE_LINKS, RULE_PREFIX, ORGS)
            await connection.execute(
                "UPDATE links SET rules = $1::jsonb WHERE slug ~ $2",
                RULES,
                f"^{RULE_PREFIX}[0-9]{{6}}$",
            )
            await connection.execute(READER_SQL, hash_secret(token))
            domain_id = await connection.fetchval(DOMAIN_SQL, BRANDED_HOST)
            await connection.execute(BRANDED_LINKS_SQL, LINKS, PREFIX, domain_id)
            link_id = await connection.fetchval(
                "SELECT id FROM links WHERE slug = $1", clicks_slug
            )
            await connection.execute(LOCK_BATCHES_SHARED)
            await connection.execute(CLICKS_SQL, link_id, CLICKS, CLICK_DAYS)
        await roll_up_and_expire(url)
        # Fresh statistics and visibility maps, as a database in service would have.
        await connection.execute("VACUUM ANALYZE")
        big_org_id = await connection.fetchval("SELECT md5('bench-org-0')::uuid::text")
        counts = {
            "orgs": await connection.fetchval("SELECT count(*) FROM orgs"),
            "links": await connection.fetchval("SELECT count(*) FROM links"),
            "clicks": await connection.fetchval("SELECT count(*) FROM clicks"),
        }
    finally:
        await connection.close()
    return Seeded(
        big_org_id=big_org_id,
        clicks_slug=clicks_slug,
        token=token,
        counts=counts,
        seconds=time.monotonic() - started,
    )


async def server_version(url: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()
