import asyncio
import datetime
import logging
import random
import time
from dataclasses import replace

import asyncpg
import pytest
from databases import Database

from kurz.analytics import recorder as recorder_module
from kurz.analytics.recorder import BATCH_SIZE, ClickRecorder
from kurz.models.clicks import LINK_CLICKS, insert_clicks, roll_up_clicks
from kurz.services import services

from .support import CHROME, IPHONE, SLACKBOT, click, insert_link


async def stored(db: Database, link_id: int) -> dict:
    """What the database holds for a link, rolled up: raw clicks, its click count (as link
    reads count it) and its daily rollup."""
    await roll_up_clicks(db)
    return {
        "raw": await db.fetch_val(
            "SELECT count(*) FROM clicks WHERE link_id = :id", {"id": link_id}
        ),
        "raw_humans": await db.fetch_val(
            "SELECT count(*) FROM clicks WHERE link_id = :id AND NOT bot", {"id": link_id}
        ),
        "counter": await db.fetch_val(
            f"SELECT {LINK_CLICKS} FROM links WHERE id = :id", {"id": link_id}  # noqa: S608
        ),
        "day_clicks": await db.fetch_val(
            "SELECT coalesce(sum(clicks), 0) FROM click_days WHERE link_id = :id", {"id": link_id}
        ),
        "day_bots": await db.fetch_val(
            "SELECT coalesce(sum(bot_clicks), 0) FROM click_days WHERE link_id = :id",
            {"id": link_id},
        ),
        "visitors": await db.fetch_val(
            "SELECT coalesce(sum(visitors), 0) FROM click_days WHERE link_id = :id",
            {"id": link_id},
        ),
    }


async def test_a_flush_stores_raw_clicks_counter_and_rollups(db, recorder) -> None:
    link = await insert_link(db)
    click(recorder, link, referrer="https://news.ycombinator.com/item?id=1&secret=x")
    click(recorder, link, client_ip="198.51.100.1", referrer="https://b.example/")
    click(recorder, link, IPHONE, referrer="https://c.example/")
    click(recorder, link, SLACKBOT, referrer="https://d.example/")
    # A script, but not a known bot: counted.
    click(recorder, link, "curl/8.5.0", referrer="https://e.example/")
    click(recorder, link, method="HEAD", referrer="https://f.example/")
    await recorder.flush()

    assert await stored(db, link) == {
        "raw": 6,
        "raw_humans": 4,
        "counter": 4,
        "day_clicks": 4,
        "day_bots": 2,
        "visitors": 4,
    }
    rows = await db.fetch_all("SELECT * FROM clicks")
    by_referrer = {row["referrer"]: row for row in rows}
    assert {
        referrer: (row["browser"], row["os"], row["device"], row["bot"])
        for referrer, row in by_referrer.items()
    } == {
        "news.ycombinator.com": ("Chrome", "Windows", "desktop", False),
        "b.example": ("Chrome", "Windows", "desktop", False),
        "c.example": ("Mobile Safari", "iOS", "mobile", False),
        "d.example": ("Slackbot-LinkExpanding", "Other", "bot", True),
        "e.example": ("curl", "Other", "other", False),
        "f.example": ("Chrome", "Windows", "bot", True),
    }
    # No column holds the address, only a 128-bit hash of it.
    assert all(len(row["visitor"]) == 16 for row in rows)
    dump = str([dict(row) for row in rows])
    assert "203.0.113.7" not in dump and "198.51.100.1" not in dump


async def test_same_ip_and_user_agent_is_one_visitor(db, recorder) -> None:
    link = await insert_link(db)
    for _ in range(3):
        click(recorder, link, client_ip="192.0.2.1")
    await recorder.flush()
    click(recorder, link, client_ip="192.0.2.1")  # a later batch of the same day
    click(recorder, link, client_ip="192.0.2.2")  # another address
    click(recorder, link, IPHONE, client_ip="192.0.2.1")  # another browser
    await recorder.flush()
    assert (await stored(db, link))["visitors"] == 3


