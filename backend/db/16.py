"""Link controls: a password, a click limit, a URL for when the link is over, targeting rules.

- ``password_hash``: bcrypt of the link's password (NULL: no password).
- ``max_clicks`` and ``clicks_used``: the human redirects a link may still give. The redirect
  path takes one with a single conditional UPDATE, so the limit holds across instances;
  ``clicks_used`` is not a redirect-relevant column (the caches are not told of its changes).
- ``expired_url``: where an expired, disabled or used-up link sends visitors instead of 410.
- ``rules``: ``[{country?, device?, os?, url}]``, evaluated in order on every redirect.

``link_password_failures`` counts recent wrong passwords per link and client address (its
SHA-256), shared by every instance, to slow guessing.
"""

STATEMENTS = [
    """ALTER TABLE links
           ADD COLUMN password_hash TEXT,
           ADD COLUMN max_clicks INTEGER CHECK (max_clicks BETWEEN 1 AND 1000000000),
           ADD COLUMN clicks_used INTEGER NOT NULL DEFAULT 0,
           ADD COLUMN expired_url TEXT,
           ADD COLUMN rules JSONB NOT NULL DEFAULT '[]'""",
    "DROP TRIGGER links_notify_update ON links",
    """CREATE TRIGGER links_notify_update
           AFTER UPDATE OF slug, url, expires_at, disabled, redirect_status, org_id, domain_id,
                           password_hash, max_clicks, expired_url, rules ON links
           FOR EACH ROW
           WHEN ((OLD.slug, OLD.url, OLD.expires_at, OLD.disabled, OLD.redirect_status,
                  OLD.org_id, OLD.domain_id, OLD.password_hash, OLD.max_clicks, OLD.expired_url,
                  OLD.rules)
                 IS DISTINCT FROM
                 (NEW.slug, NEW.url, NEW.expires_at, NEW.disabled, NEW.redirect_status,
                  NEW.org_id, NEW.domain_id, NEW.password_hash, NEW.max_clicks, NEW.expired_url,
                  NEW.rules))
           EXECUTE FUNCTION links_notify_update()""",
    """CREATE TABLE link_password_failures (
           link_id BIGINT NOT NULL REFERENCES links (id) ON DELETE CASCADE,
           address_hash TEXT NOT NULL,
           at TIMESTAMPTZ NOT NULL DEFAULT now()
       )""",
    """CREATE INDEX link_password_failures_link_id_address_hash_at_idx
           ON link_password_failures (link_id, address_hash, at)""",
    "CREATE INDEX link_password_failures_at_idx ON link_password_failures (at)",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
