"""Link change notifications for the redirect caches, and failed-login counts.

Every app instance caches slug -> link for its redirects and LISTENs on ``kurz_links``; the
triggers here NOTIFY it of every change that affects a redirect.

``login_failures`` counts recent failed logins per email (its SHA-256, so that whatever people
type into the email field is not kept), shared by every worker, to slow password guessing.
"""

STATEMENTS = [
    # Every app instance caches slug -> link for redirects and LISTENs on kurz_links: a change
    # that affects a redirect (including the cascade when an org is deleted) NOTIFYs the slugs
    # it touched, delivered at commit. A statement touching many rows sends '*' (clear all)
    # instead of flooding the channel; '*' is never a slug.
    """CREATE FUNCTION links_notify_rows() RETURNS trigger
       LANGUAGE plpgsql AS $$
       DECLARE
           changed TEXT[];
       BEGIN
           IF TG_OP = 'INSERT' THEN
               SELECT array_agg(slug) INTO changed FROM (SELECT slug FROM new_rows LIMIT 101) s;
           ELSE
               SELECT array_agg(slug) INTO changed FROM (SELECT slug FROM old_rows LIMIT 101) s;
           END IF;
           IF cardinality(changed) > 100 THEN
               PERFORM pg_notify('kurz_links', '*');
           ELSIF changed IS NOT NULL THEN
               PERFORM pg_notify('kurz_links', slug) FROM unnest(changed) AS slug;
           END IF;
           RETURN NULL;
       END
       $$""",
    """CREATE TRIGGER links_notify_insert
           AFTER INSERT ON links REFERENCING NEW TABLE AS new_rows
           FOR EACH STATEMENT EXECUTE FUNCTION links_notify_rows()""",
    """CREATE TRIGGER links_notify_delete
           AFTER DELETE ON links REFERENCING OLD TABLE AS old_rows
           FOR EACH STATEMENT EXECUTE FUNCTION links_notify_rows()""",
    # Per row, and only when a redirect-relevant column really changed: the click flusher
    # updates links.clicks every second, which must not evict hot links from the caches.
    """CREATE FUNCTION links_notify_update() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
           PERFORM pg_notify('kurz_links', OLD.slug);
           IF NEW.slug <> OLD.slug THEN
               PERFORM pg_notify('kurz_links', NEW.slug);
           END IF;
           RETURN NULL;
       END
       $$""",
    """CREATE TRIGGER links_notify_update
           AFTER UPDATE OF slug, url, expires_at, disabled, redirect_status, org_id ON links
           FOR EACH ROW
           WHEN ((OLD.slug, OLD.url, OLD.expires_at, OLD.disabled, OLD.redirect_status,
                  OLD.org_id)
                 IS DISTINCT FROM
                 (NEW.slug, NEW.url, NEW.expires_at, NEW.disabled, NEW.redirect_status,
                  NEW.org_id))
           EXECUTE FUNCTION links_notify_update()""",
    """CREATE TABLE login_failures (
           email_hash TEXT NOT NULL,
           at TIMESTAMPTZ NOT NULL DEFAULT now()
       )""",
    "CREATE INDEX login_failures_email_hash_at_idx ON login_failures (email_hash, at)",
    "CREATE INDEX login_failures_at_idx ON login_failures (at)",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