async def test_a_batch_across_midnight_puts_each_click_on_its_own_day(
    db, recorder, monkeypatch
) -> None:
    """One batch, one person, a click on each side of midnight: each click keeps its time to
    the microsecond and is a visit of its own day, hashed with that day's salt."""
    link = await insert_link(db)
    today = datetime.datetime.now(datetime.UTC).date()
    midnight = datetime.datetime.combine(today, datetime.time(), datetime.UTC)
    times = [midnight - datetime.timedelta(microseconds=1), midnight]
    for at in times:
        with monkeypatch.context() as patch:
            patch.setattr(
                time, "time_ns", lambda at=at: int(at.timestamp()) * 10**9 + at.microsecond * 1000
            )
            click(recorder, link)
    assert await recorder.flush() == 2
    assert await roll_up_clicks(db) == 2
    days = await db.fetch_all(
        "SELECT day, clicks, visitors FROM click_days WHERE link_id = :id ORDER BY day",
        {"id": link},
    )
    yesterday = today - datetime.timedelta(days=1)
    assert [tuple(row.values()) for row in days] == [(yesterday, 1, 1), (today, 1, 1)]
    clicks = await db.fetch_all("SELECT at, visitor FROM clicks ORDER BY at")
    assert [row["at"] for row in clicks] == times
    assert clicks[0]["visitor"] != clicks[1]["visitor"]


async def test_counts_are_exact_under_concurrent_record_and_flush(db, recorder) -> None:
    links = [await insert_link(db) for _ in range(3)]
    expected = {link: 0 for link in links}

    async def visitor(number: int) -> None:
        for i in range(200):
            link = random.choice(links)  # noqa: S311 - test data
            bot = i % 10 == 0
            click(recorder, link, SLACKBOT if bot else CHROME, client_ip=f"10.0.{number}.{i}")
            expected[link] += not bot
            if i % 7 == 0:
                await asyncio.sleep(0)

    async def flusher() -> None:
        while not done.is_set():
            await recorder.flush()
            await asyncio.sleep(0.001)

    done = asyncio.Event()
    flushing = asyncio.create_task(flusher())
    await asyncio.gather(*(visitor(n) for n in range(10)))
    done.set()
    await flushing
    await recorder.flush()

    assert sum(expected.values()) == 1800
    for link in links:
        counts = await stored(db, link)
        assert counts["counter"] == counts["day_clicks"] == counts["raw_humans"] == expected[link]
        assert counts["visitors"] == expected[link]  # every click came from its own address
    assert await db.fetch_val("SELECT count(*) FROM clicks") == 2000


async def test_clicks_of_a_link_deleted_before_their_flush_are_never_counted(db, recorder) -> None:
    kept, deleted = await insert_link(db), await insert_link(db)
    click(recorder, kept)
    click(recorder, deleted)
    click(recorder, kept)
    await db.execute("DELETE FROM links WHERE id = :id", {"id": deleted})
    assert await recorder.flush() == 3  # a flush does not look at links (db/7.py)
    assert recorder.buffered == 0
    assert await roll_up_clicks(db) == 2
    assert (await stored(db, kept))["counter"] == 2
    assert await db.fetch_val("SELECT sum(clicks) FROM click_days") == 2


async def test_a_flush_does_not_wait_for_a_link_being_deleted(db, recorder, database_url) -> None:
    """A request deleting a link holds it until it commits; a flush writes its batch
    meanwhile, and the roll-up leaves the deleted link's click out."""
    kept, deleted = await insert_link(db), await insert_link(db)
    click(recorder, kept)
    click(recorder, deleted)
    deleter = await asyncpg.connect(database_url)
    try:
        async with deleter.transaction():
            await deleter.execute("DELETE FROM links WHERE id = $1", deleted)
            assert await asyncio.wait_for(recorder.flush(), 5) == 2
    finally:
        await deleter.close()
    assert await roll_up_clicks(db) == 1
    assert (await stored(db, kept))["day_clicks"] == 1
    assert await db.fetch_val("SELECT count(*) FROM click_days") == 1


async def test_deleting_an_org_deletes_its_links_raw_clicks(db, recorder) -> None:
    org_id = str(await db.fetch_val("INSERT INTO orgs (name) VALUES ('Gone') RETURNING id"))
    links = [await insert_link(db, org_id) for _ in range(3)]
    other = await insert_link(db)
    for link in [*links, other]:
        click(recorder, link)
    await recorder.flush()
    await db.execute("DELETE FROM orgs WHERE id = :id", {"id": org_id})
    assert [row["link_id"] for row in await db.fetch_all("SELECT link_id FROM clicks")] == [other]


