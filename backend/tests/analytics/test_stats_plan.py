"""Stats stay fast on busy links: they read the daily rollups through their keys, never the
raw clicks. Loads 200k clicks (150k on one link) and checks the plans and the answer."""

import datetime
import json
import time

from kurz.models.clicks import SERIES_SQL, TOP, TOP_VALUES_SQL, select_link_stats

from .support import insert_link

LOAD_CLICKS = """INSERT INTO clicks (link_id, at, bot, referrer, browser, os, device, visitor)
    SELECT CASE WHEN i % 4 = 0 THEN (CAST(:others AS BIGINT[]))[1 + (i / 4) % 200] ELSE :hot END,
           now() - make_interval(days => i % 397, secs => i % 86400),
           i % 20 = 0,
           (ARRAY['news.ycombinator.com', 't.co', 'www.google.com', NULL])[1 + i % 4],
           (ARRAY['Chrome', 'Firefox', 'Mobile Safari', 'Edge', 'Opera'])[1 + i % 5],
           (ARRAY['Windows', 'iOS', 'Android', 'Mac OS X'])[1 + i % 4],
           (ARRAY['desktop', 'mobile', 'tablet'])[1 + i % 3],
           decode(md5(CAST(i % 50000 AS TEXT)), 'hex')
      FROM generate_series(1, 200000) AS i"""
# The rollups the flusher would have written for those clicks.
ROLL_UP = (
    """INSERT INTO click_days (link_id, day, clicks, visitors, bot_clicks)
       SELECT link_id, CAST(at AT TIME ZONE 'UTC' AS DATE), count(*) FILTER (WHERE NOT bot),
              count(DISTINCT visitor) FILTER (WHERE NOT bot), count(*) FILTER (WHERE bot)
         FROM clicks GROUP BY 1, 2""",
    """INSERT INTO click_day_values (link_id, day, dimension, value, clicks)
       SELECT link_id, CAST(at AT TIME ZONE 'UTC' AS DATE), v.dimension, v.value, count(*)
         FROM clicks CROSS JOIN LATERAL (VALUES ('referrer', referrer), ('browser', browser),
                                               ('os', os), ('device', device))
                                     AS v (dimension, value)
        WHERE NOT bot AND v.value IS NOT NULL
        GROUP BY 1, 2, 3, 4""",
    "ANALYZE",
)


def plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


async def test_stats_read_the_rollups_by_index_not_the_raw_clicks(db) -> None:
    hot = await insert_link(db)
    others = [await insert_link(db) for _ in range(200)]
    await db.execute(LOAD_CLICKS, {"hot": hot, "others": others})
    for statement in ROLL_UP:
        await db.execute(statement)

    first = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=364)
    for sql, values in (
        (SERIES_SQL, {"first": first, "days": 365, "link_id": hot}),
        (TOP_VALUES_SQL, {"first": first, "link_id": hot, "top": TOP}),
    ):
        plan = json.loads(await db.fetch_val(f"EXPLAIN (FORMAT JSON) {sql}", values))[0]["Plan"]
        nodes = list(plan_nodes(plan))
        relations = {node["Relation Name"] for node in nodes if "Relation Name" in node}
        indexes = {node["Index Name"] for node in nodes if "Index Name" in node}
        assert relations in ({"click_days"}, {"click_day_values"}), plan
        assert indexes == {f"{relations.pop()}_pkey"}, plan
        assert not any(node["Node Type"] == "Seq Scan" for node in nodes), plan

    started = time.perf_counter()
    stats = await select_link_stats(db, hot, 365)
    elapsed = time.perf_counter() - started
    expected = await db.fetch_val(
        """SELECT count(*) FROM clicks
            WHERE link_id = :hot AND NOT bot AND CAST(at AT TIME ZONE 'UTC' AS DATE) >= :first""",
        {"hot": hot, "first": first},
    )
    assert stats.total_clicks == expected > 100_000
    assert len(stats.series) == 365
    assert len(stats.browsers) == 5 and len(stats.referrers) == 2
    assert elapsed < 0.5, f"stats took {elapsed:.3f}s"
