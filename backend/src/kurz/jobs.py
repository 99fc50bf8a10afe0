"""Background jobs: the one queue for deferred work, claimed through PostgreSQL.

A feature defines a ``JobKind`` (a name, an async handler, its retry delays) and registers it
with the app's ``JobWorker``; it queues work with ``enqueue`` on the connection of the
transaction that causes it. Every instance runs a worker: it claims due jobs with
``FOR UPDATE SKIP LOCKED`` under a lease that it renews while the handler runs, so a job runs on
one instance at a time and is taken up again by any instance once the lease of a worker that
died has run out. Handlers must therefore tolerate running again after a crash (at least once).
A job may name a lane (a webhook endpoint, say): an instance runs at most ``per_lane`` jobs of
one lane at once, and claims past a full lane's jobs rather than holding them.

A handler that returns has finished its job (the row is deleted). One that raises is retried
after the kind's next delay; ``RetryLater`` chooses the delay itself, and ``GiveUp`` says that
no retry can help. Out of delays (or given up on), the job is kept with ``failed_at`` set and its
last error.
"""

import asyncio
import contextlib
import functools
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from databases import Database
from databases.core import Connection

from .background import cancel_and_wait
from .database import UNAVAILABLE_ERRORS, raw_connection

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int  # including the one now running
    lane: str | None = None


class RetryLater(Exception):  # noqa: N818 (a signal, not an error)
    """Raised by a handler: run this job again after ``delay`` seconds."""

    def __init__(self, delay: float, reason: str = "") -> None:
        super().__init__(reason or f"retry in {delay:g}s")
        self.delay = delay


class GiveUp(Exception):  # noqa: N818 (a signal, not an error)
    """Raised by a handler: this job can never succeed (a permanent refusal), so it fails for
    good now instead of being retried."""


Handler = Callable[[Database, Job], Awaitable[None]]


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Handler
    # Delay before each retry; after the last one the job fails for good.
    retry_delays: tuple[float, ...] = (5, 60, 300, 1800, 7200)
    # How long a claim holds; renewed every third of it while the handler runs.
    lease_seconds: float = 60.0
    # Jobs of this kind running at once on one instance, and of one lane among them.
    concurrency: int = 10
    per_lane: int | None = None


async def enqueue(
    connection: Connection | Database,
    kind: str,
    payload: dict[str, Any],
    run_at: datetime | None = None,
) -> int:
    """Queue a job (inside the caller's transaction); return its id."""
    job_id: int = await connection.fetch_val(
        """INSERT INTO jobs (kind, payload, run_at)
           VALUES (:kind, CAST(:payload AS JSONB), coalesce(:run_at, now()))
           RETURNING id""",
        {"kind": kind, "payload": json.dumps(payload), "run_at": run_at},
    )
    return job_id


async def select_failed_jobs(db: Database | Connection, kind: str) -> list[dict[str, Any]]:
    rows = await db.fetch_all(
        """SELECT id, payload, attempts, last_error, failed_at FROM jobs
            WHERE kind = :kind AND failed_at IS NOT NULL ORDER BY id""",
        {"kind": kind},
    )
    return [{**dict(row._mapping), "payload": json.loads(row["payload"])} for row in rows]


# Due jobs of kind $1 at $2, oldest first, leased until $3: at most $4 of them and at most the
# room left in each lane ($7 and $8 list this instance's lanes in use; any other lane has $6).
# Full lanes are passed over in the scan; the others share the $5 oldest due jobs. Only the
# chosen jobs are locked (a lock writes to its row), skipping those another claim holds, and
# seen due again once locked.
# Positional parameters: the queue's statements run on asyncpg (``raw_connection``).
_DUE = """failed_at IS NULL AND kind = $1 AND run_at <= $2
          AND (leased_until IS NULL OR leased_until < $2)"""
