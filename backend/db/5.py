"""Cheaper roll-ups: fewer rows written per click, and link counters counted in the roll-up.

Measured on a roll-up of 100,000 clicks spread over 100,000 links (bench/README.md): most of
its time went into rows written per click, about seven: a visitor, a day, four top-list values
(referrer, browser, OS, device), and the flushes' link counters besides.

- ``click_day_values`` held a row per dimension and value. Browser, OS and device all come
  from the user agent, so they are now one row per combination in ``click_day_agents``, and
  referrers have ``click_day_referrers``: one or two rows per click instead of up to four, and
  stats add a combination's clicks to each of its three values. The rows rolled up before
  this migration counted each dimension on its own; they are kept as rows whose other two
  columns are '' (not recorded), which stats skip.
- ``links.clicks`` counts rolled-up clicks: the roll-up adds them, once per link and roll-up,
  and reads of a link add its human clicks past the mark. The flushes of the code before
  this migration counted their batches already: those not rolled up yet are taken off the
  counters here, since the roll-up will add them. Instances running that code must be stopped
  before this one starts (README, "Upgrading").
- Room on the pages of ``links`` keeps those counter updates on the page (HOT), instead of
  adding entries to all four indexes of the table (one of them a trigram index).
- ``click_day_visitors`` loses its foreign key, whose check cost as much as the insert: its
  rows only serve the roll-ups of today and yesterday, and the retention deletes them after
  that, a deleted link's too.
"""

STATEMENTS = [
    # The lock every flush holds shared (BATCHES_LOCK in models/clicks.py): the flushes in
    # progress commit first, and no batch commits while the counters are corrected.
    "SELECT pg_advisory_xact_lock(1802859130)",
    """UPDATE links SET clicks = links.clicks - pending.clicks
         FROM (SELECT link_id, count(*) AS clicks FROM clicks
                WHERE batch > (SELECT rolled_up_to FROM click_rollup) AND NOT bot
                GROUP BY link_id) AS pending
        WHERE links.id = pending.link_id""",
    "ALTER TABLE links SET (fillfactor = 80)",
    """CREATE TABLE click_day_referrers (
           link_id BIGINT NOT NULL REFERENCES links (id) ON DELETE CASCADE,
           day DATE NOT NULL,
           referrer TEXT NOT NULL,
           clicks BIGINT NOT NULL,
           PRIMARY KEY (link_id, day, referrer)
       ) WITH (fillfactor = 70)""",
    """CREATE TABLE click_day_agents (
           link_id BIGINT NOT NULL REFERENCES links (id) ON DELETE CASCADE,
           day DATE NOT NULL,
           browser TEXT NOT NULL,
           os TEXT NOT NULL,
           device TEXT NOT NULL,
           clicks BIGINT NOT NULL,
           PRIMARY KEY (link_id, day, browser, os, device)
       ) WITH (fillfactor = 70)""",
    """INSERT INTO click_day_referrers (link_id, day, referrer, clicks)
       SELECT link_id, day, value, clicks FROM click_day_values WHERE dimension = 'referrer'""",
    """INSERT INTO click_day_agents (link_id, day, browser, os, device, clicks)
       SELECT link_id, day,
              CASE WHEN dimension = 'browser' THEN value ELSE '' END,
              CASE WHEN dimension = 'os' THEN value ELSE '' END,
              CASE WHEN dimension = 'device' THEN value ELSE '' END,
              clicks
         FROM click_day_values WHERE dimension <> 'referrer'""",
    "DROP TABLE click_day_values",
    "ALTER TABLE click_day_visitors DROP CONSTRAINT click_day_visitors_link_id_fkey",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
