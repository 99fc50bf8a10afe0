"""The click buffer: the redirect path appends, a background task writes batches to the database.

``record()`` is called on every redirect, so it does nothing but append a tuple of raw fields to
a bounded deque (no parsing, hashing or I/O). Every ``settings.click_flush_seconds`` (default
1 s, ``KURZ_CLICK_FLUSH_SECONDS``) the flusher takes the buffer, parses user agents (cached),
hashes visitors and writes the batch of raw clicks in one transaction, so a batch is all or
nothing. Every ``settings.click_rollup_seconds`` (default 30 s, ``KURZ_CLICK_ROLLUP_SECONDS``)
the flusher also folds the batches every instance wrote into the daily rollups and the link
counters (see db/4.py, 5.py, 8.py and 9.py); link reads and stats count the clicks not rolled
up yet from the raw ones, so a click shows as soon as its batch is written.

Durability: a graceful shutdown flushes everything (``stop()``); a crash loses at most the clicks
of the current interval (one ``click_flush_seconds``, plus whatever a database outage had kept
buffered). When a flush fails (database down) its batch is kept and written first on the next
interval, under the same token, so that a batch whose commit went unanswered but happened is
not stored twice (db/6.py). The buffer is bounded by ``max_buffered`` (plus that one batch), and
beyond the bound the oldest buffered clicks are dropped, counted in ``dropped`` and logged as a
warning.

Retention: at most once an hour the flusher also deletes raw clicks older than
``settings.click_retention_days`` (once rolled up) and the visitor hashes and salts of past
days (and batch tokens a day old); the daily rollups are kept.
"""

import asyncio
import contextlib
import datetime
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from databases import Database

from ..config import Settings
from ..database import is_unavailable
from ..models.clicks import ClickBatch, delete_expired_clicks, insert_clicks, roll_up_clicks
from .agents import MAX_USER_AGENT, classify, referrer_host
from .visitors import VisitorHasher

log = logging.getLogger(__name__)

MAX_BUFFERED_CLICKS = 100_000
# One transaction writes at most this many clicks. Preparing a batch (parsing, hashing, encoding)
# holds the event loop, about 5 ms per 1,000 clicks here, so small batches keep the redirects
# queued meanwhile waiting briefly; they also keep an outage's backlog in short statements.
BATCH_SIZE = 1_000
PURGE_EVERY_SECONDS = 3600.0
PURGE_RETRY_SECONDS = 60.0
FINAL_FLUSH_ATTEMPTS = 3

RawClick = tuple[float, int, str, str, str, str]  # time, link id, method, UA, referrer, IP
EPOCH = datetime.date(1970, 1, 1)
SECONDS_PER_DAY = 86_400


