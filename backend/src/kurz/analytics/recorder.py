"""The click buffer: the redirect path appends, a background task writes batches to the database.

``record()`` is called on every redirect, so it does nothing but append a tuple of raw fields to
a bounded deque (no parsing, hashing or I/O). Every ``settings.click_flush_seconds`` the flusher
takes the buffer, parses user agents (cached), hashes visitors and writes the batch in one
transaction (raw clicks, ``links.clicks`` and the daily rollups), so a batch is all or nothing.

Durability: a graceful shutdown flushes everything (``stop()``); a crash loses at most the clicks
of the current interval. When a flush fails (database down) its batch is kept and retried on the
next interval; the buffer is bounded, and beyond the bound the oldest clicks are dropped, counted
in ``dropped`` and logged.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque

from databases import Database

from ..config import Settings

log = logging.getLogger(__name__)

MAX_BUFFERED_CLICKS = 100_000


class ClickRecorder:
    """Lives in ``app.extensions["kurz.clicks"]``; one per process."""

    def __init__(self, settings: Settings, max_buffered: int = MAX_BUFFERED_CLICKS) -> None:
        self.settings = settings
        self.enabled = settings.click_recording
        self.max_buffered = max_buffered
        self.dropped = 0
        self._buffer: deque[tuple] = deque()
        self._db: Database | None = None
        self._task: asyncio.Task | None = None

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
        self._task = asyncio.create_task(self._run(), name="kurz-click-flusher")

    async def stop(self) -> None:
        """Stop the flusher and write what is left (before the pool closes)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> int:
        """Write the buffered clicks now; return how many were written."""
        if not self._buffer:
            return 0
        raise NotImplementedError("click storage lands with the analytics migration")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.click_flush_seconds)
            await self.flush()
