"""Audit entries get a random public id: the internal one counts up across all orgs.

Clients see ``public_id`` (and cursors sealed by the app), never ``id``. The append-only
trigger is redefined so that ``public_id`` is among the columns no change may touch.
"""

STATEMENTS = [
    "ALTER TABLE audit_log ADD COLUMN public_id UUID NOT NULL DEFAULT gen_random_uuid()",
    "CREATE UNIQUE INDEX audit_log_public_id_key ON audit_log (public_id)",
    """CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
           IF TG_OP = 'DELETE'
              AND NOT EXISTS (SELECT 1 FROM orgs WHERE id = OLD.org_id) THEN
               RETURN OLD;
           END IF;
           IF TG_OP = 'UPDATE'
              AND NEW.actor_id IS NULL
              AND OLD.actor_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM users WHERE id = OLD.actor_id)
              AND (NEW.id, NEW.public_id, NEW.org_id, NEW.at, NEW.token_id, NEW.action,
                   NEW.target, NEW.detail, NEW.ip_hash)
                  IS NOT DISTINCT FROM
                  (OLD.id, OLD.public_id, OLD.org_id, OLD.at, OLD.token_id, OLD.action,
                   OLD.target, OLD.detail, OLD.ip_hash) THEN
               RETURN NEW;
           END IF;
           RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
               USING ERRCODE = 'insufficient_privilege';
       END
       $$""",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