CLAIM = f"""WITH room AS (
            SELECT * FROM unnest(CAST($7 AS TEXT[]), CAST($8 AS INTEGER[])) AS room (lane, free)
        ), candidates AS (
            SELECT id, lane, run_at FROM jobs
             WHERE {_DUE}
               AND (lane IS NULL OR lane NOT IN (SELECT lane FROM room WHERE free <= 0))
             ORDER BY run_at, id LIMIT $5
        ), chosen AS (
            SELECT id FROM (
                SELECT id, lane, run_at,
                       row_number() OVER (PARTITION BY lane ORDER BY run_at, id) AS place
                  FROM candidates) AS ranked
              LEFT JOIN room USING (lane)
             WHERE ranked.lane IS NULL OR place <= coalesce(room.free, $6)
             ORDER BY run_at, id LIMIT $4
        ), locked AS (
            SELECT id FROM jobs WHERE id IN (SELECT id FROM chosen) AND {_DUE}
               FOR UPDATE SKIP LOCKED
        )
        UPDATE jobs SET attempts = attempts + 1, leased_until = $3
         WHERE id IN (SELECT id FROM locked)
        RETURNING id, kind, payload, attempts, lane"""  # noqa: S608
# What happens to a claimed job ($1, claimed as attempt $2): it is done, its lease is renewed
# (until $3), it waits for a retry (at $3, after error $4), or it has failed (at $3, error $4).
FINISH = "DELETE FROM jobs WHERE id = $1 AND attempts = $2"
RENEW = "UPDATE jobs SET leased_until = $3 WHERE id = $1 AND attempts = $2"
RETRY = """UPDATE jobs SET run_at = $3, leased_until = NULL, last_error = $4
            WHERE id = $1 AND attempts = $2"""
FAIL = """UPDATE jobs SET failed_at = $3, leased_until = NULL, last_error = $4
           WHERE id = $1 AND attempts = $2"""
# How many due jobs a claim looks at for each one it may take: room for lanes other than the
# oldest jobs'.
SCAN_FACTOR = 10


