"""Org-wide roll-ups, so that an org's stats read a row per day (and value), not a row per link
and day: at 100,000 links and 10,000,000 clicks over a year, summing the per-link roll-ups took
seconds.

- ``org_click_days``, ``org_click_day_referrers``, ``org_click_day_agents`` and
  ``org_click_day_countries``: the per-link roll-ups summed per org (human clicks only; visitors
  summed per link and day, as stats count them), and ``org_click_month_values``, the same top
  list values per month: a year's window reads its whole months there and only the days of
  its first and last month (an org's referrers alone can be hundreds a day). The roll-up adds
  to all of them; deleting links takes their clicks off the org's rows in the same statement.
  Filtered stats (by tag or domain) still read the per-link roll-ups of the links they select.
- Top links: ``link_clicks`` gets its link's org and an index by clicks, and
  ``org_recent_links`` counts the clicks of each org's links on days not folded into
  ``link_clicks`` yet (today's, see db/9.py). No link has more clicks in a window than its
  counter plus its recent clicks, so the top of a window is found among the links with the
  highest counters and the recent ones that could still make it.
- ``click_day_visitors`` rows carry their org, so that the roll-up counts new visitors per org
  without joining what it has just written.

Like db/5.py, instances running the code before this migration must be stopped first: their
roll-ups would not add to the org's rows.
"""

STATEMENTS = [
    # Takes its turn with a roll-up in progress (see roll_up_clicks).
    "SELECT rolled_up_to FROM click_rollup FOR UPDATE",
    """CREATE TABLE org_click_days (
           org_id UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
           day DATE NOT NULL,
           clicks BIGINT NOT NULL,
           visitors BIGINT NOT NULL,
           PRIMARY KEY (org_id, day)
       ) WITH (fillfactor = 70)""",
    """CREATE TABLE org_click_day_referrers (
           org_id UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
           day DATE NOT NULL,
           referrer TEXT NOT NULL,
           clicks BIGINT NOT NULL,
           PRIMARY KEY (org_id, day, referrer)
       ) WITH (fillfactor = 70)""",
    """CREATE TABLE org_click_day_agents (
           org_id UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
           day DATE NOT NULL,
           browser TEXT NOT NULL,
           os TEXT NOT NULL,
           device TEXT NOT NULL,
           clicks BIGINT NOT NULL,
           PRIMARY KEY (org_id, day, browser, os, device)
       ) WITH (fillfactor = 70)""",
    """CREATE TABLE org_click_day_countries (
           org_id UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
           day DATE NOT NULL,
           country TEXT NOT NULL,
           clicks BIGINT NOT NULL,
           PRIMARY KEY (org_id, day, country)
       ) WITH (fillfactor = 70)""",
    """INSERT INTO org_click_days (org_id, day, clicks, visitors)
       SELECT links.org_id, day, sum(clicks), sum(visitors)
         FROM click_days JOIN links ON links.id = click_days.link_id
        WHERE clicks > 0 OR visitors > 0
        GROUP BY links.org_id, day""",
    """INSERT INTO org_click_day_referrers (org_id, day, referrer, clicks)
       SELECT links.org_id, day, referrer, sum(clicks)
         FROM click_day_referrers JOIN links ON links.id = click_day_referrers.link_id
        GROUP BY links.org_id, day, referrer""",
    """INSERT INTO org_click_day_agents (org_id, day, browser, os, device, clicks)
       SELECT links.org_id, day, browser, os, device, sum(clicks)
         FROM click_day_agents JOIN links ON links.id = click_day_agents.link_id
        GROUP BY links.org_id, day, browser, os, device""",
    """INSERT INTO org_click_day_countries (org_id, day, country, clicks)
       SELECT links.org_id, day, country, sum(clicks)
         FROM click_day_countries JOIN links ON links.id = click_day_countries.link_id
        GROUP BY links.org_id, day, country""",
    """CREATE TABLE org_click_month_values (
           org_id UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
           month DATE NOT NULL,
           dimension TEXT NOT NULL
               CHECK (dimension IN ('referrer', 'browser', 'os', 'device', 'country')),
           value TEXT NOT NULL,
           clicks BIGINT NOT NULL,
           PRIMARY KEY (org_id, month, dimension, value)
       ) WITH (fillfactor = 70)""",
    """INSERT INTO org_click_month_values (org_id, month, dimension, value, clicks)
       SELECT org_id, CAST(date_trunc('month', day) AS DATE), dimension, value, sum(clicks)
         FROM (SELECT org_id, day, 'referrer' AS dimension, referrer AS value, clicks
                 FROM org_click_day_referrers
               UNION ALL
               SELECT org_id, day, v.dimension, v.value, clicks FROM org_click_day_agents
                CROSS JOIN LATERAL (VALUES ('browser', browser), ('os', os), ('device', device))
                      AS v (dimension, value)
                WHERE v.value <> ''
               UNION ALL
               SELECT org_id, day, 'country', country, clicks FROM org_click_day_countries
              ) AS valued
        GROUP BY org_id, CAST(date_trunc('month', day) AS DATE), dimension, value""",
    "ALTER TABLE link_clicks ADD COLUMN org_id UUID",
    """UPDATE link_clicks SET org_id = links.org_id
         FROM links WHERE links.id = link_clicks.link_id""",
    "ALTER TABLE link_clicks ALTER COLUMN org_id SET NOT NULL",
    "CREATE INDEX link_clicks_org_idx ON link_clicks (org_id, clicks DESC, link_id)",
    """CREATE TABLE org_recent_links (
           org_id UUID NOT NULL,
           day DATE NOT NULL,
           link_id BIGINT NOT NULL REFERENCES links (id) ON DELETE CASCADE,
           clicks BIGINT NOT NULL,
           PRIMARY KEY (org_id, day, link_id)
       ) WITH (fillfactor = 70)""",
    """INSERT INTO org_recent_links (org_id, day, link_id, clicks)
       SELECT links.org_id, day, link_id, clicks
         FROM click_days JOIN links ON links.id = click_days.link_id
        WHERE clicks > 0 AND day >= (SELECT counters_before FROM click_rollup)""",
    "ALTER TABLE click_day_visitors ADD COLUMN org_id UUID",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