async def test_a_batch_committed_without_an_answer_is_not_stored_twice(
    db, recorder, monkeypatch
) -> None:
    """The connection breaks after the COMMIT: the flusher cannot tell, so it writes the same
    batch again, which must store nothing more."""
    link = await insert_link(db)
    for _ in range(3):
        click(recorder, link)

    async def committed_then_cut_off(db, clicks) -> int:
        await insert_clicks(db, clicks)
        raise ConnectionResetError("connection lost before the answer")

    monkeypatch.setattr(recorder_module, "insert_clicks", committed_then_cut_off)
    with pytest.raises(ConnectionResetError):
        await recorder.flush()
    assert recorder.buffered == 3
    monkeypatch.undo()
    click(recorder, link)  # recorded meanwhile: it goes in a batch of its own
    assert await recorder.flush() == 1
    assert recorder.buffered == 0
    assert (await stored(db, link))["raw"] == 4


async def test_a_full_buffer_drops_the_oldest_clicks_with_a_warning(settings, caplog) -> None:
    recorder = ClickRecorder(settings, max_buffered=3)
    with caplog.at_level(logging.WARNING, logger="kurz.analytics.recorder"):
        for link_id in range(1, 6):
            click(recorder, link_id)
    assert recorder.buffered == 3
    assert recorder.dropped == 2
    assert [link for columns in recorder._segments for link in columns.link_ids] == [3, 4, 5]
    assert "click buffer full" in caplog.text


async def test_a_full_buffer_keeps_the_newest_clicks_across_batches(db, recorder) -> None:
    first, middle, last = [await insert_link(db) for _ in range(3)]
    recorder.max_buffered = BATCH_SIZE + 1
    for link in [first, first] + [middle] * (BATCH_SIZE - 1) + [last, last]:
        click(recorder, link)
    assert recorder.dropped == 2
    assert await recorder.flush() == BATCH_SIZE + 1
    counts = await db.fetch_all("SELECT link_id, count(*) FROM clicks GROUP BY link_id")
    assert dict(tuple(row.values()) for row in counts) == {middle: BATCH_SIZE - 1, last: 2}


async def test_recording_can_be_turned_off(settings) -> None:
    recorder = ClickRecorder(replace(settings, click_recording=False))
    click(recorder, 1)
    assert recorder.buffered == 0


async def test_clicks_buffered_during_an_outage_are_written_after_it(
    own_postgres, settings, app_factory, caplog
) -> None:
    app = app_factory(
        settings, database_url=own_postgres.url, db_query_timeout=2, click_flush_seconds=0.1
    )
    async with app.test_app():
        db, recorder = services(app).db, services(app).clicks
        link = await insert_link(db)
        click(recorder, link)
        await asyncio.to_thread(own_postgres.stop)
        with caplog.at_level(logging.WARNING, logger="kurz.analytics.recorder"):
            for _ in range(4):
                click(recorder, link)
            await asyncio.sleep(1)  # several flushes fail meanwhile
            assert recorder.buffered >= 4
        assert caplog.text.count("cannot write clicks") == 1  # once per outage, not per try
        await asyncio.to_thread(own_postgres.start)
        for _ in range(100):
            if recorder.buffered == 0:
                break
            await asyncio.sleep(0.1)
        counts = await stored(db, link)
        assert counts["counter"] == counts["raw"] == 5


async def test_shutdown_writes_every_buffered_click(settings, app_factory, database_url) -> None:
    # An interval far beyond the test: only the shutdown can write them.
    app = app_factory(settings, click_flush_seconds=3600)
    async with app.test_app():
        link = await insert_link(services(app).db)
        for _ in range(250):
            click(services(app).clicks, link)
    db = Database(database_url)
    await db.connect()
    try:
        counts = await stored(db, link)
    finally:
        await db.disconnect()
    assert counts["raw"] == counts["counter"] == 250


