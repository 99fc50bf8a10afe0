"""Clicks: a flushed batch, the roll-ups, visitor salts, retention, link stats.

Stats are read from the daily rollups (see db/3.py, 4.py and 5.py) plus the link's few raw
clicks not rolled up yet, never from all its raw clicks, so they cost about the same for a link
with ten clicks or ten million, and cover days whose raw clicks the retention already deleted.
"""

import datetime
import sys
import uuid
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from databases import Database
from databases.interfaces import Record

from ..database import SCHEMA_LOCKS, raw_connection
from .webhooks import insert_click_events

DIMENSIONS = ("referrer", "browser", "os", "device", "country")
TOP = 10
# Deleting in slices keeps each statement short (and under the query timeout) while a big
# backlog expires, without holding locks for long.
DELETE_BATCH = 10_000


# What a click's user agent (and method) says: browser, OS, device class, bot or not (as in
# analytics.agents.Agent).
AgentFields = tuple[str, str, str, bool]


@dataclass
class ClickBatch:
    """Clicks as stored (parsed and hashed, no raw IP address), in columns. Agents, referrer
    hosts and visitors repeat within a batch, so each click refers to its own by number, from
    1, in the lists of them. Its token stays the same when it is written again after a failure
    (see db/6.py)."""

    token: uuid.UUID
    link_ids: Sequence[int]
    times: Sequence[int]  # microseconds since the epoch
    agent_numbers: Sequence[int]
    referrer_numbers: Sequence[int]
    visitor_numbers: Sequence[int]
    agents: list[AgentFields]
    referrers: list[str | None]  # hosts; None: no referrer
    visitors: list[bytes]
    countries: list[str | None]  # of each visitor (in the visitors' order); None: unknown


# Held shared by every writer of clicks while it takes a batch number and writes it, and
# exclusively by a roll-up for an instant: once it has it, every batch numbered so far is
# committed or gone. (The second key of the installation's lock: see SCHEMA_LOCKS.)
BATCHES_LOCK = 0x6B75727A  # "kurz"
LOCK_BATCHES_SHARED = f"SELECT pg_advisory_xact_lock_shared({SCHEMA_LOCKS}, {BATCHES_LOCK})"
LOCK_BATCHES = f"SELECT pg_advisory_xact_lock({SCHEMA_LOCKS}, {BATCHES_LOCK})"
# A batch already stored under its token writes nothing; the answer is how many clicks were
# stored. Nothing here looks at links or updates a row (see db/7.py): flushes never wait for a
# link or for each other, and a click of a link deleted meanwhile is left out by the roll-up.
# A click's numbers come as big-endian integers packed in bytea ($2-$6, see `packed`), each
# read back through a bit string (every supported PostgreSQL casts those to integers); the
# lists of agents, referrers and visitors come as arrays. Positional parameters: this runs on
# asyncpg directly (see insert_clicks).
INSERT_CLICKS = """WITH first_time AS (
        INSERT INTO click_batch_tokens (token) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1
    ), batch AS (
        SELECT nextval('click_batches') AS id FROM first_time
    ), c AS (
        SELECT CAST(CAST('x' || encode(substr(p.link_ids, 8 * i + 1, 8), 'hex') AS BIT(64))
                    AS BIGINT) AS link_id,
               CAST(CAST('x' || encode(substr(p.times, 8 * i + 1, 8), 'hex') AS BIT(64))
                    AS BIGINT) AS at,
               CAST(CAST('x' || encode(substr(p.agents, 4 * i + 1, 4), 'hex') AS BIT(32))
                    AS INTEGER) AS agent,
               CAST(CAST('x' || encode(substr(p.referrers, 4 * i + 1, 4), 'hex') AS BIT(32))
                    AS INTEGER) AS referrer,
               CAST(CAST('x' || encode(substr(p.visitors, 4 * i + 1, 4), 'hex') AS BIT(32))
                    AS INTEGER) AS visitor
          FROM (SELECT $2::BYTEA AS link_ids, $3::BYTEA AS times, $4::BYTEA AS agents,
                       $5::BYTEA AS referrers, $6::BYTEA AS visitors) AS p,
               generate_series(0, length(p.link_ids) / 8 - 1) AS i
    ), stored AS (
        INSERT INTO clicks (batch, link_id, at, bot, referrer, browser, os, device, visitor,
                            country)
        SELECT batch.id, c.link_id, TIMESTAMPTZ 'epoch' + c.at * INTERVAL '1 microsecond',
               a.bot, r.host, a.browser, a.os, a.device, v.hash, v.country
          FROM batch, c
          JOIN unnest($7::TEXT[], $8::TEXT[], $9::TEXT[], $10::BOOLEAN[]) WITH ORDINALITY
               AS a (browser, os, device, bot, number) ON a.number = c.agent
          JOIN unnest($11::TEXT[]) WITH ORDINALITY AS r (host, number) ON r.number = c.referrer
          JOIN unnest($12::BYTEA[], $13::TEXT[]) WITH ORDINALITY AS v (hash, country, number)
               ON v.number = c.visitor
        RETURNING 1
    )
    SELECT count(*) FROM stored"""


