"""Webhook tests: an app that may call receivers on localhost, a clock they move by hand, a
real receiver, and a helper that runs the due deliveries now."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from kurz.app import create_app
from kurz.jobs import utc_now
from kurz.services import services
from tests.webhook_receiver import Receiver, ReceiverServer


class Clock:
    """The wall clock, a little ahead of the database's now() (which stamps queued jobs) so
    that what is queued is due at once, plus the time a test travelled."""

    def __init__(self) -> None:
        self.offset = timedelta(seconds=1)

    def __call__(self):
        return utc_now() + self.offset

    def travel(self, **delta) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(settings, clock) -> AsyncIterator:
    """Receivers run on localhost; deliveries run when a test says so (``deliver``)."""
    app = create_app(replace(settings, webhooks_allow_private=True, job_poll_seconds=3600))
    services(app).jobs.clock = clock
    async with app.test_app():
        yield app


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ReceiverServer(receiver)
    yield receiver
    server.close()


@pytest.fixture
def deliver(app, clock):
    """Runs every due delivery (as of the test's clock), retries due meanwhile included."""
    worker = services(app).jobs
    db = services(app).db

    async def run() -> None:
        for _ in range(1000):
            await worker.run_due()
            # Those claimed by the worker's own loop (woken by a route) finish too.
            running = [task for tasks in worker._running.values() for task in tasks]
            await asyncio.gather(*running, return_exceptions=True)
            due = await db.fetch_val(
                "SELECT count(*) FROM jobs WHERE failed_at IS NULL AND run_at <= :now",
                {"now": clock()},
            )
            if not due:
                return
            await asyncio.sleep(0.01)  # a claim of the worker's loop under way
        raise AssertionError("deliveries keep coming due")

    return run


@pytest.fixture
def make_webhook(receiver):
    """Has ``by`` add an endpoint at the receiver; the receiver learns its secret."""

    async def make(org_id: str, by, events: list[str], **fields) -> dict:
        response = await by.client.post(
            f"/api/v1/orgs/{org_id}/webhooks",
            json={"url": receiver.url, "events": events, **fields},
        )
        assert response.status_code == 201, await response.get_data(as_text=True)
        webhook = await response.get_json()
        receiver.secrets.append(webhook["secret"])
        return webhook

    return make