@dataclass
class JobWorker:
    """Runs the registered kinds' due jobs on this instance until stopped."""

    poll_seconds: float = 1.0
    max_in_flight: int = 100
    clock: Clock = utc_now
    kinds: dict[str, JobKind] = field(default_factory=dict)
    _db: Database | None = None
    _task: asyncio.Task[None] | None = None
    _stopping: bool = False
    _running: dict[str, set[asyncio.Task[None]]] = field(default_factory=dict[str, Any])
    _lanes: dict[str, Counter[str]] = field(default_factory=dict[str, Any])
    # Kinds whose last claim may have left due jobs behind (no room, or a full lane).
    _saturated: set[str] = field(default_factory=set[str])
    # Jobs of each kind finished since its last claim.
    _freed: Counter[str] = field(default_factory=Counter[str])
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def register(self, kind: JobKind) -> None:
        self.kinds[kind.name] = kind
        self._running[kind.name] = set()
        self._lanes[kind.name] = Counter()

    def wake(self) -> None:
        """Look for due jobs now rather than at the next poll (after a commit that queued one)."""
        self._wake.set()

    async def start(self, db: Database) -> None:
        self._db = db
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="kurz-jobs")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming; give running jobs ``grace`` seconds, then cancel them (their leases
        run out and another instance, or the next start, runs them again)."""
        if self._task is not None:
            # The flag ends the loop even if a library it awaits swallowed the cancellation.
            self._stopping = True
            await cancel_and_wait(self._task)
            self._task = None
        running = [task for tasks in self._running.values() for task in tasks]
        if running:
            _, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def run_due(self) -> int:
        """Claim the due jobs there is room for, run them to the end; return how many ran.
        (The worker's loop does this without waiting; tests call it to run jobs now.)"""
        tasks = await self._claim_all()
        await asyncio.gather(*tasks, return_exceptions=True)
        return len(tasks)

    @property
    def in_flight(self) -> int:
        return sum(len(tasks) for tasks in self._running.values())

    async def _run(self) -> None:
        while not self._stopping:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            if self._stopping:
                return
            self._wake.clear()
            try:
                await self._claim_all()
            except UNAVAILABLE_ERRORS as error:
                log.warning("jobs: database unavailable (%r); retrying", error)
            except Exception:
                log.exception("jobs: claiming failed")

    async def _claim_all(self) -> list[asyncio.Task[None]]:
        assert self._db is not None, "start() the worker first"
        started = []
        for kind in self.kinds.values():
            running = self._running[kind.name]
            room = min(kind.concurrency - len(running), self.max_in_flight - self.in_flight)
            if room <= 0:
                continue
            now = self.clock()
            per_lane = kind.per_lane or kind.concurrency
            in_use = self._lanes[kind.name]
            lanes = list(in_use)
            async with raw_connection(self._db) as raw:
                rows = await raw.fetch(
                    CLAIM,
                    kind.name,
                    now,
                    now + timedelta(seconds=kind.lease_seconds),
                    room,
                    room * SCAN_FACTOR,
                    per_lane,
                    lanes,
                    [per_lane - in_use[lane] for lane in lanes],
                )
            self._freed[kind.name] = 0
            for row in rows:
                job = Job(**{**dict(row), "payload": json.loads(row["payload"])})
                task = asyncio.create_task(self._execute(kind, job), name=f"kurz-job-{job.id}")
                running.add(task)
                task.add_done_callback(running.discard)
                if job.lane is not None:
                    in_use[job.lane] += 1
                task.add_done_callback(functools.partial(self._finished, kind, job))
                started.append(task)
            if len(rows) == room or any(count >= per_lane for count in in_use.values()):
                self._saturated.add(kind.name)
            else:
                self._saturated.discard(kind.name)
        return started

    def _finished(self, kind: JobKind, job: Job, task: asyncio.Task[None]) -> None:
        if job.lane is not None:
            in_use = self._lanes[kind.name]
            in_use[job.lane] -= 1
            if not in_use[job.lane]:
                del in_use[job.lane]
        if kind.name in self._saturated:
            # Claim what was left waiting for a slot once half a lane's worth is free (or all):
            # one claim for several jobs, not one per job.
            self._freed[kind.name] += 1
            half = max(1, (kind.per_lane or kind.concurrency) // 2)
            if self._freed[kind.name] >= half or not self._running[kind.name]:
                self.wake()

    async def _execute(self, kind: JobKind, job: Job) -> None:
        assert self._db is not None
        renewal = asyncio.create_task(self._renew_lease(kind, job))
        try:
            await kind.handler(self._db, job)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            await self._failed(kind, job, error)
        else:
            await self._settle(FINISH, job)
        finally:
            renewal.cancel()

    async def _renew_lease(self, kind: JobKind, job: Job) -> None:
        assert self._db is not None
        while True:
            await asyncio.sleep(kind.lease_seconds / 3)
            with contextlib.suppress(*UNAVAILABLE_ERRORS):
                await self._settle(
                    RENEW, job, self.clock() + timedelta(seconds=kind.lease_seconds)
                )

    async def _failed(self, kind: JobKind, job: Job, error: Exception) -> None:
        assert self._db is not None
        message = f"{type(error).__name__}: {error}"[:1000]
        retry = error if isinstance(error, RetryLater) else None
        if job.attempts <= len(kind.retry_delays) and not isinstance(error, GiveUp):
            delay = retry.delay if retry is not None else kind.retry_delays[job.attempts - 1]
        else:
            log.warning("job %s (%s) failed for good: %s", job.id, kind.name, message)
            await self._settle(FAIL, job, self.clock(), message)
            return
        if retry is None:
            log.info("job %s (%s) failed, retrying in %gs: %s", job.id, kind.name, delay, message)
        await self._settle(RETRY, job, self.clock() + timedelta(seconds=delay), message)

    async def _settle(self, statement: str, job: Job, *values: Any) -> None:
        """Run one of the statements on a claimed job (unless another claim has taken it)."""
        assert self._db is not None
        async with raw_connection(self._db) as raw:
            await raw.execute(statement, job.id, job.attempts, *values)
