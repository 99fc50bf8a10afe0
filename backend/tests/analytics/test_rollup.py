"""Roll-ups: the flush writes raw clicks, a roll-up folds committed batches into the daily
rollups. Stats must not change when a roll-up runs, and no batch may be missed or counted
twice, whatever runs at the same time."""

import asyncio
import datetime
import math
import time
import uuid

import asyncpg
import pytest

from kurz.models.clicks import (
    LOCK_BATCHES_SHARED,
    ClickBatch,
    insert_clicks,
    roll_up_clicks,
    select_link_stats,
)
from kurz.models.links import LinkFilter, select_link, select_links_page
from kurz.services import services

from .support import CHROME, IPHONE, SLACKBOT, click, insert_link


@pytest.fixture
def recorder(recorder):
    """The app's recorder, its flusher leaving roll-ups to the test, so counts are exact."""
    recorder.rollups.next_at = math.inf
    return recorder


async def rolled_up(db, link_id: int) -> int:
    return await db.fetch_val(
        "SELECT coalesce(sum(clicks + bot_clicks), 0) FROM click_days WHERE link_id = :id",
        {"id": link_id},
    )


async def test_stats_are_the_same_before_and_after_each_roll_up(db, recorder) -> None:
    link = await insert_link(db)
    click(recorder, link, referrer="https://news.ycombinator.com/item?id=1")
    click(recorder, link, client_ip="192.0.2.1")
    click(recorder, link, IPHONE, referrer="https://t.co/x")
    click(recorder, link, SLACKBOT)
    await recorder.flush()
    before = await select_link_stats(db, link, 7)
    assert (before.total_clicks, before.unique_visitors) == (3, 3)
    await recorder.roll_up()
    assert await rolled_up(db, link) == 4
    assert await select_link_stats(db, link, 7) == before

    # Visitors already counted by the rollups are not new; the others are.
    click(recorder, link, client_ip="192.0.2.1")
    click(recorder, link, IPHONE)
    click(recorder, link, CHROME, client_ip="198.51.100.9")
    click(recorder, link, CHROME, client_ip="198.51.100.9")
    await recorder.flush()
    mixed = await select_link_stats(db, link, 7)
    assert (mixed.total_clicks, mixed.unique_visitors) == (7, 4)
    assert mixed.series[-1].clicks == 7
    assert {(value.value, value.clicks) for value in mixed.referrers} == {
        ("news.ycombinator.com", 1),
        ("t.co", 1),
    }
    assert {(value.value, value.clicks) for value in mixed.devices} == {
        ("desktop", 5),
        ("mobile", 2),
    }
    await recorder.roll_up()
    assert await select_link_stats(db, link, 7) == mixed


async def test_a_links_clicks_are_the_same_before_and_after_its_roll_up(db, recorder) -> None:
    org_id = str(await db.fetch_val("INSERT INTO orgs (name) VALUES ('Acme') RETURNING id"))
    link = await insert_link(db, org_id, "counted")
    click(recorder, link)
    click(recorder, link, IPHONE)
    click(recorder, link, SLACKBOT)  # bots are not counted
    await recorder.flush()
    assert (await select_link(db, org_id, "counted")).clicks == 2
    await recorder.roll_up()
    assert (await select_link(db, org_id, "counted")).clicks == 2
    click(recorder, link)
    await recorder.flush()
    page = await select_links_page(db, org_id, limit=10, where=LinkFilter())
    assert [link.clicks for link, _ in page] == [3]


async def counter(db, link_id: int) -> int:
    return await db.fetch_val(
        "SELECT coalesce(sum(clicks), 0) FROM link_clicks WHERE link_id = :id", {"id": link_id}
    )


async def test_the_first_roll_up_of_a_day_adds_the_days_before_to_the_counter(
    db, recorder
) -> None:
    """db/9.py: a link's counter holds the clicks of days before the counters' day; those from
    that day on are only in its daily rows until a roll-up of a later day moves them."""
    org_id = str(await db.fetch_val("INSERT INTO orgs (name) VALUES ('Acme') RETURNING id"))
    link = await insert_link(db, org_id, "counted")
    click(recorder, link)
    click(recorder, link, IPHONE)
    await recorder.flush()
    await recorder.roll_up()
    assert await counter(db, link) == 0
    # As if these clicks had been rolled up yesterday.
    await db.execute("UPDATE click_days SET day = day - 1 WHERE link_id = :id", {"id": link})
    await db.execute("UPDATE click_rollup SET counters_before = counters_before - 1")
    assert (await select_link(db, org_id, "counted")).clicks == 2

    click(recorder, link)
    await recorder.flush()
    await recorder.roll_up()
    assert await counter(db, link) == 2
    clicks = (await select_link(db, org_id, "counted")).clicks
    assert clicks == 3 and type(clicks) is int  # noqa: E721 (not a subclass: never a Decimal)
    today = datetime.datetime.now(datetime.UTC).date()
    assert await db.fetch_val("SELECT counters_before FROM click_rollup") == today


