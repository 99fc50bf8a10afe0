"""Invitations unique per email in any letter case, and the audit log.

The audit log is an append-only record of membership, role, invitation, token and link changes.

Append-only is enforced by the database itself, not only by the code: a trigger refuses every
UPDATE and DELETE of a row, except the two changes the foreign keys make on their own:
- deleting an org cascades to its audit rows (the org, and with it its history, is gone);
- deleting a user sets ``actor_id`` to NULL on the rows they wrote (nothing else may change).
TRUNCATE is refused too.
"""

STATEMENTS = [
    # Re-inviting "Bob@x.io" after "bob@x.io" updates the one invitation (0.py's key is exact).
    "CREATE UNIQUE INDEX invitations_org_email_key ON invitations (org_id, lower(email))",
    """CREATE TABLE audit_log (
           id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
           org_id UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
           at TIMESTAMPTZ NOT NULL DEFAULT now(),
           actor_id UUID REFERENCES users (id) ON DELETE SET NULL,
           token_id UUID,
           action TEXT NOT NULL,
           target TEXT NOT NULL,
           detail JSONB NOT NULL DEFAULT '{}',
           ip_hash TEXT
       )""",
    # Newest-first keyset paging within an org.
    "CREATE INDEX audit_log_org_newest_idx ON audit_log (org_id, id DESC)",
    # Lets the user-deletion SET NULL find a user's rows without a full scan.
    "CREATE INDEX audit_log_actor_id_idx ON audit_log (actor_id)",
    # By the time a foreign-key action reaches this trigger, the org or user row is already
    # deleted (visible to the trigger's query), which is what tells the cascade apart from a
    # plain DELETE or UPDATE issued by anyone.
    """CREATE FUNCTION audit_log_append_only() RETURNS trigger
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
              AND (NEW.id, NEW.org_id, NEW.at, NEW.token_id, NEW.action, NEW.target,
                   NEW.detail, NEW.ip_hash)
                  IS NOT DISTINCT FROM
                  (OLD.id, OLD.org_id, OLD.at, OLD.token_id, OLD.action, OLD.target,
                   OLD.detail, OLD.ip_hash) THEN
               RETURN NEW;
           END IF;
           RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
               USING ERRCODE = 'insufficient_privilege';
       END
       $$""",
    """CREATE TRIGGER audit_log_append_only
           BEFORE UPDATE OR DELETE ON audit_log
           FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
    """CREATE TRIGGER audit_log_no_truncate
           BEFORE TRUNCATE ON audit_log
           FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