def packed(values: Sequence[int], typecode: str) -> bytes:
    """Integers as INSERT_CLICKS reads them: big-endian, ``typecode`` 'q' for BIGINT, 'i' for
    INTEGER. asyncpg would encode an array element by element in the server's process; this
    costs next to nothing there, and PostgreSQL unpacks them."""
    column = array(typecode, values)
    if sys.byteorder == "little":
        column.byteswap()
    return column.tobytes()


async def insert_clicks(db: Database, clicks: ClickBatch) -> int:
    """Store a (non-empty) batch of raw clicks in one transaction, unless its token says it is
    stored already; the link counters and rollups follow in ``roll_up_clicks``. Returns how
    many this call stored.

    It goes to asyncpg directly, whose prepared statement saves the query building `databases`
    would repeat for every batch: the flush shares the process with the redirects.
    """
    values = (
        clicks.token,
        packed(clicks.link_ids, "q"),
        packed(clicks.times, "q"),
        packed(clicks.agent_numbers, "i"),
        packed(clicks.referrer_numbers, "i"),
        packed(clicks.visitor_numbers, "i"),
        *zip(*clicks.agents, strict=True),  # browsers, OSes, devices, bots: in number order
        clicks.referrers,
        clicks.visitors,
        clicks.countries,
    )
    async with raw_connection(db) as raw, raw.transaction():
        await raw.execute(LOCK_BATCHES_SHARED)
        stored: int = await raw.fetchval(INSERT_CLICKS, *values)
        if stored:
            await insert_click_events(raw)
        return stored


async def select_database_identity(db: Database) -> str:
    """This installation among all servers, their databases and schemas (clicks spooled by a
    process that could not write them are for the installation they came from). Public's
    identity names no schema, as before there were others: its spool files stay its own."""
    identity: str = await db.fetch_val(
        """SELECT concat_ws('/', system_identifier, current_database(),
                            (SELECT oid FROM pg_database WHERE datname = current_database()),
                            nullif(current_schema(), 'public'))
             FROM pg_control_system()"""
    )
    return identity


# --- rollups -------------------------------------------------------------------------------

# Statements below are composed of these constant fragments (hence "noqa: S608"); values
# always go as parameters.
# The mark: every batch up to it is in the rollups, none after it.
ROLLED_UP_TO = "(SELECT rolled_up_to FROM click_rollup)"
# The day from which rolled-up clicks are in `click_days` only, not in `link_clicks` (db/9.py).
COUNTERS_BEFORE = "(SELECT counters_before FROM click_rollup)"
# A link's human clicks (of the row `links` in the query): those rolled up into `link_clicks`
# (see db/8.py) and into its days since COUNTERS_BEFORE, plus those written since, in the
# same snapshot.
LINK_CLICKS = f"""(coalesce((SELECT clicks FROM link_clicks WHERE link_id = links.id), 0)
                   + coalesce((SELECT CAST(sum(clicks) AS BIGINT) FROM click_days
                                WHERE link_id = links.id AND day >= {COUNTERS_BEFORE}), 0)
                   + (SELECT count(*) FROM clicks
                       WHERE clicks.link_id = links.id AND clicks.batch > {ROLLED_UP_TO}
                         AND NOT clicks.bot))"""  # noqa: S608
CLICK_DAY = "CAST(at AT TIME ZONE 'UTC' AS DATE)"
# The values of a click (CLICK_VALUES) or of a click_day_agents row (AGENT_VALUES) for the top
# lists, one row per dimension. ('' in click_day_agents: not recorded, see db/5.py.)
AGENT_DIMENSIONS = "('browser', browser), ('os', os), ('device', device)"
CLICK_VALUES = f"""CROSS JOIN LATERAL (VALUES ('referrer', referrer), {AGENT_DIMENSIONS},
                                          ('country', country))
                       AS v (dimension, value)"""
AGENT_VALUES = f"CROSS JOIN LATERAL (VALUES {AGENT_DIMENSIONS}) AS v (dimension, value)"
# Those of a click for the monthly values: unknown countries count as '', as in the days.
MONTH_VALUES = f"""CROSS JOIN LATERAL (VALUES ('referrer', referrer), {AGENT_DIMENSIONS},
                                          ('country', coalesce(country, '')))
                       AS v (dimension, value)"""
