"""The click buffer: the redirect path appends, a background task writes batches to the database.

``record()`` is called on every redirect, so it does nothing but append the raw fields to
columns (no parsing, hashing or I/O). The columns keep no object per click: the distinct user
agents, referrers and addresses of a batch are numbered, and numbers and times go in arrays.
Every ``settings.click_flush_seconds`` (default 1 s, ``KURZ_CLICK_FLUSH_SECONDS``) the flusher
takes the buffer, parses each distinct user agent and referrer of a batch once, hashes each
distinct visitor once, finds each distinct address's country once (see ``geo``) and writes
the batch of raw clicks in one transaction, so a batch is all or nothing; the clicks' numbers
go packed (see ``models.clicks.packed``). Every
``settings.click_rollup_seconds`` (default 30 s, ``KURZ_CLICK_ROLLUP_SECONDS``) the flusher
also folds the batches every instance wrote into the daily rollups and the link counters (see
db/4.py, 5.py, 8.py and 9.py); link reads and stats count the clicks not rolled up yet from the
raw ones, so a click shows as soon as its batch is written.

Durability: a graceful shutdown flushes everything (``stop()``); a crash loses at most the clicks
of the current interval (one ``click_flush_seconds``, plus whatever a database outage had kept
buffered). When a flush fails (database down) its batch is kept and written first on the next
interval, under the same token, so that a batch whose commit went unanswered but happened is
not stored twice (db/6.py). When the database is still gone at shutdown, the clicks not written
are spooled to a file in ``settings.data_dir`` (``KURZ_DATA_DIR``), with their tokens and the
identity of their database, and the next start on that database takes them back and writes
them first; a spool taken back by two processes (workers) is still stored once, by its tokens.
The buffer is bounded by ``max_buffered`` (plus batches failed or taken back), and beyond the
bound the oldest buffered clicks are dropped, counted in ``dropped`` and logged as a warning.

Retention: at most once an hour the flusher also deletes raw clicks older than
``settings.click_retention_days`` (once rolled up) and the visitor hashes and salts of past
days (and batch tokens a day old); the daily rollups are kept.
"""

import asyncio
import contextlib
import datetime
import json
import logging
import os
import time
import uuid
from array import array
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any, TypeVar

from databases import Database

from ..background import cancel_and_wait
from ..config import Settings
from ..database import is_unavailable
from ..models.clicks import (
    ClickBatch,
    delete_expired_clicks,
    insert_clicks,
    roll_up_clicks,
    select_database_identity,
)
from .agents import MAX_REFERRER, MAX_USER_AGENT, Agent, classify, referrer_host
from .geo import COUNTRY_SEPARATOR, country_of
from .visitors import VisitorHasher

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BUFFERED_CLICKS = 100_000
# One transaction writes at most this many clicks. Preparing a batch (parsing, hashing, packing)
# holds the event loop, up to ~1 ms per 1,000 clicks of distinct visitors here, so small batches
# keep the redirects queued meanwhile waiting briefly; they also keep an outage's backlog in
# short statements.
BATCH_SIZE = 1_000
PURGE_EVERY_SECONDS = 3600.0
PURGE_RETRY_SECONDS = 60.0
FINAL_FLUSH_ATTEMPTS = 3
SPOOL_SUFFIX = ".clicks.json"

EPOCH = datetime.date(1970, 1, 1)
MICROSECONDS_PER_DAY = 86_400_000_000


@dataclass
class Chore:
    """A periodic job of the flusher, run in a task of its own so that a long run (a big backlog)
    never delays the flushes. Due at once after a start."""

    name: str
    run: Callable[[], Awaitable[object]]
    every: float
    retry: float
    next_at: float = 0.0  # time.monotonic()
    task: asyncio.Task[None] | None = None

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
        await cancel_and_wait(self.task)
        self.task = None


