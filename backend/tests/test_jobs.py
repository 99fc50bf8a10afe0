"""The job queue: claiming, retries, failure for good, leases of dead workers, no doubles."""

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from kurz.database import raw_connection
from kurz.jobs import (
    CLAIM,
    JobKind,
    JobWorker,
    RetryLater,
    enqueue,
    select_failed_jobs,
    utc_now,
)
from kurz.services import services


class Clock:
    """A clock the tests move by hand, starting a little ahead of the database's now() (which
    stamps queued jobs) so that a job queued during the test is due at once."""

    def __init__(self) -> None:
        self.now = utc_now() + timedelta(seconds=1)

    def __call__(self):
        return self.now

    def travel(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_worker(clock: Clock, *kinds: JobKind) -> JobWorker:
    worker = JobWorker(poll_seconds=3600, clock=clock)
    for kind in kinds:
        worker.register(kind)
    return worker


async def test_a_job_runs_once_and_is_gone(db, clock):
    seen = []

    async def handler(db, job):
        seen.append((job.payload, job.attempts))

    worker = make_worker(clock, JobKind("note", handler))
    await worker.start(db)
    try:
        await enqueue(db, "note", {"text": "hello"})
        assert await worker.run_due() == 1
        assert await worker.run_due() == 0
    finally:
        await worker.stop()
    assert seen == [({"text": "hello"}, 1)]
    assert await db.fetch_val("SELECT count(*) FROM jobs") == 0


async def test_a_rolled_back_transaction_queues_nothing(db, clock):
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await enqueue(db, "note", {})
            raise RuntimeError("the change failed")
    assert await db.fetch_val("SELECT count(*) FROM jobs") == 0


async def test_failures_are_retried_after_their_delays_then_fail_for_good(db, clock):
    attempts = []

    async def handler(db, job):
        attempts.append(job.attempts)
        raise ValueError("receiver down")

    worker = make_worker(clock, JobKind("flaky", handler, retry_delays=(5, 60)))
    await worker.start(db)
    try:
        await enqueue(db, "flaky", {"n": 1})
        assert await worker.run_due() == 1
        clock.travel(4)
        assert await worker.run_due() == 0  # not due yet
        clock.travel(1)
        assert await worker.run_due() == 1
        clock.travel(59)
        assert await worker.run_due() == 0
        clock.travel(1)
        assert await worker.run_due() == 1
        clock.travel(10_000)
        assert await worker.run_due() == 0  # failed for good
    finally:
        await worker.stop()
    assert attempts == [1, 2, 3]
    [failed] = await select_failed_jobs(db, "flaky")
    assert failed["payload"] == {"n": 1}
    assert "receiver down" in failed["last_error"]


async def test_retry_later_sets_its_own_delay(db, clock):
    attempts = []

    async def handler(db, job):
        attempts.append(job.attempts)
        if len(attempts) < 3:
            raise RetryLater(30, "waiting")

    worker = make_worker(clock, JobKind("waiting", handler, retry_delays=(5, 5)))
    await worker.start(db)
    try:
        await enqueue(db, "waiting", {})
        assert await worker.run_due() == 1
        for _ in range(2):
            clock.travel(29)
            assert await worker.run_due() == 0  # its own delay, not the kind's 5 s
            clock.travel(1)
            assert await worker.run_due() == 1
    finally:
        await worker.stop()
    assert attempts == [1, 2, 3]
    assert await db.fetch_val("SELECT count(*) FROM jobs") == 0


async def test_a_dead_workers_job_is_taken_up_after_its_lease(db, clock):
    started = asyncio.Event()
    runs = []

    async def hangs(db, job):
        runs.append("first")
        started.set()
        await asyncio.Event().wait()  # a worker that never finishes: its process died

    async def finishes(db, job):
        runs.append("second")

    first = make_worker(clock, JobKind("work", hangs, lease_seconds=30))
    second = make_worker(clock, JobKind("work", finishes, lease_seconds=30))
    await first.start(db)
    await second.start(db)
    try:
        await enqueue(db, "work", {})
        claimed = await first._claim_all()
        await started.wait()
        assert await second.run_due() == 0  # leased
        clock.travel(31)
        assert await second.run_due() == 1
    finally:
        for task in claimed:
            task.cancel()
        await first.stop(grace=0)
        await second.stop()
    assert runs == ["first", "second"]
    assert await db.fetch_val("SELECT count(*) FROM jobs") == 0


async def test_a_lane_runs_at_most_per_lane_jobs_and_a_full_one_is_passed_over(db, clock):
    release = asyncio.Event()
    running: dict[str | None, int] = {}
    most: dict[str | None, int] = {}

    async def handler(db, job):
        running[job.lane] = running.get(job.lane, 0) + 1
        most[job.lane] = max(most.get(job.lane, 0), running[job.lane])
        await release.wait()
        running[job.lane] -= 1

    # 40 jobs of lane "a" queued first: more than a claim of 3 looks at (3 x SCAN_FACTOR).
    await db.execute("""INSERT INTO jobs (kind, payload, lane, run_at)
           SELECT 'laned', jsonb_build_object('n', n), 'a',
                  now() - interval '1 hour' + n * interval '1 second'
             FROM generate_series(1, 40) AS n""")
    await db.execute("INSERT INTO jobs (kind, payload, lane) VALUES ('laned', '{}', 'b')")
    worker = make_worker(clock, JobKind("laned", handler, concurrency=3, per_lane=2))
    await worker.start(db)
    try:
        first = await worker._claim_all()
        assert len(first) == 2  # lane "a" is full
        second = await worker._claim_all()
        assert len(second) == 1  # lane "b", past the 38 waiting jobs of "a"
        await asyncio.sleep(0.01)
        assert running == {"a": 2, "b": 1}
        assert await worker._claim_all() == []  # no room at all
        release.set()
        while await db.fetch_val("SELECT count(*) FROM jobs"):
            await worker.run_due()
    finally:
        await worker.stop()
    assert most == {"a": 2, "b": 1}


async def test_two_workers_never_run_one_job_twice(db, clock):
    ran = []

    async def handler(db, job):
        await asyncio.sleep(0.01)
        ran.append(job.payload["n"])

    workers = [make_worker(clock, JobKind("many", handler, concurrency=7)) for _ in range(2)]
    for worker in workers:
        await worker.start(db)
    try:
        for n in range(40):
            await enqueue(db, "many", {"n": n})
        while await db.fetch_val("SELECT count(*) FROM jobs"):
            await asyncio.gather(*(worker.run_due() for worker in workers))
    finally:
        for worker in workers:
            await worker.stop()
    assert sorted(ran) == list(range(40))


async def test_the_apps_worker_picks_up_queued_jobs_by_itself(app, db):
    done = asyncio.Event()

    async def handler(db, job):
        done.set()

    worker = services(app).jobs
    worker.register(JobKind("ping", handler))
    await enqueue(db, "ping", {})
    worker.wake()
    await asyncio.wait_for(done.wait(), 10)


async def test_a_claim_locks_only_the_jobs_it_takes(db, clock):
    for n in range(5):
        await enqueue(db, "locking", {"n": n})
    now = clock()

    async def lock_nowait(job_id: int) -> int:
        async with raw_connection(db) as raw, raw.transaction():
            return await raw.fetchval(
                "SELECT id FROM jobs WHERE id = $1 FOR UPDATE NOWAIT", job_id
            )

    async with raw_connection(db) as raw, raw.transaction():
        [taken] = await raw.fetch(
            CLAIM, "locking", now, now + timedelta(seconds=60), 1, 10, 1, [], []
        )
        others = await db.fetch_all("SELECT id FROM jobs WHERE id <> :id", {"id": taken["id"]})
        # Another connection (another task's) locks each job the claim scanned but left.
        for row in others:
            assert await asyncio.create_task(lock_nowait(row["id"])) == row["id"]
        with pytest.raises(asyncpg.LockNotAvailableError):
            await asyncio.create_task(lock_nowait(taken["id"]))


async def test_a_full_lane_claims_again_once_half_of_it_is_free(db, clock):
    started: asyncio.Queue[int] = asyncio.Queue()
    finish = {n: asyncio.Event() for n in range(10)}

    async def handler(db, job):
        started.put_nowait(job.payload["n"])
        await finish[job.payload["n"]].wait()

    async def next_started(count: int) -> list[int]:
        async with asyncio.timeout(5):
            return [await started.get() for _ in range(count)]

    await db.execute("""INSERT INTO jobs (kind, payload, lane, run_at)
           SELECT 'halves', jsonb_build_object('n', n), 'a', now() + n * interval '1 ms'
             FROM generate_series(0, 9) AS n""")
    worker = make_worker(clock, JobKind("halves", handler, concurrency=10, per_lane=4))
    await worker.start(db)
    try:
        worker.wake()
        first = await next_started(4)
        finish[0].set()
        await asyncio.sleep(0.2)
        assert started.empty()  # one free slot is not worth a claim
        finish[1].set()
        # The oldest waiting jobs came next.
        assert sorted(first + await next_started(2)) == [0, 1, 2, 3, 4, 5]
    finally:
        for event in finish.values():
            event.set()
        await worker.stop()