# The top-list roll-ups, each kept per link (`click_day_...`, by link_id) and per org
# (`org_click_day_...`, by org_id): the table's name after that prefix, its value columns, what
# a rolled click gives for them, and which clicks count.
TOP_LIST_ROLLUPS = (
    ("click_day_referrers", ("referrer",), "referrer", "NOT bot AND referrer IS NOT NULL"),
    ("click_day_agents", ("browser", "os", "device"), "browser, os, device", "NOT bot"),
    ("click_day_countries", ("country",), "coalesce(country, '')", "NOT bot"),
)


def add_to_top_lists(owner: str, prefix: str) -> str:
    """CTEs of the roll-up adding its clicks to the top-list roll-ups of each link (``owner``
    link_id, no ``prefix``) or org (org_id, prefix ``org_``)."""
    return ", ".join(f"""add_{prefix}{table} AS (
        INSERT INTO {prefix}{table} ({owner}, day, {", ".join(columns)}, clicks)
        SELECT {owner}, day, {values}, count(*) FROM rolled WHERE {counted}
         GROUP BY {owner}, day, {values}
        ON CONFLICT ({owner}, day, {", ".join(columns)}) DO UPDATE
           SET clicks = {prefix}{table}.clicks + EXCLUDED.clicks
    )""" for table, columns, values, counted in TOP_LIST_ROLLUPS)  # noqa: S608


def take_from_org_top_lists() -> str:
    """CTEs taking the per-link top-list rows of the deleted links (CTE ``gone``) off their
    org's rows (see UNCOUNT_GONE_LINKS)."""
    return ", ".join(f"""take_{table} AS (
        UPDATE org_{table} AS o SET clicks = o.clicks - d.clicks
          FROM (SELECT gone.org_id, day, {", ".join(columns)}, sum(clicks) AS clicks
                  FROM {table} JOIN gone ON gone.id = {table}.link_id
                 GROUP BY gone.org_id, day, {", ".join(columns)}) AS d
         WHERE o.org_id = d.org_id AND o.day = d.day
           AND {" AND ".join(f"o.{column} = d.{column}" for column in columns)}
    )""" for table, columns, _, _ in TOP_LIST_ROLLUPS)  # noqa: S608


