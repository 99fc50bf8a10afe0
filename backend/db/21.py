"""Indexes for the links workspace's filters and the audit log's filters.

- "My links" (and any creator filter) pages through one creator's links in an org, newest
  first, without reading everyone else's.
- The audit log filtered to one link (its slug is the entry's target) reads that link's
  entries only.
"""

STATEMENTS = [
    """CREATE INDEX links_org_creator_newest_idx
           ON links (org_id, created_by, created_at DESC, id DESC)""",
    "CREATE INDEX audit_log_org_target_idx ON audit_log (org_id, target, id DESC)",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
