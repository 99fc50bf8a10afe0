"""Background jobs: one queue for every kind of deferred work (mail, webhook deliveries, CSV
imports, domain re-checks).

A job is written in the same transaction as the change that causes it, so nothing is done
before that change commits and nothing committed is lost. Workers claim due jobs with
``FOR UPDATE SKIP LOCKED`` and hold them by a lease; a job whose worker died is claimed again
once its lease has run out. A finished job is deleted; one out of retries keeps its row with
``failed_at`` set.
"""

STATEMENTS = [
    """CREATE TABLE jobs (
           id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
           kind TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
           payload JSONB NOT NULL DEFAULT '{}',
           run_at TIMESTAMPTZ NOT NULL DEFAULT now(),
           attempts INTEGER NOT NULL DEFAULT 0,
           leased_until TIMESTAMPTZ,
           last_error TEXT,
           failed_at TIMESTAMPTZ,
           created_at TIMESTAMPTZ NOT NULL DEFAULT now()
       )""",
    # The workers' claim: due jobs, oldest first, never the failed ones.
    "CREATE INDEX jobs_due_idx ON jobs (run_at, id) WHERE failed_at IS NULL",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