# A roll-up gives way to people: waiting this long for a row lock (a link or org being
# deleted), it fails and is retried later. Otherwise the two could deadlock, each holding
# links the other needs, and PostgreSQL (deadlock_timeout, 1 s) might fail the person's
# request to end it.
GIVE_WAY = "SELECT set_config('lock_timeout', '500ms', true)"
# A roll-up transaction takes up to ROLL_UP_BATCHES batches (up to 1,000 clicks each), and a
# waiting instance or a long statement gets ROLL_UP_TIMEOUT seconds.
ROLL_UP_BATCHES = 200
ROLL_UP_TIMEOUT = 300.0
# Clicks of links deleted before their batch was written are left out (see db/7.py). Link
# counters take the clicks of days before the counters' day ($3) only (see db/9.py); the links
# clicked on later days are listed per org in org_recent_links. Each per-link roll-up has its
# per-org sum (db/24.py).
# Visitors new to a link's day are those whose row the insert did not find already there.
# (Their counts are added up with a UNION, not joined: the planner cannot know how many rows a
# roll-up reads, and a join it takes for a few rows is ruinous for thousands.)
ROLL_UP = f"""WITH rolled AS (
        SELECT clicks.link_id, links.org_id, {CLICK_DAY} AS day, bot, referrer, browser, os,
               device, visitor, country
          FROM clicks JOIN links ON links.id = clicks.link_id
         WHERE batch > $1 AND batch <= $2
    ), new_visitors AS (
        INSERT INTO click_day_visitors (link_id, day, visitor, org_id)
        SELECT DISTINCT link_id, day, visitor, org_id FROM rolled WHERE NOT bot
        ON CONFLICT DO NOTHING
        RETURNING link_id, day, org_id
    ), days AS (
        INSERT INTO click_days (link_id, day, clicks, bot_clicks, visitors)
        SELECT link_id, day, sum(clicks), sum(bot_clicks), sum(visitors) FROM (
            SELECT link_id, day, count(*) FILTER (WHERE NOT bot) AS clicks,
                   count(*) FILTER (WHERE bot) AS bot_clicks, 0 AS visitors
              FROM rolled GROUP BY link_id, day
            UNION ALL
            SELECT link_id, day, 0, 0, count(*) FROM new_visitors GROUP BY link_id, day
        ) AS counts
        GROUP BY link_id, day
        ON CONFLICT (link_id, day) DO UPDATE
           SET clicks = click_days.clicks + EXCLUDED.clicks,
               bot_clicks = click_days.bot_clicks + EXCLUDED.bot_clicks,
               visitors = click_days.visitors + EXCLUDED.visitors
    ), {add_to_top_lists('link_id', '')}, counters AS (
        INSERT INTO link_clicks (link_id, org_id, clicks)
        SELECT link_id, org_id, count(*) FROM rolled WHERE NOT bot AND day < $3
         GROUP BY link_id, org_id
        ON CONFLICT (link_id) DO UPDATE SET clicks = link_clicks.clicks + EXCLUDED.clicks
    ), recent AS (
        INSERT INTO org_recent_links (org_id, day, link_id, clicks)
        SELECT org_id, day, link_id, count(*) FROM rolled WHERE NOT bot AND day >= $3
         GROUP BY org_id, day, link_id
        ON CONFLICT (org_id, day, link_id) DO UPDATE
           SET clicks = org_recent_links.clicks + EXCLUDED.clicks
    ), org_days AS (
        INSERT INTO org_click_days (org_id, day, clicks, visitors)
        SELECT org_id, day, sum(clicks), sum(visitors) FROM (
            SELECT org_id, day, count(*) AS clicks, 0 AS visitors
              FROM rolled WHERE NOT bot GROUP BY org_id, day
            UNION ALL
            SELECT org_id, day, 0, count(*) FROM new_visitors GROUP BY org_id, day
        ) AS counts
        GROUP BY org_id, day
        ON CONFLICT (org_id, day) DO UPDATE
           SET clicks = org_click_days.clicks + EXCLUDED.clicks,
               visitors = org_click_days.visitors + EXCLUDED.visitors
    ), {add_to_top_lists('org_id', 'org_')}, org_months AS (
        INSERT INTO org_click_month_values (org_id, month, dimension, value, clicks)
        SELECT org_id, CAST(date_trunc('month', day) AS DATE), v.dimension, v.value, count(*)
          FROM rolled {MONTH_VALUES}
         WHERE NOT bot AND v.value IS NOT NULL
         GROUP BY org_id, CAST(date_trunc('month', day) AS DATE), v.dimension, v.value
        ON CONFLICT (org_id, month, dimension, value) DO UPDATE
           SET clicks = org_click_month_values.clicks + EXCLUDED.clicks
    )
    SELECT count(*) FROM rolled"""  # noqa: S608
# The org-wide roll-ups without the days of the links a statement deletes: CTEs over a CTE
# `gone (id, org_id)` of the deleted links, whose per-link roll-ups the statement still sees
# (its snapshot predates the cascade). Rows brought to 0 stay; stats skip them.
UNCOUNT_GONE_LINKS = f"""gone_days AS (
        UPDATE org_click_days AS o
           SET clicks = o.clicks - d.clicks, visitors = o.visitors - d.visitors
          FROM (SELECT gone.org_id, day, sum(clicks) AS clicks, sum(visitors) AS visitors
                  FROM click_days JOIN gone ON gone.id = click_days.link_id
                 GROUP BY gone.org_id, day) AS d
         WHERE o.org_id = d.org_id AND o.day = d.day
    ), {take_from_org_top_lists()}, gone_months AS (
        UPDATE org_click_month_values AS o SET clicks = o.clicks - d.clicks
          FROM (SELECT gone.org_id, CAST(date_trunc('month', day) AS DATE) AS month,
                       valued.dimension, valued.value, sum(clicks) AS clicks
                  FROM (SELECT link_id, day, 'referrer' AS dimension, referrer AS value, clicks
                          FROM click_day_referrers
                        UNION ALL
                        SELECT link_id, day, v.dimension, v.value, clicks
                          FROM click_day_agents {AGENT_VALUES} WHERE v.value <> ''
                        UNION ALL
                        SELECT link_id, day, 'country', country, clicks
                          FROM click_day_countries) AS valued
                  JOIN gone ON gone.id = valued.link_id
                 GROUP BY gone.org_id, month, valued.dimension, valued.value) AS d
         WHERE o.org_id = d.org_id AND o.month = d.month AND o.dimension = d.dimension
           AND o.value = d.value
    )"""  # noqa: S608
# Moves the counters' day from $1 to $2 (today): the days in between go to the link counters,
# and their links are no longer recent.
FOLD_COUNTERS = """WITH folded AS (
        INSERT INTO link_clicks (link_id, org_id, clicks)
        SELECT link_id, links.org_id, sum(click_days.clicks)
          FROM click_days JOIN links ON links.id = click_days.link_id
         WHERE day >= $1 AND day < $2 AND click_days.clicks > 0
         GROUP BY link_id, links.org_id
        ON CONFLICT (link_id) DO UPDATE SET clicks = link_clicks.clicks + EXCLUDED.clicks
    ), no_longer_recent AS (
        DELETE FROM org_recent_links WHERE day < $2
    )
    UPDATE click_rollup SET counters_before = $2"""


