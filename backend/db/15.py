"""Branded domains: an org's own hostnames, and links on them.

A hostname may be claimed by several orgs but verified by one only (the partial unique index),
so a claim that is never verified blocks nobody. Slugs are unique per domain, the default domain
(``domain_id`` NULL) being one namespace of its own.

The redirect caches key a link by ``slug`` on the default domain and by ``<domain_id>/<slug>``
on a branded one ('/' is never in a slug), so the link triggers now NOTIFY that key, on the
schema's own channel (see db/11.py). Any change of a domain NOTIFYs ``#domains`` ('#' is never
in a slug either): each instance then reloads its set of verified hostnames.
"""

CHANNEL = "'kurz_links_' || left(encode(sha256(convert_to(TG_TABLE_SCHEMA, 'UTF8')), 'hex'), 32)"

STATEMENTS = [
    """CREATE TABLE domains (
           id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
           org_id UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
           hostname TEXT NOT NULL CHECK (length(hostname) <= 253),
           verification_value TEXT NOT NULL,
           root_url TEXT CHECK (length(root_url) <= 2048),
           not_found_url TEXT CHECK (length(not_found_url) <= 2048),
           created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
           verified_at TIMESTAMPTZ,
           last_checked_at TIMESTAMPTZ,
           last_check_result TEXT,
           check_failures INTEGER NOT NULL DEFAULT 0,
           failing_since TIMESTAMPTZ,
           check_claimed_until TIMESTAMPTZ,
           UNIQUE (org_id, hostname)
       )""",
    """CREATE UNIQUE INDEX domains_verified_hostname_idx ON domains (hostname)
           WHERE verified_at IS NOT NULL""",
    # No cascade: a domain is removed only once no link uses it (an org's delete removes both).
    "ALTER TABLE links ADD COLUMN domain_id BIGINT REFERENCES domains (id)",
    "CREATE UNIQUE INDEX links_domain_slug_idx ON links (domain_id, slug) NULLS NOT DISTINCT",
    "ALTER TABLE links DROP CONSTRAINT links_slug_key",
    f"""CREATE OR REPLACE FUNCTION links_notify_rows() RETURNS trigger
       LANGUAGE plpgsql AS $$
       DECLARE
           channel TEXT := {CHANNEL};
           changed TEXT[];
       BEGIN
           IF TG_OP = 'INSERT' THEN
               SELECT array_agg(key) INTO changed FROM (
                   SELECT coalesce(domain_id || '/', '') || slug AS key FROM new_rows LIMIT 101
               ) s;
           ELSE
               SELECT array_agg(key) INTO changed FROM (
                   SELECT coalesce(domain_id || '/', '') || slug AS key FROM old_rows LIMIT 101
               ) s;
           END IF;
           IF cardinality(changed) > 100 THEN
               PERFORM pg_notify(channel, '*');
           ELSIF changed IS NOT NULL THEN
               PERFORM pg_notify(channel, key) FROM unnest(changed) AS key;
           END IF;
           RETURN NULL;
       END
       $$""",  # noqa: S608 - CHANNEL is a constant
    f"""CREATE OR REPLACE FUNCTION links_notify_update() RETURNS trigger
       LANGUAGE plpgsql AS $$
       DECLARE
           channel TEXT := {CHANNEL};
       BEGIN
           PERFORM pg_notify(channel, coalesce(OLD.domain_id || '/', '') || OLD.slug);
           IF (NEW.slug, NEW.domain_id) IS DISTINCT FROM (OLD.slug, OLD.domain_id) THEN
               PERFORM pg_notify(channel, coalesce(NEW.domain_id || '/', '') || NEW.slug);
           END IF;
           RETURN NULL;
       END
       $$""",
    f"""CREATE FUNCTION domains_notify() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
           PERFORM pg_notify({CHANNEL}, '#domains');
           RETURN NULL;
       END
       $$""",
    # Check bookkeeping (last_checked_at, claims) changes no redirect, so it notifies nobody.
    """CREATE TRIGGER domains_notify_insert_delete
           AFTER INSERT OR DELETE ON domains
           FOR EACH STATEMENT EXECUTE FUNCTION domains_notify()""",
    """CREATE TRIGGER domains_notify_update
           AFTER UPDATE OF hostname, verified_at, root_url, not_found_url ON domains
           FOR EACH STATEMENT EXECUTE FUNCTION domains_notify()""",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
