"""The job claim's index by kind: a worker claims one kind at a time, and a backlog of one kind
(webhook deliveries, say) must not be walked through to claim another."""

STATEMENTS = [
    "DROP INDEX jobs_due_idx",
    "CREATE INDEX jobs_due_idx ON jobs (kind, run_at, id) WHERE failed_at IS NULL",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