async def roll_up_clicks(db: Database, batches_per_transaction: int = ROLL_UP_BATCHES) -> int:
    """Fold every batch committed so far into the daily rollups and link counters, moving
    the mark with them in the same transactions; return how many clicks this call rolled up.
    Instances rolling up at once take turns on the mark: when this returns, every batch
    committed before the call is in the rollups. The first roll-up of a UTC day also adds the
    days before it to the link counters (see db/9.py).

    On asyncpg directly, for timeouts of its own: a roll-up is background work, and the more
    clicks a statement takes, the more of them it merges into one row update."""
    async with raw_connection(db) as raw:
        async with raw.transaction():
            # Waits for the flushes in progress, so that no batch up to `last` can commit later.
            await raw.execute(LOCK_BATCHES)
            last = await raw.fetchval(
                "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM click_batches"
            )
        rolled = 0
        while True:
            async with raw.transaction():
                mark = await raw.fetchrow(
                    "SELECT rolled_up_to, counters_before FROM click_rollup FOR UPDATE",
                    timeout=ROLL_UP_TIMEOUT,
                )
                assert mark is not None  # the table's one row is made by its migration
                after, counters_before = mark
                if after >= last:
                    return rolled
                await raw.execute(GIVE_WAY)  # (not while waiting for its turn above)
                today = datetime.datetime.now(datetime.UTC).date()
                if counters_before < today:
                    await raw.execute(
                        FOLD_COUNTERS, counters_before, today, timeout=ROLL_UP_TIMEOUT
                    )
                    counters_before = today
                upto = min(last, after + batches_per_transaction)
                rolled += await raw.fetchval(
                    ROLL_UP, after, upto, counters_before, timeout=ROLL_UP_TIMEOUT
                )
                await raw.execute("UPDATE click_rollup SET rolled_up_to = $1", upto)


async def select_visitor_salt(db: Database, day: datetime.date, candidate: bytes) -> bytes:
    """The salt of a UTC day: ``candidate`` if this instance is the first to ask, else the
    one another instance stored first (two statements, so the select sees its commit)."""
    values = {"day": day, "salt": candidate}
    await db.execute(
        "INSERT INTO visitor_salts (day, salt) VALUES (:day, :salt) ON CONFLICT (day) DO NOTHING",
        values,
    )
    salt: bytes = await db.fetch_val(
        "SELECT salt FROM visitor_salts WHERE day = :day", {"day": day}
    )
    return salt


# Each deletes one slice and counts it. Raw clicks go once rolled up, and the visitors counted
# for a day once no click of that day waits for a roll-up.
DELETE_OLD_CLICKS = f"""WITH deleted AS (
        DELETE FROM clicks WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM clicks WHERE at < :before AND batch <= {ROLLED_UP_TO}
             LIMIT :limit))
        RETURNING 1)
    SELECT count(*) FROM deleted"""  # noqa: S608
DELETE_OLD_VISITORS = f"""WITH waiting AS (
        SELECT min({CLICK_DAY}) AS day FROM clicks WHERE batch > {ROLLED_UP_TO}
    ), deleted AS (
        DELETE FROM click_day_visitors WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM click_day_visitors
             WHERE day < :before AND day < coalesce((SELECT day FROM waiting), :before)
             LIMIT :limit))
        RETURNING 1)
    SELECT count(*) FROM deleted"""  # noqa: S608


async def delete_expired_clicks(
    db: Database, before: datetime.datetime, visitors_before: datetime.date
) -> int:
    """Delete raw clicks older than ``before``, the visitor hashes and salts of days before
    ``visitors_before`` and batch tokens older than a day; return how many raw clicks were
    deleted."""
    deleted = await _delete_in_slices(db, DELETE_OLD_CLICKS, before)
    await _delete_in_slices(db, DELETE_OLD_VISITORS, visitors_before)
    await db.execute("DELETE FROM visitor_salts WHERE day < :before", {"before": visitors_before})
    await db.execute("DELETE FROM click_batch_tokens WHERE at < now() - interval '1 day'")
    return deleted


async def _delete_in_slices(db: Database, sql: str, before: object) -> int:
    deleted = 0
    while True:
        count: int = await db.fetch_val(sql, {"before": before, "limit": DELETE_BATCH})
        deleted += count
        if count < DELETE_BATCH:
            return deleted


# --- stats ---------------------------------------------------------------------------------


