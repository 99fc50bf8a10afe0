"""Helpers for the analytics tests: links made straight in SQL, browser user agents."""

import uuid

from databases import Database

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
SLACKBOT = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"


async def insert_link(db: Database, org_id: str | None = None, slug: str | None = None) -> int:
    """A link (in a new org unless given one), without going through the links API."""
    if org_id is None:
        org_id = str(await db.fetch_val("INSERT INTO orgs (name) VALUES ('Acme') RETURNING id"))
    return await db.fetch_val(
        """INSERT INTO links (org_id, slug, url) VALUES (:org_id, :slug, 'https://example.com/')
           RETURNING id""",
        {"org_id": org_id, "slug": slug or uuid.uuid4().hex[:10]},
    )


def click(recorder, link_id: int, user_agent: str = CHROME, **fields: str) -> None:
    """Record one redirect like the redirect path does."""
    values = {"method": "GET", "referrer": "", "client_ip": "203.0.113.7", **fields}
    recorder.record(link_id, user_agent=user_agent, **values)