class ClickColumns:
    """Up to ``BATCH_SIZE`` raw clicks, the oldest first: what one batch will write.

    Times and link ids go in arrays. User agents (with the request method), referrers and
    client addresses are numbered from 1 in order of first sight, and arrays hold each click's
    numbers: a batch has few distinct user agents and referrers, and its memory is a few
    machine words per click plus its distinct values.
    """

    COLUMNS = ("times", "link_ids", "agents", "referrers", "addresses")

    def __init__(self) -> None:
        self.times = array("q")  # microseconds since the epoch
        self.link_ids = array("q")
        self.agents = array("i")
        self.referrers = array("i")
        self.addresses = array("i")
        self.agent_numbers: dict[tuple[str, str], int] = {}  # (method, user agent) -> number
        self.referrer_numbers: dict[str, int] = {}
        self.address_numbers: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.link_ids)

    def add(
        self, link_id: int, method: str, user_agent: str, referrer: str, client_ip: str
    ) -> None:
        # setdefault: the number of a value seen before, else the next one.
        agents, referrers = self.agent_numbers, self.referrer_numbers
        addresses = self.address_numbers
        self.times.append(time.time_ns() // 1000)
        self.link_ids.append(link_id)
        self.agents.append(agents.setdefault((method, user_agent), len(agents) + 1))
        self.referrers.append(referrers.setdefault(referrer, len(referrers) + 1))
        self.addresses.append(addresses.setdefault(client_ip, len(addresses) + 1))

    def drop_oldest(self) -> None:
        for name in self.COLUMNS:
            del getattr(self, name)[0]

    def as_json(self) -> dict[str, list[Any]]:
        """The columns, and each numbered value list in number order (for the spool)."""
        return {
            **{name: getattr(self, name).tolist() for name in self.COLUMNS},
            "agent_values": list(self.agent_numbers),
            "referrer_values": list(self.referrer_numbers),
            "address_values": list(self.address_numbers),
        }

    @classmethod
    def from_json(cls, data: dict[str, list[Any]]) -> "ClickColumns":
        columns = cls()
        for name in cls.COLUMNS:
            getattr(columns, name).extend(data[name])
        columns.agent_numbers = _numbered(map(tuple, data["agent_values"]))
        columns.referrer_numbers = _numbered(data["referrer_values"])
        columns.address_numbers = _numbered(data["address_values"])
        return columns


def _numbered(values: Iterable[T]) -> dict[T, int]:
    """Values numbered from 1 in order, as ``ClickColumns.add`` numbers them."""
    return {value: number for number, value in enumerate(values, 1)}


class ClickRecorder:
    """Lives in ``services(app).clicks``; one per process."""

    def __init__(self, settings: Settings, max_buffered: int = MAX_BUFFERED_CLICKS) -> None:
        self.settings = settings
        self.enabled = settings.click_recording
        self.max_buffered = max_buffered
        self.dropped = 0
        # Each becomes a batch; the last is filled until it holds BATCH_SIZE clicks.
        self._segments: deque[ClickColumns] = deque()
        self._count = 0  # clicks in the segments
        # Batches given their token, written in order before the segments: the batch being
        # written or last failed to be (written again as it is, under the same token, so that a
        # retry of a batch that was committed after all writes nothing), or those taken back
        # from the spool.
        self._batches: deque[tuple[uuid.UUID, ClickColumns]] = deque()
        self._spool_dir = settings.data_dir / "click-spool"
        self._taken_back: list[Path] = []  # spool files, deleted once their batches are stored
        self._database = ""  # the identity of the database, as spool files name it
        self._db: Database | None = None
        self._task: asyncio.Task[None] | None = None
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
        return self._count + sum(len(columns) for _, columns in self._batches)

    def record(
        self, link_id: int, *, method: str, user_agent: str, referrer: str, client_ip: str
    ) -> None:
        """Remember one redirect; never blocks, never raises, never touches the database."""
        if not self.enabled:
            return
        if self._count >= self.max_buffered:
            self._drop_oldest()
        segments = self._segments
        if not segments or len(segments[-1].link_ids) >= BATCH_SIZE:
            segments.append(ClickColumns())
        # Cut now rather than when written: this bounds what a batch's distinct values hold.
        segments[-1].add(
            link_id, method, user_agent[:MAX_USER_AGENT], referrer[:MAX_REFERRER], client_ip
        )
        self._count += 1

    def _drop_oldest(self) -> None:
        oldest = self._segments[0]
        oldest.drop_oldest()
        if not oldest:
            self._segments.popleft()
        self._count -= 1
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 10_000 == 0:
            log.warning("click buffer full: dropped %d clicks so far", self.dropped)

    async def start(self, db: Database) -> None:
        """Take back the clicks spooled for this database, and start the periodic flusher (the
        pool must be open)."""
        self._db = db
        self._database = await select_database_identity(db)
        self._take_back_spool()
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
                failure = f"final click flush failed ({type(error).__name__}: {error})"
                if attempt < FINAL_FLUSH_ATTEMPTS:
                    await asyncio.sleep(1)  # a database restarting may be back in a moment
        clicks = self.buffered
        try:
            path = self._spool()
        except OSError as error:
            log.error("%s, and so did spooling (%s): %d clicks lost", failure, error, clicks)
        else:
            log.warning("%s: %d clicks spooled to %s for the next start", failure, clicks, path)

    def _spool(self) -> Path:
        """Write every click not stored yet to a new spool file, atomically, then delete the
        spool files taken back (their batches are in the new one); the buffer is then empty."""
        batches = [*self._batches, *((uuid.uuid4(), columns) for columns in self._segments)]
        spool = {
            "database": self._database,
            "batches": [{"token": str(token), **columns.as_json()} for token, columns in batches],
        }
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        path = self._spool_dir / f"{uuid.uuid4()}{SPOOL_SUFFIX}"
        partial = path.with_name(path.name + ".partial")
        with partial.open("w") as file:
            json.dump(spool, file)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(path)
        self._forget_taken_back()
        self._batches.clear()
        self._segments.clear()
        self._count = 0
        return path

    def _take_back_spool(self) -> None:
        """Queue the batches of the spool files of this database, to be written first."""
        for path in sorted(self._spool_dir.glob(f"*{SPOOL_SUFFIX}")):
            try:
                spool = json.loads(path.read_text())
                if spool["database"] != self._database:
                    continue  # another database's (another DATABASE_URL): left for it
                batches = [
                    (uuid.UUID(batch["token"]), ClickColumns.from_json(batch))
                    for batch in spool["batches"]
                ]
            except (OSError, ValueError, LookupError, TypeError) as error:
                log.error("cannot read the click spool %s (%r); left as it is", path, error)
                continue
            self._batches.extend(batches)
            self._taken_back.append(path)
            log.info("took back the clicks spooled to %s", path)

    def _forget_taken_back(self) -> None:
        for path in self._taken_back:
            path.unlink(missing_ok=True)  # another worker may have taken it back too
        self._taken_back.clear()

    async def flush(self, batches: int | None = None) -> int:
        """Write the clicks buffered now (the oldest ``batches`` batches of them); return how
        many were stored.

        On failure the unwritten batch is kept for the next attempt and the error is raised; a
        batch stored already counts 0. Clicks of links deleted meanwhile are stored but never
        counted (see db/7.py). Clicks recorded while it writes wait for the next flush: under
        steady traffic the buffer never empties.
        """
        async with self._flush_lock:
            stored = 0
            pending = len(self._segments) + len(self._batches)
            for _ in range(pending if batches is None else min(pending, batches)):
                if not self._batches:
                    if not self._segments:  # dropped meanwhile, the buffer being full
                        break
                    columns = self._segments.popleft()
                    self._count -= len(columns)
                    self._batches.append((uuid.uuid4(), columns))
                token, columns = self._batches[0]
                # A task per batch: `databases` ties a connection to the task using it, and when
                # a rollback fails (the server went away mid-transaction) it never lets go of
                # it, which would leave a long-lived task with a dead connection for good.
                stored += await asyncio.create_task(self._write(token, columns))
                self._batches.popleft()
            if not self._batches:
                self._forget_taken_back()
            return stored

    async def settle(self) -> None:
        """Before a read of click counts: write what this process has buffered, so that a
        visit shows at once (read your own clicks). At most one batch: under heavy traffic a
        read must not wait for a backlog, which the flusher writes within an interval anyway.
        A failure is left to the flusher, which logs and retries it; the read goes on."""
        if self._segments or self._batches:
            with contextlib.suppress(Exception):
                await self.flush(batches=1)

    async def _write(self, token: uuid.UUID, columns: ClickColumns) -> int:
        """Parse each distinct user agent and referrer of the batch and hash each distinct
        visitor once, then store it."""
        assert self._db is not None, "start() first"
        first_day = min(columns.times) // MICROSECONDS_PER_DAY
        last_day = max(columns.times) // MICROSECONDS_PER_DAY
        if first_day == last_day:  # all batches but those around midnight
            days: Iterable[int] = repeat(first_day)
            dates = {first_day: EPOCH + datetime.timedelta(days=first_day)}
        else:
            days = [at // MICROSECONDS_PER_DAY for at in columns.times]
            dates = {day: EPOCH + datetime.timedelta(days=day) for day in set(days)}
        await self._visitors.load_salts(self._db, set(dates.values()))
        visitor_numbers: dict[tuple[int, int, int], int] = {}  # (day, address, agent) -> number
        visitors = array(
            "i",
            [
                visitor_numbers.setdefault(visitor, len(visitor_numbers) + 1)
                for visitor in zip(days, columns.addresses, columns.agents, strict=False)
            ],
        )
        user_agents = [user_agent for _, user_agent in columns.agent_numbers]
        # Each distinct address once: its country (a trusted proxy's, else looked up).
        addresses, countries = [], []
        for value in columns.address_numbers:
            address, _, country = value.partition(COUNTRY_SEPARATOR)
            addresses.append(address)
            countries.append(country or country_of(address))
        clicks = ClickBatch(
            token,
            link_ids=columns.link_ids,
            times=columns.times,
            agent_numbers=columns.agents,
            referrer_numbers=columns.referrers,
            visitor_numbers=visitors,
            agents=[_agent(method, user_agent) for method, user_agent in columns.agent_numbers],
            referrers=[
                referrer_host(value) if value else None for value in columns.referrer_numbers
            ],
            visitors=[
                self._visitors.hash(dates[day], addresses[address - 1], user_agents[agent - 1])
                for day, address, agent in visitor_numbers
            ],
            countries=[countries[address - 1] for _, address, _ in visitor_numbers],
        )
        return await insert_clicks(self._db, clicks)

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
                    self.buffered,
                    exc_info=not is_unavailable(error),
                )
        else:
            if self._failing:
                self._failing = False
                log.info("click writes recovered")


def _agent(method: str, user_agent: str) -> Agent:
    agent = classify(user_agent)
    if method == "HEAD" and not agent.bot:  # link checkers: never a person's visit
        return agent._replace(device="bot", bot=True)
    return agent