@dataclass
class DayClicks:
    date: datetime.date
    clicks: int


@dataclass
class ValueClicks:
    value: str
    clicks: int


@dataclass
class CountryClicks:
    value: str | None  # ISO 3166-1 alpha-2; None: unknown
    clicks: int


@dataclass
class LinkStats:
    """Human visits only, over the window's UTC days (the link's ``clicks`` counts all time)."""

    total_clicks: int
    unique_visitors: int
    series: list[DayClicks]
    referrers: list[ValueClicks]
    browsers: list[ValueClicks]
    os: list[ValueClicks]
    devices: list[ValueClicks]
    countries: list[CountryClicks]


# The human clicks of the window past the mark (:after), of the links {links} selects: not in
# the rollups yet. The mark is a parameter, not a subquery, so that the planner sees how few
# rows are past it.
LATEST = """SELECT link_id, {click_day} AS day, referrer, browser, os, device, visitor,
                   coalesce(country, '') AS country
      FROM clicks
     WHERE {links} AND batch > :after AND NOT bot
       AND at >= CAST(:first AS TIMESTAMP) AT TIME ZONE 'UTC'"""
# One row per day of the window, zeros included; an integer series keeps it free of time zones.
# A latest visitor is new to its link's day unless the rollups counted it already.
SERIES = """WITH latest_days AS (
        SELECT latest.day, count(*) AS clicks,
               count(DISTINCT (latest.link_id, latest.visitor))
                   FILTER (WHERE counted.visitor IS NULL) AS visitors
          FROM ({latest}) AS latest
          LEFT JOIN click_day_visitors counted
                 ON counted.link_id = latest.link_id AND counted.day = latest.day
                AND counted.visitor = latest.visitor
         GROUP BY latest.day
    )
    SELECT CAST(:first AS DATE) + i AS day,
           coalesce(d.clicks, 0) + coalesce(l.clicks, 0) AS clicks,
           coalesce(d.visitors, 0) + coalesce(l.visitors, 0) AS visitors
      FROM generate_series(0, :days - 1) AS i
      LEFT JOIN (SELECT day, CAST(sum(clicks) AS BIGINT) AS clicks,
                        CAST(sum(visitors) AS BIGINT) AS visitors FROM {rollups}click_days
                  WHERE {rolled} AND day >= CAST(:first AS DATE) GROUP BY day) d
             ON d.day = CAST(:first AS DATE) + i
      LEFT JOIN latest_days l ON l.day = CAST(:first AS DATE) + i
     ORDER BY day"""
# {days} picks the daily rows of the window that {months} does not count.
TOP_VALUES = """WITH counted AS (
        SELECT 'referrer' AS dimension, referrer AS value, clicks
          FROM {rollups}click_day_referrers
         WHERE {rolled} AND {days}
        UNION ALL
        SELECT v.dimension, v.value, clicks FROM {rollups}click_day_agents {agent_values}
         WHERE {rolled} AND {days} AND v.value <> ''
        UNION ALL
        SELECT 'country', country, clicks FROM {rollups}click_day_countries
         WHERE {rolled} AND {days}
        UNION ALL{months}
        SELECT v.dimension, v.value, 1 FROM ({latest}) AS latest {click_values}
         WHERE v.value IS NOT NULL
    )
    SELECT dimension, value, clicks FROM (
        SELECT dimension, value, CAST(sum(clicks) AS BIGINT) AS clicks,
               row_number() OVER (PARTITION BY dimension ORDER BY sum(clicks) DESC, value)
                   AS rank
          FROM counted
         GROUP BY dimension, value
        HAVING sum(clicks) > 0
    ) ranked
    WHERE rank <= :top
    ORDER BY dimension, rank"""
# The links with the most clicks in the window (ties: the oldest link first): summed per link
# ({counted} gives link_id, clicks), then the ten joined to their links.
TOP_LINKS = """SELECT links.id, links.slug, links.title, domains.hostname AS domain, best.clicks
      FROM (SELECT link_id, CAST(sum(clicks) AS BIGINT) AS clicks FROM ({counted}) AS counted
             GROUP BY link_id ORDER BY clicks DESC, link_id LIMIT :top) AS best
      JOIN links ON links.id = best.link_id
      LEFT JOIN domains ON domains.id = links.domain_id
     ORDER BY best.clicks DESC, links.id"""
# The clicks of the window of the links that {links} selects.
LINKS_CLICKED = """SELECT link_id, clicks FROM click_days
     WHERE {links} AND day >= CAST(:first AS DATE) AND clicks > 0
    UNION ALL
    SELECT link_id, 1 FROM ({latest}) AS latest"""
