"""``pdm run bench-org-stats``: org-wide stats of an org of 100,000 links and 10,000,000 clicks
over 365 days.

The clicks are seeded straight into the daily roll-ups that stats read, as a year of roll-ups
would leave them: writing ten million raw clicks and rolling them up takes far longer than the
measurement and measures the roll-up instead. Each of the 100,000 links has clicks on 10 days
(1,000,000 link-days of 10 clicks each), with a referrer, an agent and a country row per
link-day; the org-wide roll-ups are their sums, the link counters hold the days before today
and the links clicked today are the org's recent ones (see db/24.py). Then the median time of
``select_org_stats`` (the query behind ``GET /orgs/{id}/stats``), in process, for 365 and 30
days, unfiltered and filtered by a tag on 1 % of the links.
"""

import argparse
import asyncio
import statistics
import sys
import time

import asyncpg
from databases import Database

from kurz.migrations import migrate_url
from kurz.models.clicks import select_org_stats
from kurz.models.links import LinkFilter, link_filters

from .run import postgres

LINKS = 100_000
DAYS_PER_LINK = 10
CLICKS_PER_DAY = 10  # LINKS * DAYS_PER_LINK * CLICKS_PER_DAY = 10,000,000

SEED = [
    "INSERT INTO orgs (id, name) VALUES (md5('bench-org-stats')::uuid, 'Org stats')",
    """INSERT INTO tags (org_id, name, color)
       VALUES (md5('bench-org-stats')::uuid, 'one-percent', '#2563eb')""",
    """INSERT INTO links (org_id, slug, url, tag_ids)
       SELECT md5('bench-org-stats')::uuid, 'os' || i, 'https://example.com/' || i,
              CASE WHEN i % 100 = 0 THEN ARRAY[(SELECT id FROM tags)] ELSE '{}' END
         FROM generate_series(1, $1) AS i""",
    # Link-days spread over the year: link i on days (i * 37 + k * 36) mod 365, k < 10.
    f"""INSERT INTO click_days (link_id, day, clicks, visitors)
        SELECT id, CURRENT_DATE - ((id * 37 + k * 36) % 365)::int, {CLICKS_PER_DAY},
               {CLICKS_PER_DAY // 2}
          FROM links, generate_series(0, {DAYS_PER_LINK - 1}) AS k""",  # noqa: S608
    """INSERT INTO click_day_referrers (link_id, day, referrer, clicks)
       SELECT link_id, day, 'site' || (link_id % 300) || '.example', clicks FROM click_days""",
    """INSERT INTO click_day_agents (link_id, day, browser, os, device, clicks)
       SELECT link_id, day, (ARRAY['Chrome', 'Firefox', 'Safari', 'Edge'])[1 + link_id % 4],
              (ARRAY['Windows', 'Mac OS X', 'Android', 'iOS'])[1 + (day - DATE '2000-01-01') % 4],
              (ARRAY['desktop', 'mobile'])[1 + link_id % 2], clicks
         FROM click_days""",
    """INSERT INTO click_day_countries (link_id, day, country, clicks)
       SELECT link_id, day,
              (ARRAY['US', 'DE', 'FR', 'GB', 'IN', 'BR', 'JP', ''])
                  [1 + (day - DATE '2000-01-01') % 8],
              clicks
         FROM click_days""",
    """INSERT INTO org_click_days (org_id, day, clicks, visitors)
       SELECT md5('bench-org-stats')::uuid, day, sum(clicks), sum(visitors)
         FROM click_days GROUP BY day""",
    """INSERT INTO org_click_day_referrers (org_id, day, referrer, clicks)
       SELECT md5('bench-org-stats')::uuid, day, referrer, sum(clicks)
         FROM click_day_referrers GROUP BY day, referrer""",
    """INSERT INTO org_click_day_agents (org_id, day, browser, os, device, clicks)
       SELECT md5('bench-org-stats')::uuid, day, browser, os, device, sum(clicks)
         FROM click_day_agents GROUP BY day, browser, os, device""",
    """INSERT INTO org_click_day_countries (org_id, day, country, clicks)
       SELECT md5('bench-org-stats')::uuid, day, country, sum(clicks)
         FROM click_day_countries GROUP BY day, country""",
    """INSERT INTO org_click_month_values (org_id, month, dimension, value, clicks)
       SELECT org_id, CAST(date_trunc('month', day) AS DATE), dimension, value, sum(clicks)
         FROM (SELECT org_id, day, 'referrer' AS dimension, referrer AS value, clicks
                 FROM org_click_day_referrers
               UNION ALL
               SELECT org_id, day, v.dimension, v.value, clicks FROM org_click_day_agents
                CROSS JOIN LATERAL (VALUES ('browser', browser), ('os', os), ('device', device))
                      AS v (dimension, value)
               UNION ALL
               SELECT org_id, day, 'country', country, clicks FROM org_click_day_countries
              ) AS valued
        GROUP BY org_id, CAST(date_trunc('month', day) AS DATE), dimension, value""",
    "UPDATE click_rollup SET counters_before = CURRENT_DATE",
    """INSERT INTO link_clicks (link_id, org_id, clicks)
       SELECT link_id, md5('bench-org-stats')::uuid, sum(clicks) FROM click_days
        WHERE day < CURRENT_DATE GROUP BY link_id""",
    """INSERT INTO org_recent_links (org_id, day, link_id, clicks)
       SELECT md5('bench-org-stats')::uuid, day, link_id, clicks FROM click_days
        WHERE day >= CURRENT_DATE""",
    "VACUUM ANALYZE",
]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def seed(url: str) -> None:
    await migrate_url(url)
    connection = await asyncpg.connect(url)
    try:
        for statement in SEED:
            log(statement.split("\n")[0][:70])
            if "$1" in statement:
                await connection.execute(statement, LINKS)
            else:
                await connection.execute(statement)
        total = await connection.fetchval("SELECT sum(clicks) FROM click_days")
        log(f"{total:,} clicks in the roll-ups")
    finally:
        await connection.close()


async def measure(url: str, samples: int) -> dict[str, float]:
    db = Database(url)
    await db.connect()
    try:
        org_id = await db.fetch_val("SELECT CAST(md5('bench-org-stats') AS UUID)")
        tag_id = await db.fetch_val("SELECT id FROM tags")
        results = {}
        for name, days, tags in (
            ("org_stats_365_days_ms", 365, None),
            ("org_stats_30_days_ms", 30, None),
            ("org_stats_365_days_tag_ms", 365, [tag_id]),
        ):
            conditions, values = link_filters(str(org_id), LinkFilter(tag_ids=tags))
            whole_org = tags is None
            timings = []
            for _ in range(samples + 1):  # the first warms the caches
                started = time.perf_counter()
                stats, top = await select_org_stats(
                    db, conditions, values, days, whole_org=whole_org
                )
                timings.append((time.perf_counter() - started) * 1000)
            results[name] = statistics.median(timings[1:])
            log(f"{name}: {results[name]:.1f} ms ({stats.total_clicks:,} clicks, {len(top)} top)")
        return results
    finally:
        await db.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=11)
    args = parser.parse_args()
    with postgres() as url:
        started = time.monotonic()
        asyncio.run(seed(url))
        log(f"seeded in {time.monotonic() - started:.0f} s")
        results = asyncio.run(measure(url, args.samples))
    for name, value in results.items():
        print(f"{name}: {value:.1f}")


if __name__ == "__main__":
    main()
