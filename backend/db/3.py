"""Click analytics: raw clicks, daily rollups, and the daily visitor salts.

Raw clicks are kept for ``KURZ_CLICK_RETENTION_DAYS``; the daily rollups are kept as long as
their link, and every stats answer is computed from them alone (at most 365 rows per link for
the series, a few thousand for the top lists), so stats stay fast however many clicks a link has
and however short the retention is. The flusher writes a batch of raw clicks and its rollups in
one transaction, so both always agree.

No raw IP address is ever stored: a visitor is SHA-256(salt of the UTC day + IP + user agent),
truncated to 128 bits, and a day's salt is deleted once the day is over.
"""

STATEMENTS = [
    # One row per redirect, humans and bots alike. No primary key: rows are only ever inserted,
    # read by link and time, and deleted by age.
    """CREATE TABLE clicks (
           link_id BIGINT NOT NULL REFERENCES links (id) ON DELETE CASCADE,
           at TIMESTAMPTZ NOT NULL,
           bot BOOLEAN NOT NULL,
           referrer TEXT,
           browser TEXT NOT NULL,
           os TEXT NOT NULL,
           device TEXT NOT NULL CHECK (device IN ('desktop', 'mobile', 'tablet', 'bot', 'other')),
           visitor BYTEA NOT NULL
       )""",
    # A link's clicks in time order (raw exports, the cascade when a link is deleted).
    "CREATE INDEX clicks_link_at_idx ON clicks (link_id, at)",
    # Rows arrive in time order, so a block-range index finds expired ones for almost nothing.
    "CREATE INDEX clicks_at_brin_idx ON clicks USING brin (at)",
    # Per link and UTC day: human clicks, distinct human visitors, bot clicks.
    """CREATE TABLE click_days (
           link_id BIGINT NOT NULL REFERENCES links (id) ON DELETE CASCADE,
           day DATE NOT NULL,
           clicks BIGINT NOT NULL DEFAULT 0,
           visitors BIGINT NOT NULL DEFAULT 0,
           bot_clicks BIGINT NOT NULL DEFAULT 0,
           PRIMARY KEY (link_id, day)
       )""",
    # Per link and UTC day: human clicks by referrer host, browser, OS and device class.
    """CREATE TABLE click_day_values (
           link_id BIGINT NOT NULL REFERENCES links (id) ON DELETE CASCADE,
           day DATE NOT NULL,
           dimension TEXT NOT NULL CHECK (dimension IN ('referrer', 'browser', 'os', 'device')),
           value TEXT NOT NULL,
           clicks BIGINT NOT NULL,
           PRIMARY KEY (link_id, day, dimension, value)
       )""",
    # The visitors already counted in click_days.visitors, so a batch counts only new ones.
    # Needed only while clicks of that day can still arrive: purged after a day.
    """CREATE TABLE click_day_visitors (
           link_id BIGINT NOT NULL REFERENCES links (id) ON DELETE CASCADE,
           day DATE NOT NULL,
           visitor BYTEA NOT NULL,
           PRIMARY KEY (link_id, day, visitor)
       )""",
    # One random salt per UTC day, shared by every instance (first writer wins).
    """CREATE TABLE visitor_salts (
           day DATE PRIMARY KEY,
           salt BYTEA NOT NULL CHECK (length(salt) = 32)
       )""",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