async def test_a_click_of_a_day_before_the_counters_day_goes_to_the_counter(db) -> None:
    """A batch flushed after midnight holds clicks of the day before: the roll-up adds them to
    the counter at once, since that day's rows are no longer read for the link's clicks."""
    org_id = str(await db.fetch_val("INSERT INTO orgs (name) VALUES ('Acme') RETURNING id"))
    link = await insert_link(db, org_id, "late")
    await roll_up_clicks(db)  # nothing to roll up: the counters' day stays today
    yesterday = time.time_ns() // 1000 - 86_400_000_000
    chrome = ("Chrome", "Windows", "desktop", False)
    batch = ClickBatch(
        uuid.uuid4(), [link], [yesterday], [1], [1], [1], [chrome], [None], [b"v"], ["DE"]
    )
    await insert_clicks(db, batch)
    assert (await select_link(db, org_id, "late")).clicks == 1
    assert await roll_up_clicks(db) == 1
    assert await counter(db, link) == 1
    assert (await select_link(db, org_id, "late")).clicks == 1


async def test_rolling_up_again_counts_nothing_twice(db, recorder) -> None:
    link = await insert_link(db)
    for number in range(3):
        click(recorder, link, client_ip=f"192.0.2.{number}")
        await recorder.flush()  # three batches
    assert await roll_up_clicks(db, batches_per_transaction=1) == 3
    assert await roll_up_clicks(db) == 0
    assert await rolled_up(db, link) == 3
    visitors = await db.fetch_val(
        "SELECT visitors FROM click_days WHERE link_id = :id", {"id": link}
    )
    assert visitors == 3


async def test_a_roll_up_waits_for_a_batch_being_written(db, recorder, database_url) -> None:
    """A batch numbered before the roll-up but committed after it must not be skipped."""
    link = await insert_link(db)
    writer = await asyncpg.connect(database_url)
    try:
        async with writer.transaction():
            await writer.execute(LOCK_BATCHES_SHARED)
            await writer.execute(
                """INSERT INTO clicks (batch, link_id, at, bot, browser, os, device, visitor)
                   VALUES (nextval('click_batches'), $1, now(), FALSE, 'Chrome', 'Windows',
                           'desktop', '\\x01')""",
                link,
            )
            rolling = asyncio.create_task(roll_up_clicks(db))
            await asyncio.sleep(0.3)
            assert not rolling.done()
        assert await rolling == 1
    finally:
        await writer.close()
    assert await rolled_up(db, link) == 1


async def test_instances_rolling_up_at_once_take_turns(db, recorder) -> None:
    link = await insert_link(db)
    for number in range(5):
        click(recorder, link, client_ip=f"192.0.2.{number}")
        await recorder.flush()
    counts = await asyncio.gather(
        *(asyncio.create_task(roll_up_clicks(db, batches_per_transaction=1)) for _ in range(3))
    )
    assert sum(counts) == 5
    assert await rolled_up(db, link) == 5


async def test_clicks_of_a_link_deleted_before_their_roll_up_are_gone(db, recorder) -> None:
    kept, deleted = await insert_link(db), await insert_link(db)
    click(recorder, kept)
    click(recorder, deleted)
    await recorder.flush()
    await db.execute("DELETE FROM links WHERE id = :id", {"id": deleted})
    assert await recorder.roll_up() == 1
    assert await rolled_up(db, kept) == 1
    assert await db.fetch_val("SELECT count(*) FROM click_days") == 1


async def test_a_roll_up_gives_way_to_a_link_being_deleted(db, recorder, database_url) -> None:
    """Waiting for a link that a person's request is deleting, a roll-up fails (and is
    retried later) before it could deadlock with that request."""
    link = await insert_link(db)
    click(recorder, link)
    await recorder.flush()
    deleter = await asyncpg.connect(database_url)
    try:
        async with deleter.transaction():
            await deleter.execute("DELETE FROM links WHERE id = $1", link)
            with pytest.raises(asyncpg.LockNotAvailableError):
                await roll_up_clicks(db)
            assert await db.fetch_val("SELECT rolled_up_to FROM click_rollup") == 0
    finally:
        await deleter.close()
    assert await roll_up_clicks(db) == 0  # the deleted link's clicks went with it
    assert await db.fetch_val("SELECT rolled_up_to FROM click_rollup") == 1


async def test_the_flusher_rolls_up_by_itself(settings, app_factory) -> None:
    app = app_factory(settings, click_flush_seconds=0.05)
    async with app.test_app():
        db, recorder = services(app).db, services(app).clicks
        link = await insert_link(db)
        click(recorder, link)
        recorder.rollups.next_at = 0  # due now, as after a start
        for _ in range(100):
            if await rolled_up(db, link):
                break
            await asyncio.sleep(0.05)
        assert await rolled_up(db, link) == 1
        today = datetime.datetime.now(datetime.UTC).date()
        assert (
            await db.fetch_val("SELECT day FROM click_days WHERE link_id = :id", {"id": link})
            == today
        )