@dataclass
class Chore:
    """A periodic job of the flusher, run in a task of its own so that a long run (a big backlog)
    never delays the flushes. Due at once after a start."""

    name: str
    run: Callable[[], Awaitable[object]]
    every: float
    retry: float
    next_at: float = 0.0  # time.monotonic()
    task: asyncio.Task | None = None

    def start_if_due(self) -> None:
        if (self.task is not None and not self.task.done()) or time.monotonic() < self.next_at:
            return
        self.next_at = time.monotonic() + self.every
        self.task = asyncio.create_task(self._run_and_report(), name=f"kurz-{self.name}")

    async def _run_and_report(self) -> None:
        try:
            await self.run()
        except Exception as error:
            self.next_at = time.monotonic() + self.retry
            log.warning(
                "click %s failed (%s: %s); retrying in %gs",
                self.name,
                type(error).__name__,
                error,
                self.retry,
                exc_info=not is_unavailable(error),
            )

    async def cancel(self) -> None:
        """Both chores are transactions or idempotent: the next start redoes what is cut off."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None


class ClickRecorder:
    """Lives in ``app.extensions["kurz.clicks"]``; one per process."""

    def __init__(self, settings: Settings, max_buffered: int = MAX_BUFFERED_CLICKS) -> None:
        self.settings = settings
        self.enabled = settings.click_recording
        self.max_buffered = max_buffered
        self.dropped = 0
        self._buffer: deque[RawClick] = deque()
        # The batch being written, or last failed to be: written again as it is, under the
        # same token, so that a retry of a batch that was committed after all writes nothing.
        self._batch: tuple[uuid.UUID, list[RawClick]] | None = None
        self._db: Database | None = None
        self._task: asyncio.Task | None = None
        self.retention = Chore("retention", self.purge, PURGE_EVERY_SECONDS, PURGE_RETRY_SECONDS)
        # Rolling up less often merges more clicks of a link and day into one row update;
        # stats then read up to that long (plus a roll-up) of a link's raw clicks.
        every = settings.click_rollup_seconds
        self.rollups = Chore("roll-up", self.roll_up, every, every)
        self._stopping = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._failing = False
        self._visitors = VisitorHasher()

    @property
    def buffered(self) -> int:
        """Clicks not written yet, including the batch being written."""
        return len(self._buffer) + (len(self._batch[1]) if self._batch else 0)

    def record(
        self, link_id: int, *, method: str, user_agent: str, referrer: str, client_ip: str
    ) -> None:
        """Remember one redirect; never blocks, never raises, never touches the database."""
        if not self.enabled:
            return
        buffer = self._buffer
        if len(buffer) >= self.max_buffered:
            buffer.popleft()
            self._count_drop()
        buffer.append((time.time(), link_id, method, user_agent, referrer, client_ip))

    def _count_drop(self) -> None:
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 10_000 == 0:
            log.warning("click buffer full: dropped %d clicks so far", self.dropped)

    async def start(self, db: Database) -> None:
        """Start the periodic flusher (the pool must be open)."""
        self._db = db
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="kurz-click-flusher")

    async def stop(self) -> None:
        """Stop the flusher and write what is left (before the pool closes).

        The flusher is asked to stop rather than cancelled, so that a batch is never cut off
        in the middle of its commit (which could leave it unknown whether it was written).
        """
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        for chore in (self.retention, self.rollups):
            await chore.cancel()
        for attempt in range(1, FINAL_FLUSH_ATTEMPTS + 1):
            try:
                await self.flush()
                return
            except Exception as error:
                if attempt == FINAL_FLUSH_ATTEMPTS:
                    log.error(
                        "final click flush failed (%s: %s): %d clicks lost",
                        type(error).__name__,
                        error,
                        self.buffered,
                    )
                else:
                    await asyncio.sleep(1)  # a database restarting may be back in a moment

    async def flush(self, at_most: int | None = None) -> int:
        """Write the clicks buffered now (the oldest ``at_most`` of them); return how many were
        stored.

        On failure the unwritten batch is kept for the next attempt and the error is raised; a
        batch stored already counts 0. Clicks of links deleted meanwhile are stored but never
        counted (see db/7.py). Clicks recorded while it writes wait for the next flush: under
        steady traffic the buffer never empties.
        """
        async with self._flush_lock:
            stored = 0
            remaining = self.buffered if at_most is None else min(self.buffered, at_most)
            while remaining > 0 and self.buffered:
                if self._batch is None:
                    count = min(len(self._buffer), BATCH_SIZE, remaining)
                    self._batch = (uuid.uuid4(), [self._buffer.popleft() for _ in range(count)])
                token, batch = self._batch
                remaining -= len(batch)
                # A task per batch: `databases` ties a connection to the task using it, and when
                # a rollback fails (the server went away mid-transaction) it never lets go of
                # it, which would leave a long-lived task with a dead connection for good.
                stored += await asyncio.create_task(self._write(token, batch))
                self._batch = None
            return stored

    async def settle(self) -> None:
        """Before a read of click counts: write what this process has buffered, so that a
        visit shows at once (read your own clicks). At most one batch: under heavy traffic a
        read must not wait for a backlog, which the flusher writes within an interval anyway.
        A failure is left to the flusher, which logs and retries it; the read goes on."""
        if self._buffer:
            with contextlib.suppress(Exception):
                await self.flush(at_most=BATCH_SIZE)

    async def _write(self, token: uuid.UUID, batch: list[RawClick]) -> int:
        assert self._db is not None, "start() first"
        db = self._db
        days = {}  # UTC day number since the epoch -> its date
        for raw in batch:
            number = int(raw[0] // SECONDS_PER_DAY)
            if number not in days:
                days[number] = EPOCH + datetime.timedelta(days=number)
        await self._visitors.load_salts(db, set(days.values()))
        clicks = ClickBatch(token)
        for at, link_id, method, user_agent, referrer, client_ip in batch:
            user_agent = user_agent[:MAX_USER_AGENT]
            agent = classify(user_agent)
            if method == "HEAD" and not agent.bot:  # link checkers: never a person's visit
                agent = agent._replace(device="bot", bot=True)
            clicks.add(
                link_id,
                at,
                agent,
                referrer_host(referrer) if referrer else None,
                self._visitors.hash(days[int(at // SECONDS_PER_DAY)], client_ip, user_agent),
            )
        return await insert_clicks(db, clicks)

    async def roll_up(self) -> int:
        """Fold the batches written so far (by any instance) into the daily rollups; return how
        many clicks this call rolled up."""
        assert self._db is not None, "start() first"
        return await roll_up_clicks(self._db)

    async def purge(self) -> int:
        """Apply the retention now; return how many raw clicks were deleted."""
        assert self._db is not None, "start() first"
        now = datetime.datetime.now(datetime.UTC)
        # Clicks of yesterday may still arrive (a batch flushed just after midnight), so its
        # salt and counted visitors are kept one more day.
        yesterday = now.date() - datetime.timedelta(days=1)
        retention = datetime.timedelta(days=self.settings.click_retention_days)
        deleted = await delete_expired_clicks(self._db, now - retention, yesterday)
        self._visitors.forget_before(yesterday)
        if deleted:
            log.info("retention: deleted %d raw clicks older than %s", deleted, now - retention)
        return deleted

    async def _run(self) -> None:
        interval = self.settings.click_flush_seconds
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)
            await self._flush_and_report()
            if not self._stopping.is_set():
                self.retention.start_if_due()
                self.rollups.start_if_due()

    async def _flush_and_report(self) -> None:
        try:
            await self.flush()
        except Exception as error:
            if not self._failing:
                self._failing = True
                log.warning(
                    "cannot write clicks (%s: %s); %d kept for retry",
                    type(error).__name__,
                    error,
                    len(self._buffer),
                    exc_info=not is_unavailable(error),
                )
        else:
            if self._failing:
                self._failing = False
                log.info("click writes recovered")
