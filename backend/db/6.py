"""Idempotent click batches: a batch whose commit went unanswered is not written twice.

When the connection breaks during a flush's COMMIT (a database restart, a failover), the
database may have committed the batch or not; the flusher cannot tell, so it keeps the batch
and writes it again. Each batch now carries a random token, inserted in the same transaction
as its clicks: a retry whose token is already there writes nothing. A retry comes within the
outage, so the retention deletes tokens after a day.
"""

STATEMENTS = [
    """CREATE TABLE click_batch_tokens (
           token UUID PRIMARY KEY,
           at TIMESTAMPTZ NOT NULL DEFAULT now()
       )""",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