# The window's days and months for TOP_VALUES: per link, every day; per org, the whole months
# of the window from the monthly values (:months_from up to :months_to, this month) and the
# other days from the daily roll-ups.
WINDOW_DAYS = "day >= CAST(:first AS DATE)"
ORG_WINDOW_DAYS = f"""{WINDOW_DAYS} AND (day < CAST(:months_from AS DATE)
                                         OR day >= CAST(:months_to AS DATE))"""
ORG_WINDOW_MONTHS = """
        SELECT dimension, value, clicks FROM org_click_month_values
         WHERE org_id = :org_id AND month >= CAST(:months_from AS DATE)
           AND month < CAST(:months_to AS DATE)
        UNION ALL"""
# An org's links by rolled-up clicks before the counters' day, the most first (see
# _org_top_links).
WALK_COUNTERS = """SELECT link_id, clicks FROM link_clicks WHERE org_id = :org_id
     ORDER BY clicks DESC, link_id LIMIT :walk"""
# The same for an org's top candidates: the links walked (:walked), the recent ones (clicked
# since the counters' day) that could still come before the tenth of those walked (at most
# their counter plus their recent clicks), and those with clicks not rolled up yet. Each
# candidate's days are read through its index.
CANDIDATES_CLICKED = """WITH latest AS ({latest}), walked AS (
        SELECT unnest(CAST(:walked AS BIGINT[])) AS link_id
    ), walked_clicks AS (
        SELECT walked.link_id, window_days.clicks FROM walked
         CROSS JOIN LATERAL (SELECT sum(clicks) AS clicks FROM click_days
                              WHERE click_days.link_id = walked.link_id
                                AND day >= CAST(:first AS DATE)) AS window_days
    ), tenth AS (
        SELECT clicks, link_id FROM walked_clicks WHERE clicks > 0
         ORDER BY clicks DESC, link_id OFFSET :top - 1 LIMIT 1
    ), recent AS (
        SELECT recent.link_id,
               sum(recent.clicks) + coalesce(min(counter.clicks), 0) AS most
          FROM org_recent_links AS recent
          LEFT JOIN link_clicks AS counter ON counter.link_id = recent.link_id
         WHERE recent.org_id = :org_id
         GROUP BY recent.link_id
    ), others AS (
        SELECT link_id FROM recent
         WHERE NOT EXISTS (SELECT FROM tenth
                            WHERE (tenth.clicks, -tenth.link_id) > (recent.most, -recent.link_id))
        UNION
        SELECT link_id FROM latest
        EXCEPT
        SELECT link_id FROM walked
    )
    SELECT link_id, clicks FROM walked_clicks WHERE clicks > 0
    UNION ALL
    SELECT others.link_id, window_days.clicks FROM others
     CROSS JOIN LATERAL (SELECT sum(clicks) AS clicks FROM click_days
                          WHERE click_days.link_id = others.link_id
                            AND day >= CAST(:first AS DATE)) AS window_days
     WHERE window_days.clicks > 0
    UNION ALL
    SELECT link_id, 1 FROM latest"""


def stats_sql(links: str, org_rollups: bool = False) -> tuple[str, str, str]:
    """The series, top values and top links statements over the links that the condition
    ``links`` (on a ``link_id`` column) selects, reading their per-link roll-ups; or with
    ``org_rollups`` (``links`` being ORG_LINKS) the org's roll-ups."""
    latest = LATEST.format(links=links, click_day=CLICK_DAY)
    rollups, rolled = ("org_", "org_id = :org_id") if org_rollups else ("", links)
    return (
        SERIES.format(rollups=rollups, rolled=rolled, latest=latest),
        TOP_VALUES.format(
            rollups=rollups,
            rolled=rolled,
            days=ORG_WINDOW_DAYS if org_rollups else WINDOW_DAYS,
            months=ORG_WINDOW_MONTHS if org_rollups else "",
            latest=latest,
            agent_values=AGENT_VALUES,
            click_values=CLICK_VALUES,
        ),
        TOP_LINKS.format(counted=LINKS_CLICKED.format(links=links, latest=latest)),
    )


SERIES_SQL, TOP_VALUES_SQL, _ = stats_sql("link_id = :link_id")
# Every link of the org :org_id, and its top links among candidates (see _org_top_links).
ORG_LINKS = "link_id IN (SELECT links.id FROM links WHERE links.org_id = :org_id)"
ORG_TOP_LINKS = TOP_LINKS.format(
    counted=CANDIDATES_CLICKED.format(latest=LATEST.format(links=ORG_LINKS, click_day=CLICK_DAY))
)
# Counters walked before the top links of an org are summed the plain way (every link's days).
WALKS = (10 * TOP, 100 * TOP)


