"""Org-wide roll-ups (db/24.py): an org's stats read them, and must say exactly what summing
the per-link roll-ups of its links says, over any window, with clicks not rolled up yet, and
after links are deleted; its top links likewise, however its counters lead the walk."""

import datetime
import random
import time
import uuid

from kurz.models.clicks import ClickBatch, insert_clicks, roll_up_clicks, select_org_stats
from kurz.models.links import LinkFilter, delete_link, delete_links, link_filters

from .support import insert_link

DAY_US = 86_400_000_000
AGENTS = [
    ("Chrome", "Windows", "desktop", False),
    ("Mobile Safari", "iOS", "mobile", False),
    ("Firefox", "Linux", "desktop", False),
    ("Googlebot", "Other", "bot", True),
]
REFERRERS = [None, "news.ycombinator.com", "t.co", "example.org"]
COUNTRIES = ["US", "DE", None, "JP"]
WINDOWS = (1, 7, 30, 45, 365)


def batch(clicks: list[tuple[int, int]], seed: int, bots: bool = True) -> ClickBatch:
    """A batch of (link id, days ago) clicks with agents (a bot's too, unless not ``bots``),
    referrers, visitors and countries drawn from ``seed``."""
    chosen = random.Random(seed)
    now = time.time_ns() // 1000
    visitors = [bytes([number]) for number in range(1, 9)]
    return ClickBatch(
        token=uuid.uuid4(),
        link_ids=[link for link, _ in clicks],
        times=[now - ago * DAY_US - chosen.randrange(3_600_000_000) for _, ago in clicks],
        agent_numbers=[chosen.randrange(len(AGENTS) - (not bots)) + 1 for _ in clicks],
        referrer_numbers=[chosen.randrange(len(REFERRERS)) + 1 for _ in clicks],
        visitor_numbers=[chosen.randrange(len(visitors)) + 1 for _ in clicks],
        agents=AGENTS,
        referrers=REFERRERS,
        visitors=visitors,
        countries=[COUNTRIES[number % len(COUNTRIES)] for number in range(len(visitors))],
    )


async def both_ways(db, org_id: str, days: int):
    """The org's stats and top links from its own roll-ups, and from its links' roll-ups
    summed."""
    conditions, values = link_filters(org_id, LinkFilter())
    org = await select_org_stats(db, conditions, values, days, whole_org=True)
    links = await select_org_stats(db, conditions, values, days, whole_org=False)
    return org, links


async def assert_agree(db, org_id: str) -> None:
    for days in WINDOWS:
        org, links = await both_ways(db, org_id, days)
        assert org == links, f"over {days} days"


async def test_org_stats_agree_with_the_links_summed(db, monkeypatch) -> None:
    org_id = str(await db.fetch_val("INSERT INTO orgs (name) VALUES ('Acme') RETURNING id"))
    other_org = str(await db.fetch_val("INSERT INTO orgs (name) VALUES ('Other') RETURNING id"))
    # More links with counters than the top links' walks take (WALKS), so that a short window
    # sums every link's days; a few old favourites lead the counters with no recent click, and
    # many links tie.
    links = [await insert_link(db, org_id, f"link-{number}") for number in range(1100)]
    elsewhere = await insert_link(db, other_org, "elsewhere")
    chosen = random.Random(7)
    history = [(link, chosen.randrange(1, 400)) for link in links for _ in range(3)]
    favourites = [(link, chosen.randrange(200, 300)) for link in links[:15] for _ in range(40)]
    recent = [(link, chosen.randrange(0, 3)) for link in chosen.sample(links, 60)]
    today = [(link, 0) for link in links[100:110] for _ in range(5)]
    await insert_clicks(db, batch(history + favourites + [(elsewhere, 1)] * 30, seed=1))
    await insert_clicks(db, batch(recent + today, seed=2))
    await roll_up_clicks(db)

    (year, top), _ = await both_ways(db, org_id, 365)
    assert year.total_clicks > 1500 and len(year.referrers) == 3 and len(year.countries) == 4
    assert len(top) == 10
    assert await db.fetch_val("SELECT count(*) FROM org_recent_links") >= 10
    await assert_agree(db, org_id)

    # Clicks not rolled up yet count on both ways.
    await insert_clicks(db, batch([(links[500], 0)] * 12 + [(links[3], 0)], seed=3))
    org, links_summed = await both_ways(db, org_id, 7)
    assert org == links_summed and org[0].total_clicks >= 13

    # Deleted links take their clicks with them, rolled up or not.
    await delete_links(db, org_id, links[:5] + [links[500]])
    assert await delete_link(db, org_id, "link-105")
    await assert_agree(db, org_id)
    await roll_up_clicks(db)
    await assert_agree(db, org_id)
    (after, _), _ = await both_ways(db, org_id, 365)
    assert 0 < after.total_clicks < year.total_clicks


async def test_a_roll_up_of_a_new_day_folds_the_recent_links(db) -> None:
    org_id = str(await db.fetch_val("INSERT INTO orgs (name) VALUES ('Acme') RETURNING id"))
    link = await insert_link(db, org_id, "folded")
    await insert_clicks(db, batch([(link, 0)] * 3, seed=4, bots=False))
    await roll_up_clicks(db)
    assert await db.fetch_val("SELECT clicks FROM org_recent_links") == 3
    # As if those clicks had been rolled up yesterday: today's first roll-up folds them.
    for table in ("click_days", "org_click_days", "org_recent_links"):
        await db.execute(f"UPDATE {table} SET day = day - 1")  # noqa: S608
    await db.execute("UPDATE click_rollup SET counters_before = counters_before - 1")
    await insert_clicks(db, batch([(link, 0)], seed=5, bots=False))
    await roll_up_clicks(db)
    today = datetime.datetime.now(datetime.UTC).date()
    recent = await db.fetch_all("SELECT day, clicks FROM org_recent_links")
    assert [(row["day"], row["clicks"]) for row in recent] == [(today, 1)]
    counter = "SELECT clicks FROM link_clicks WHERE link_id = :id"
    assert await db.fetch_val(counter, {"id": link}) == 3
    org, links = await both_ways(db, org_id, 7)
    assert org == links and org[0].total_clicks == 4