async def test_a_shutdown_during_an_outage_spools_the_clicks_for_the_next_start(
    own_postgres, settings, app_factory, tmp_path, caplog
) -> None:
    changes = {"database_url": own_postgres.url, "db_query_timeout": 1, "data_dir": tmp_path}
    app = app_factory(settings, click_flush_seconds=3600, **changes)
    clicks = BATCH_SIZE + 3  # a whole batch and the start of the next
    with caplog.at_level(logging.WARNING, logger="kurz.analytics.recorder"):
        async with app.test_app():
            link = await insert_link(services(app).db)
            for number in range(clicks):
                agent, referrer = (IPHONE, "https://news.example/") if number % 2 else (CHROME, "")
                click(services(app).clicks, link, agent, referrer=referrer)
            await asyncio.to_thread(own_postgres.stop)
    assert f"{clicks} clicks spooled to {tmp_path}" in caplog.text
    assert len(list(tmp_path.glob("click-spool/*.clicks.json"))) == 1

    # The next start on that database writes them first, once, as they would have been.
    await asyncio.to_thread(own_postgres.start)
    async with app_factory(settings, **changes).test_app() as restarted:
        db = services(restarted.app).db
        assert services(restarted.app).clicks.buffered == clicks
        await services(restarted.app).clicks.flush()
        counts = await stored(db, link)
        referrers = await db.fetch_all(
            "SELECT referrer, clicks FROM click_day_referrers WHERE link_id = :id ORDER BY 1",
            {"id": link},
        )
    assert counts["raw"] == counts["counter"] == counts["day_clicks"] == clicks
    assert counts["visitors"] == 2  # one address, two user agents
    assert [(row["referrer"], row["clicks"]) for row in referrers] == [
        ("news.example", clicks // 2)
    ]
    assert not list(tmp_path.glob("click-spool/*"))


async def test_a_spool_is_taken_back_only_on_its_own_database_and_stored_once(
    own_postgres, settings, app_factory, fresh_database, template_database, tmp_path
) -> None:
    changes = {"database_url": own_postgres.url, "db_query_timeout": 1, "data_dir": tmp_path}
    async with app_factory(settings, click_flush_seconds=3600, **changes).test_app() as down:
        link = await insert_link(services(down.app).db)
        for _ in range(5):
            click(services(down.app).clicks, link)
        await asyncio.to_thread(own_postgres.stop)
    await asyncio.to_thread(own_postgres.start)

    # Another database, the same data directory: the spool is not for it.
    other = app_factory(
        settings, data_dir=tmp_path, database_url=fresh_database(template_database)
    )
    async with other.test_app():
        assert services(other).clicks.buffered == 0
    # Nor for another installation (KURZ_DB_SCHEMA) in the same database.
    other = app_factory(settings, **changes, db_schema="other")
    async with other.test_app():
        assert services(other).clicks.buffered == 0
    assert len(list(tmp_path.glob("click-spool/*.clicks.json"))) == 1

    # Two processes (workers) of its own database take it back at once: stored once.
    first, second = app_factory(settings, **changes), app_factory(settings, **changes)
    async with first.test_app(), second.test_app():
        written = [await services(app).clicks.flush() for app in (first, second)]
        assert written == [5, 0]
        assert (await stored(services(first).db, link))["raw"] == 5
    assert not list(tmp_path.glob("click-spool/*"))


async def test_a_shutdown_that_can_neither_write_nor_spool_logs_the_clicks_it_loses(
    own_postgres, settings, app_factory, tmp_path, caplog
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    app = app_factory(
        settings,
        database_url=own_postgres.url,
        db_query_timeout=1,
        click_flush_seconds=3600,
        data_dir=not_a_directory,
    )
    with caplog.at_level(logging.ERROR, logger="kurz.analytics.recorder"):
        async with app.test_app():
            link = await insert_link(services(app).db)
            for _ in range(3):
                click(services(app).clicks, link)
            await asyncio.to_thread(own_postgres.stop)
    assert "final click flush failed" in caplog.text
    assert "3 clicks lost" in caplog.text


async def test_settling_before_a_read_writes_at_most_one_batch(db, recorder) -> None:
    """A read shows every click of a quiet moment, but never waits for a backlog."""
    link = await insert_link(db)
    for _ in range(BATCH_SIZE + 5):
        click(recorder, link)
    await recorder.settle()
    assert (await stored(db, link))["raw"] == BATCH_SIZE
    assert recorder.buffered == 5
    await recorder.settle()
    assert (await stored(db, link))["raw"] == BATCH_SIZE + 5