async def select_link_stats(db: Database, link_id: int, days: int) -> LinkStats:
    """Stats of the last ``days`` UTC days, today included."""
    stats, _ = await _select_stats(db, "link_id = :link_id", {"link_id": link_id}, days)
    return stats


@dataclass
class TopLink:
    slug: str
    title: str | None
    domain: str | None  # its branded domain; None: the default one
    clicks: int


async def select_org_stats(
    db: Database, conditions: list[str], values: dict[str, Any], days: int, *, whole_org: bool
) -> tuple[LinkStats, list[TopLink]]:
    """Stats of the links that ``conditions`` on ``links`` select (an org's, see
    ``links.link_filters``), and the top links among them. ``whole_org``: they select every
    link of the org ``values["org_id"]``, so the org-wide roll-ups serve."""
    links = (
        ORG_LINKS
        if whole_org
        else f"link_id IN (SELECT links.id FROM links WHERE {' AND '.join(conditions)})"  # noqa: S608
    )
    return await _select_stats(db, links, values, days, top_links=True, org_rollups=whole_org)


def _month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


async def _select_stats(
    db: Database,
    links: str,
    values: dict[str, Any],
    days: int,
    *,
    top_links: bool = False,
    org_rollups: bool = False,
) -> tuple[LinkStats, list[TopLink]]:
    series_sql, top_values_sql, top_links_sql = stats_sql(links, org_rollups)
    today = datetime.datetime.now(datetime.UTC).date()
    first = today - datetime.timedelta(days=days - 1)
    # One snapshot for the mark and every read: a roll-up committing in between would
    # otherwise count its clicks twice (in the rollups and past the old mark).
    async with db.transaction(isolation="repeatable_read", readonly=True):
        after = await db.fetch_val(f"SELECT {ROLLED_UP_TO}")  # noqa: S608
        values = {**values, "first": first, "after": after}
        series = await db.fetch_all(series_sql, {**values, "days": days})
        values["top"] = TOP
        if org_rollups:
            # The window's whole months: from the first month start in it to this month's.
            next_month = _month_start(_month_start(first) + datetime.timedelta(days=31))
            months_from = first if first.day == 1 else next_month
            months = {"months_from": months_from, "months_to": _month_start(today)}
            top_values = await db.fetch_all(top_values_sql, {**values, **months})
            best = await _org_top_links(db, top_links_sql, values)
        else:
            top_values = await db.fetch_all(top_values_sql, values)
            best = await db.fetch_all(top_links_sql, values) if top_links else []
    tops = top_lists(top_values)
    stats = LinkStats(
        total_clicks=sum(row["clicks"] for row in series),
        unique_visitors=sum(row["visitors"] for row in series),
        series=[DayClicks(date=row["day"], clicks=row["clicks"]) for row in series],
        referrers=tops["referrer"],
        browsers=tops["browser"],
        os=tops["os"],
        devices=tops["device"],
        countries=tops["country"],
    )
    top = [TopLink(row["slug"], row["title"], row["domain"], row["clicks"]) for row in best]
    return stats, top


async def _org_top_links(
    db: Database, every_link_sql: str, values: dict[str, Any]
) -> list[Record]:
    """An org's top links in the window without summing every link's days: no link has more
    clicks in a window than its counter (its clicks before the counters' day) unless it was
    clicked since, so the top among the links with the highest counters and the recent ones
    is the top of all once its last entry comes before the last counter walked (in the order
    clicks, then id). Otherwise more are walked, and past WALKS every link's days are summed
    (``every_link_sql``): a short window of an org whose busiest links are past their peak."""
    for walk in WALKS:
        walked = await db.fetch_all(WALK_COUNTERS, {"org_id": values["org_id"], "walk": walk})
        best = await db.fetch_all(
            ORG_TOP_LINKS, {**values, "walked": [row["link_id"] for row in walked]}
        )
        if len(walked) < walk:
            return best
        bound, last = walked[-1]["clicks"], walked[-1]["link_id"]
        if len(best) == TOP and (best[-1]["clicks"], -best[-1]["id"]) > (bound, -last):
            return best
    return await db.fetch_all(every_link_sql, values)


def top_lists(rows: Sequence[Record]) -> dict[str, list[Any]]:
    """Rows (dimension, value, clicks) as a list per dimension; a country '' is unknown."""
    tops: dict[str, list[Any]] = {dimension: [] for dimension in DIMENSIONS}
    for row in rows:
        if row["dimension"] == "country":
            tops["country"].append(CountryClicks(value=row["value"] or None, clicks=row["clicks"]))
        else:
            tops[row["dimension"]].append(ValueClicks(value=row["value"], clicks=row["clicks"]))
    return tops
