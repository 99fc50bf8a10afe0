"""The benchmark's data, made with set-based SQL (``generate_series``) in seconds.

- 100 orgs with 1,000 links each: the 100,000 slugs ``b000001`` .. ``b100000`` that the load
  generator picks from at random;
- one more org (number 0) with 100,000 links of its own (``big000001`` ..) for the links list,
  and an org API token (member role) to read it;
- 1,000,000 clicks on ``big000001`` over the last 30 days, with the daily rollups stats read.

Org n and user n (its owner) have md5-derived ids, so rows refer to each other without lookups.
"""

import secrets
import time
from dataclasses import dataclass

import asyncpg
import bcrypt

from kurz.auth import TOKEN_PREFIX, hash_secret, new_secret
from kurz.migrations import migrate_url

ORGS = 100
LINKS = 100_000  # spread over ORGS: the redirect benchmark's population
PREFIX = "b"
BIG_ORG_LINKS = 100_000
BIG_PREFIX = "big"
CLICKS = 1_000_000
CLICK_DAYS = 30

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
# The org API token the API latencies are measured with.
READER_SQL = """INSERT INTO api_tokens (org_id, name, role, secret_hash, created_by)
    VALUES (md5('bench-org-0')::uuid, 'bench', 'member', $1, md5('bench-user-0')::uuid)"""
# $2 raw clicks on link $1 over $3 days, as the recorder stores them: 5 % bots, about 100,000
# distinct visitors, a long tail of referrer hosts.
CLICKS_SQL = """INSERT INTO clicks (link_id, at, bot, referrer, browser, os, device, visitor)
    SELECT $1, now() - ((i::bigint * 7919) % ($3 * 86400)) * interval '1 second',
           i % 20 = 0,
           CASE WHEN i % 3 = 0 THEN NULL ELSE 'site' || (i % 500) || '.example' END,
           (ARRAY['Chrome', 'Firefox', 'Safari', 'Edge', 'Opera'])[1 + i % 5],
           (ARRAY['Windows', 'Mac OS X', 'Linux', 'Android', 'iOS'])[1 + i % 5],
           CASE WHEN i % 20 = 0 THEN 'bot' ELSE (ARRAY['desktop', 'mobile', 'tablet'])[1 + i % 3]
           END,
           substring(sha256(int4send(i % 100003)) FROM 1 FOR 16)
      FROM generate_series(1, $2) AS i"""
# The rollups (and the link's counter) of link $1, computed from its raw clicks.
ROLLUPS = [
    """INSERT INTO click_days (link_id, day, clicks, visitors, bot_clicks)
       SELECT link_id, (at AT TIME ZONE 'UTC')::date, count(*) FILTER (WHERE NOT bot),
              count(DISTINCT visitor) FILTER (WHERE NOT bot), count(*) FILTER (WHERE bot)
         FROM clicks WHERE link_id = $1 GROUP BY 1, 2""",
    """INSERT INTO click_day_values (link_id, day, dimension, value, clicks)
       SELECT link_id, (at AT TIME ZONE 'UTC')::date, dimension, value, count(*)
         FROM clicks,
              LATERAL (VALUES ('referrer', referrer), ('browser', browser), ('os', os),
                              ('device', device)) AS v (dimension, value)
        WHERE link_id = $1 AND NOT bot AND value IS NOT NULL
        GROUP BY 1, 2, 3, 4""",
    """UPDATE links SET clicks = (SELECT count(*) FROM clicks WHERE link_id = $1 AND NOT bot)
        WHERE id = $1""",
]


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
            await connection.execute(READER_SQL, hash_secret(token))
            link_id = await connection.fetchval(
                "SELECT id FROM links WHERE slug = $1", clicks_slug
            )
            await connection.execute(CLICKS_SQL, link_id, CLICKS, CLICK_DAYS)
            for statement in ROLLUPS:
                await connection.execute(statement, link_id)
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
