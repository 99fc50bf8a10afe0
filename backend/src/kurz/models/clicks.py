"""Clicks: a flushed batch with its counters and rollups, visitor salts, retention, link stats.

Stats are read from the daily rollups only (see db/3.py), never from the raw clicks, so they
cost the same for a link with ten clicks or ten million, and cover days whose raw clicks the
retention already deleted.
"""

import datetime
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

from databases import Database

DIMENSIONS = ("referrer", "browser", "os", "device")
TOP = 10
# Deleting in slices keeps each statement short (and under the query timeout) while a big
# backlog expires, without holding locks for long.
DELETE_BATCH = 10_000


class Click(NamedTuple):
    """One click as stored: parsed and hashed, no raw IP address. (A tuple: a flush makes
    thousands of them a second.)"""

    link_id: int
    at: datetime.datetime  # aware, UTC
    day: datetime.date  # UTC
    bot: bool
    referrer: str | None  # host only
    browser: str
    os: str
    device: str
    visitor: bytes

    def values(self) -> tuple[tuple[str, str | None], ...]:
        return (
            ("referrer", self.referrer),
            ("browser", self.browser),
            ("os", self.os),
            ("device", self.device),
        )


# Locking the batch's links, always in id order, keeps them from being deleted before this
# transaction commits (their clicks would then violate the foreign key) and serialises the
# flushers of several instances on the rows they share, without deadlocks.
LOCK_LINKS = """SELECT id FROM links WHERE id = ANY(CAST(:ids AS BIGINT[]))
                 ORDER BY id FOR NO KEY UPDATE"""
INSERT_CLICKS = """INSERT INTO clicks (link_id, at, bot, referrer, browser, os, device, visitor)
    SELECT * FROM unnest(
        CAST(:link_ids AS BIGINT[]), CAST(:ats AS TIMESTAMPTZ[]), CAST(:bots AS BOOLEAN[]),
        CAST(:referrers AS TEXT[]), CAST(:browsers AS TEXT[]), CAST(:oses AS TEXT[]),
        CAST(:devices AS TEXT[]), CAST(:visitors AS BYTEA[]))"""
ADD_LINK_CLICKS = """UPDATE links SET clicks = links.clicks + c.clicks
    FROM unnest(CAST(:ids AS BIGINT[]), CAST(:clicks AS BIGINT[])) AS c (id, clicks)
    WHERE links.id = c.id"""
# Visitors new to a link's day are those whose row the insert did not find already there.
ADD_DAYS = """WITH new_visitors AS (
        INSERT INTO click_day_visitors (link_id, day, visitor)
        SELECT * FROM unnest(
            CAST(:visitor_links AS BIGINT[]), CAST(:visitor_days AS DATE[]),
            CAST(:visitors AS BYTEA[]))
        ON CONFLICT DO NOTHING
        RETURNING link_id, day
    ), fresh AS (
        SELECT link_id, day, count(*) AS visitors FROM new_visitors GROUP BY link_id, day
    )
    INSERT INTO click_days (link_id, day, clicks, bot_clicks, visitors)
    SELECT d.link_id, d.day, d.clicks, d.bot_clicks, coalesce(f.visitors, 0)
      FROM unnest(CAST(:link_ids AS BIGINT[]), CAST(:days AS DATE[]),
                  CAST(:clicks AS BIGINT[]), CAST(:bot_clicks AS BIGINT[]))
           AS d (link_id, day, clicks, bot_clicks)
      LEFT JOIN fresh f ON f.link_id = d.link_id AND f.day = d.day
    ON CONFLICT (link_id, day) DO UPDATE
       SET clicks = click_days.clicks + EXCLUDED.clicks,
           bot_clicks = click_days.bot_clicks + EXCLUDED.bot_clicks,
           visitors = click_days.visitors + EXCLUDED.visitors"""
ADD_DAY_VALUES = """INSERT INTO click_day_values (link_id, day, dimension, value, clicks)
    SELECT * FROM unnest(
        CAST(:link_ids AS BIGINT[]), CAST(:days AS DATE[]), CAST(:dimensions AS TEXT[]),
        CAST(:values AS TEXT[]), CAST(:clicks AS BIGINT[]))
    ON CONFLICT (link_id, day, dimension, value) DO UPDATE
       SET clicks = click_day_values.clicks + EXCLUDED.clicks"""


async def insert_clicks(db: Database, clicks: list[Click]) -> int:
    """Store a batch in one transaction: raw clicks, ``links.clicks`` (humans) and the rollups.

    Clicks of links deleted since they were recorded are skipped; returns how many were stored.
    """
    async with db.transaction():
        link_ids = sorted({click.link_id for click in clicks})
        live = {row["id"] for row in await db.fetch_all(LOCK_LINKS, {"ids": link_ids})}
        clicks = [click for click in clicks if click.link_id in live]
        if not clicks:
            return 0
        await db.execute(
            INSERT_CLICKS,
            {
                "link_ids": [click.link_id for click in clicks],
                "ats": [click.at for click in clicks],
                "bots": [click.bot for click in clicks],
                "referrers": [click.referrer for click in clicks],
                "browsers": [click.browser for click in clicks],
                "oses": [click.os for click in clicks],
                "devices": [click.device for click in clicks],
                "visitors": [click.visitor for click in clicks],
            },
        )
        humans = [click for click in clicks if not click.bot]
        await _add_link_clicks(db, Counter(click.link_id for click in humans))
        await _add_days(db, clicks, humans)
        await _add_day_values(db, humans)
    return len(clicks)


async def _add_link_clicks(db: Database, per_link: Counter) -> None:
    if per_link:
        ids = sorted(per_link)
        await db.execute(ADD_LINK_CLICKS, {"ids": ids, "clicks": [per_link[i] for i in ids]})


