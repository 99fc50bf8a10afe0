"""Stats and link reads stay fast on busy links: they read the daily rollups and the link's raw
clicks past the roll-up mark through their keys, never all the raw clicks. Loads 200k clicks
(150k on one link), rolls them up, adds 1,000 not rolled up, and checks the plans and the
answers."""

import datetime
import json
from dataclasses import replace

import pytest

from kurz.models.clicks import (
    LINK_CLICKS,
    LOCK_BATCHES_SHARED,
    SERIES_SQL,
    TOP,
    TOP_VALUES_SQL,
    roll_up_clicks,
    select_link_stats,
)
from kurz.models.links import select_link

from .support import insert_link

# :count clicks in one batch, 3 of 4 on link :hot, the rest over :others. (Written as a flush
# writes its batch: see load_clicks.)
LOAD_CLICKS = """WITH batch AS (SELECT nextval('click_batches') AS id)
    INSERT INTO clicks (batch, link_id, at, bot, referrer, browser, os, device, visitor)
    SELECT batch.id,
           CASE WHEN i % 4 = 0 THEN (CAST(:others AS BIGINT[]))[1 + (i / 4) % 200] ELSE :hot END,
           now() - make_interval(days => i % 397, secs => i % 86400),
           i % 20 = 0,
           (ARRAY['news.ycombinator.com', 't.co', 'www.google.com', NULL])[1 + i % 4],
           (ARRAY['Chrome', 'Firefox', 'Mobile Safari', 'Edge', 'Opera'])[1 + i % 5],
           (ARRAY['Windows', 'iOS', 'Android', 'Mac OS X'])[1 + i % 4],
           (ARRAY['desktop', 'mobile', 'tablet'])[1 + i % 3],
           decode(md5(CAST(i % 50000 AS TEXT)), 'hex')
      FROM batch, generate_series(1, :count) AS i"""


# Browser combinations of the other links over :days days: in a real table the busy link's rows
# are a small part of the rollups, as here (else reading them all would rightly be cheaper).
OTHER_AGENTS = """INSERT INTO click_day_agents (link_id, day, browser, os, device, clicks)
    SELECT link_id, CURRENT_DATE - day, 'Browser ' || browser, 'Linux', 'desktop', 1
      FROM unnest(CAST(:others AS BIGINT[])) AS link_id, generate_series(1, :days) AS day,
           generate_series(1, 4) AS browser"""

# Links with counters of their own, for the same reason: :count of them in org :org_id.
OTHER_LINKS = """WITH made AS (
        INSERT INTO links (org_id, slug, url)
        SELECT :org_id, 'other-' || i, 'https://example.com/' FROM generate_series(1, :count) AS i
        RETURNING id
    )
    INSERT INTO link_clicks (link_id, org_id, clicks) SELECT id, :org_id, 1 FROM made"""


@pytest.fixture
def settings(settings):
    # Loading 200k clicks and 320k rollup rows outlasts the app's 5 s query deadline on a busy
    # machine; the plans, not the load time, are what this test checks.
    return replace(settings, db_query_timeout=300)


async def load_clicks(db, **values) -> None:
    async with db.transaction():
        await db.execute(LOCK_BATCHES_SHARED)
        await db.execute(LOAD_CLICKS, values)


# Tables of a row or two, which a sequential scan reads at once.
TINY_TABLES = {"click_rollup"}


def plan_nodes(plan: dict, subqueries: bool = True):
    """A plan's nodes; without ``subqueries``, only those a node reads through (a bitmap heap
    scan's index scans), not the subqueries it evaluates per row."""
    yield plan
    for child in plan.get("Plans", []):
        if subqueries or child.get("Parent Relationship") not in ("SubPlan", "InitPlan"):
            yield from plan_nodes(child, subqueries)


def scans(plan: dict) -> set[tuple[str, str | None]]:
    """(table, index) of every table read, None for no index; bitmap heap scans take the index
    of their bitmap index scans."""
    found = set()
    for node in plan_nodes(plan):
        if "Relation Name" in node and node["Relation Name"] not in TINY_TABLES:
            indexes = [
                child["Index Name"]
                for child in plan_nodes(node, subqueries=False)
                if "Index Name" in child
            ]
            found.add((node["Relation Name"], indexes[0] if indexes else None))
    return found


async def test_stats_read_rollups_and_latest_clicks_by_index(db) -> None:
    org_id = str(await db.fetch_val("INSERT INTO orgs (name) VALUES ('Acme') RETURNING id"))
    hot = await insert_link(db, org_id, "hot")
    others = [await insert_link(db) for _ in range(200)]
    await load_clicks(db, hot=hot, others=others, count=200_000)
    await roll_up_clicks(db)
    assert await db.fetch_val("SELECT sum(clicks + bot_clicks) FROM click_days") == 200_000
    await load_clicks(db, hot=hot, others=others, count=1_000)
    await db.execute(OTHER_AGENTS, {"others": others, "days": 400})
    await db.execute(OTHER_LINKS, {"org_id": org_id, "count": 20_000})
    await db.execute("ANALYZE")

    first = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=364)
    common = {
        "first": first,
        "link_id": hot,
        "after": await db.fetch_val("SELECT rolled_up_to FROM click_rollup"),
    }
    link_clicks = f"SELECT {LINK_CLICKS} FROM links WHERE id = :link_id"  # noqa: S608
    for sql, values in (
        (SERIES_SQL, {**common, "days": 365}),
        (TOP_VALUES_SQL, {**common, "top": TOP}),
        (link_clicks, {"link_id": hot}),  # the clicks of a link read
    ):
        plan = json.loads(await db.fetch_val(f"EXPLAIN (FORMAT JSON) {sql}", values))[0]["Plan"]
        assert scans(plan) <= {
            ("click_days", "click_days_pkey"),
            ("click_day_referrers", "click_day_referrers_pkey"),
            ("click_day_agents", "click_day_agents_pkey"),
            ("click_day_countries", "click_day_countries_pkey"),
            ("click_day_visitors", "click_day_visitors_pkey"),
            ("links", "links_pkey"),
            ("link_clicks", "link_clicks_pkey"),
            # Either reads only the clicks past the mark; the planner takes the one with fewer.
            ("clicks", "clicks_link_batch_idx"),
            ("clicks", "clicks_batch_idx"),
        }, plan
        assert any(table == "clicks" for table, _ in scans(plan)), plan

    stats = await select_link_stats(db, hot, 365)
    expected = await db.fetch_val(
        """SELECT count(*) FROM clicks
            WHERE link_id = :hot AND NOT bot AND CAST(at AT TIME ZONE 'UTC' AS DATE) >= :first""",
        {"hot": hot, "first": first},
    )
    assert stats.total_clicks == expected > 100_000
    assert (await select_link(db, org_id, "hot")).clicks == await db.fetch_val(
        "SELECT count(*) FROM clicks WHERE link_id = :hot AND NOT bot", {"hot": hot}
    )
    assert len(stats.series) == 365
    assert len(stats.browsers) == 5 and len(stats.referrers) == 2
