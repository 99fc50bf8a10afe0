"""Job lanes: a job may name a lane (a webhook delivery names its endpoint), and a worker runs
at most a kind's ``per_lane`` jobs of one lane at once. The claim passes over the jobs of lanes
that are full, so a busy endpoint neither takes every slot nor has its jobs claimed only to be
put back. Deliveries already queued get their endpoint's lane."""

STATEMENTS = [
    "ALTER TABLE jobs ADD COLUMN lane TEXT",
    """UPDATE jobs SET lane = CAST(d.webhook_id AS TEXT)
         FROM webhook_deliveries AS d
        WHERE d.job_id = jobs.id AND jobs.kind = 'webhook.delivery'""",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