async def _add_days(db: Database, clicks: list[Click], humans: list[Click]) -> None:
    human_days = Counter((click.link_id, click.day) for click in humans)
    bot_days = Counter((click.link_id, click.day) for click in clicks if click.bot)
    keys = sorted(human_days.keys() | bot_days.keys())
    visitors = sorted({(click.link_id, click.day, click.visitor) for click in humans})
    await db.execute(
        ADD_DAYS,
        {
            "visitor_links": [link_id for link_id, _, _ in visitors],
            "visitor_days": [day for _, day, _ in visitors],
            "visitors": [visitor for _, _, visitor in visitors],
            "link_ids": [link_id for link_id, _ in keys],
            "days": [day for _, day in keys],
            "clicks": [human_days[key] for key in keys],
            "bot_clicks": [bot_days[key] for key in keys],
        },
    )


async def _add_day_values(db: Database, humans: list[Click]) -> None:
    counts = Counter(
        (click.link_id, click.day, dimension, value)
        for click in humans
        for dimension, value in click.values()
        if value is not None
    )
    if not counts:
        return
    keys = sorted(counts)
    await db.execute(
        ADD_DAY_VALUES,
        {
            "link_ids": [key[0] for key in keys],
            "days": [key[1] for key in keys],
            "dimensions": [key[2] for key in keys],
            "values": [key[3] for key in keys],
            "clicks": [counts[key] for key in keys],
        },
    )


async def select_visitor_salt(db: Database, day: datetime.date, candidate: bytes) -> bytes:
    """The salt of a UTC day: ``candidate`` if this instance is the first to ask, else the
    one another instance stored first (two statements, so the select sees its commit)."""
    values = {"day": day, "salt": candidate}
    await db.execute(
        "INSERT INTO visitor_salts (day, salt) VALUES (:day, :salt) ON CONFLICT (day) DO NOTHING",
        values,
    )
    return await db.fetch_val("SELECT salt FROM visitor_salts WHERE day = :day", {"day": day})


# Each deletes one slice and counts it.
DELETE_OLD_CLICKS = """WITH deleted AS (
        DELETE FROM clicks WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM clicks WHERE at < :before LIMIT :limit))
        RETURNING 1)
    SELECT count(*) FROM deleted"""
DELETE_OLD_VISITORS = """WITH deleted AS (
        DELETE FROM click_day_visitors WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM click_day_visitors WHERE day < :before LIMIT :limit))
        RETURNING 1)
    SELECT count(*) FROM deleted"""


async def delete_expired_clicks(
    db: Database, before: datetime.datetime, visitors_before: datetime.date
) -> int:
    """Delete raw clicks older than ``before``, and the visitor hashes and salts of days before
    ``visitors_before``; return how many raw clicks were deleted."""
    deleted = await _delete_in_slices(db, DELETE_OLD_CLICKS, before)
    await _delete_in_slices(db, DELETE_OLD_VISITORS, visitors_before)
    await db.execute("DELETE FROM visitor_salts WHERE day < :before", {"before": visitors_before})
    return deleted


async def _delete_in_slices(db: Database, sql: str, before: object) -> int:
    deleted = 0
    while True:
        count = await db.fetch_val(sql, {"before": before, "limit": DELETE_BATCH})
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
class LinkStats:
    """Human visits only, over the window's UTC days (the link's ``clicks`` counts all time)."""

    total_clicks: int
    unique_visitors: int
    series: list[DayClicks]
    referrers: list[ValueClicks]
    browsers: list[ValueClicks]
    os: list[ValueClicks]
    devices: list[ValueClicks]


# One row per day of the window, zeros included; an integer series keeps it free of time zones.
SERIES_SQL = """SELECT CAST(:first AS DATE) + i AS day,
           coalesce(d.clicks, 0) AS clicks, coalesce(d.visitors, 0) AS visitors
      FROM generate_series(0, :days - 1) AS i
      LEFT JOIN (SELECT day, clicks, visitors FROM click_days
                  WHERE link_id = :link_id AND day >= CAST(:first AS DATE)) d
             ON d.day = CAST(:first AS DATE) + i
     ORDER BY day"""
TOP_VALUES_SQL = """SELECT dimension, value, clicks FROM (
        SELECT dimension, value, CAST(sum(clicks) AS BIGINT) AS clicks,
               row_number() OVER (PARTITION BY dimension ORDER BY sum(clicks) DESC, value)
                   AS rank
          FROM click_day_values
         WHERE link_id = :link_id AND day >= CAST(:first AS DATE)
         GROUP BY dimension, value
    ) ranked
    WHERE rank <= :top
    ORDER BY dimension, rank"""


async def select_link_stats(db: Database, link_id: int, days: int) -> LinkStats:
    """Stats of the last ``days`` UTC days, today included."""
    first = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=days - 1)
    series = await db.fetch_all(SERIES_SQL, {"first": first, "days": days, "link_id": link_id})
    tops: dict[str, list[ValueClicks]] = {dimension: [] for dimension in DIMENSIONS}
    for row in await db.fetch_all(
        TOP_VALUES_SQL, {"link_id": link_id, "first": first, "top": TOP}
    ):
        tops[row["dimension"]].append(ValueClicks(value=row["value"], clicks=row["clicks"]))
    return LinkStats(
        total_clicks=sum(row["clicks"] for row in series),
        unique_visitors=sum(row["visitors"] for row in series),
        series=[DayClicks(date=row["day"], clicks=row["clicks"]) for row in series],
        referrers=tops["referrer"],
        browsers=tops["browser"],
        os=tops["os"],
        devices=tops["device"],
    )
