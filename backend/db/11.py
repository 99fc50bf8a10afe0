"""Link change notifications on a channel of the installation's own schema.

Several installations may share a database, each in its own schema (``KURZ_DB_SCHEMA``). The
triggers of db/2.py NOTIFY the one channel ``kurz_links``, so an edit in one installation
evicted the same slug from every other installation's cache. Each installation now has a
channel named after the schema of its ``links`` table (``kurz.database.links_channel``):
'kurz_links_' and the first 32 hex digits of the SHA-256 of the schema name, since a channel
name is cut at 63 bytes and a schema name may be that long.
"""

CHANNEL = "'kurz_links_' || left(encode(sha256(convert_to(TG_TABLE_SCHEMA, 'UTF8')), 'hex'), 32)"

STATEMENTS = [
    f"""CREATE OR REPLACE FUNCTION links_notify_rows() RETURNS trigger
       LANGUAGE plpgsql AS $$
       DECLARE
           channel TEXT := {CHANNEL};
           changed TEXT[];
       BEGIN
           IF TG_OP = 'INSERT' THEN
               SELECT array_agg(slug) INTO changed FROM (SELECT slug FROM new_rows LIMIT 101) s;
           ELSE
               SELECT array_agg(slug) INTO changed FROM (SELECT slug FROM old_rows LIMIT 101) s;
           END IF;
           IF cardinality(changed) > 100 THEN
               PERFORM pg_notify(channel, '*');
           ELSIF changed IS NOT NULL THEN
               PERFORM pg_notify(channel, slug) FROM unnest(changed) AS slug;
           END IF;
           RETURN NULL;
       END
       $$""",  # noqa: S608 - CHANNEL is a constant
    f"""CREATE OR REPLACE FUNCTION links_notify_update() RETURNS trigger
       LANGUAGE plpgsql AS $$
       DECLARE
           channel TEXT := {CHANNEL};
       BEGIN
           PERFORM pg_notify(channel, OLD.slug);
           IF NEW.slug <> OLD.slug THEN
               PERFORM pg_notify(channel, NEW.slug);
           END IF;
           RETURN NULL;
       END
       $$""",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
