"""Cheaper roll-ups, again: a link's counter is no longer updated by every roll-up.

At the benchmark's load a roll-up updates three rows per clicked link and day: its day, its
browser combination and its counter in ``link_clicks`` (~2 µs of PostgreSQL CPU per click for
the counter alone). The daily rows already count today's clicks, so ``link_clicks`` now counts
the rolled-up clicks of days before ``click_rollup.counters_before`` only, and a link's clicks
are its counter plus its ``click_days`` from that day on (a row or two) plus its clicks not
rolled up yet. The first roll-up of a day adds the days before it to the counters and moves
``counters_before`` to that day; a click of an earlier day rolled up later goes to the counter
at once. Link reads give the same count before and after this migration.

The days to add are found through a block-range index on ``click_days (day)``: rows are
written day after day, so it stays a few pages and costs the roll-ups next to nothing. Autovacuum
summarizes each range of pages once it is full (``autosummarize``); until then the range is
read whole.
"""

STATEMENTS = [
    # Takes its turn with a roll-up in progress (see roll_up_clicks).
    "SELECT rolled_up_to FROM click_rollup FOR UPDATE",
    "ALTER TABLE click_rollup ADD COLUMN counters_before DATE",
    "UPDATE click_rollup SET counters_before = CAST(now() AT TIME ZONE 'UTC' AS DATE)",
    "ALTER TABLE click_rollup ALTER COLUMN counters_before SET NOT NULL",
    # Takes today's clicks off the counters (an insert for a link without a counter row, so
    # that its reads stay the same whatever the counters held).
    """INSERT INTO link_clicks (link_id, clicks)
       SELECT link_id, -sum(clicks) FROM click_days
        WHERE day >= (SELECT counters_before FROM click_rollup)
        GROUP BY link_id
       ON CONFLICT (link_id) DO UPDATE SET clicks = link_clicks.clicks + EXCLUDED.clicks""",
    """CREATE INDEX click_days_day_brin_idx ON click_days USING brin (day)
       WITH (autosummarize = on)""",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
