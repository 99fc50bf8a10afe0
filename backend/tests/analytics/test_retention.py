import asyncio
import datetime
import math
from dataclasses import replace

import pytest

from kurz.services import services

from .support import click, insert_link

RETENTION_DAYS = 30


@pytest.fixture
def settings(settings):
    return replace(settings, click_retention_days=RETENTION_DAYS)


async def age(db, days: int) -> None:
    """Make every click, raw and rolled up, ``days`` older."""
    shift = {"days": days}
    await db.execute("UPDATE clicks SET at = at - make_interval(days => :days)", shift)
    for table in ("click_days", "click_day_referrers", "click_day_agents", "click_day_visitors"):
        sql = f"UPDATE {table} SET day = day - CAST(:days AS INTEGER)"  # noqa: S608
        await db.execute(sql, shift)


async def test_retention_deletes_raw_clicks_but_stats_keep_their_day(
    db, recorder, make_org
) -> None:
    org_id, owner = await make_org()
    response = await owner.client.post(
        f"/api/v1/orgs/{org_id}/links", json={"url": "https://example.com/", "slug": "old-one"}
    )
    assert response.status_code == 201
    link_id = await db.fetch_val("SELECT id FROM links WHERE slug = 'old-one'")
    for number in range(3):
        click(recorder, link_id, client_ip=f"192.0.2.{number}")
    await recorder.flush()
    await recorder.roll_up()
    await age(db, RETENTION_DAYS + 10)
    click(recorder, link_id)  # a recent one, which stays
    await recorder.flush()

    assert await recorder.purge() == 3
    assert await db.fetch_val("SELECT count(*) FROM clicks") == 1

    response = await owner.client.get(f"/api/v1/orgs/{org_id}/links/old-one/stats?days=60")
    body = await response.get_json()
    old_day = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=40)
    assert {"date": old_day.isoformat(), "clicks": 3} in body["series"]
    assert body["total_clicks"] == 4
    assert body["unique_visitors"] == 4
    assert body["browsers"] == [{"value": "Chrome", "clicks": 4}]


async def test_retention_forgets_past_salts_and_visitor_hashes(db, recorder) -> None:
    link_id = await insert_link(db)
    click(recorder, link_id)
    await recorder.flush()
    await recorder.roll_up()
    await age(db, 2)
    today = datetime.datetime.now(datetime.UTC).date()
    await db.execute(
        "INSERT INTO visitor_salts (day, salt) VALUES (:day, :salt)",
        {"day": today - datetime.timedelta(days=2), "salt": b"x" * 32},
    )
    click(recorder, link_id)
    await recorder.flush()
    await recorder.roll_up()

    await db.execute("UPDATE click_batch_tokens SET at = at - interval '2 days'")
    click(recorder, link_id)
    await recorder.flush()  # a batch of today, whose token is kept

    await recorder.purge()
    assert [row["day"] for row in await db.fetch_all("SELECT day FROM visitor_salts")] == [today]
    assert await db.fetch_val("SELECT count(*) FROM click_day_visitors") == 1
    assert await db.fetch_val("SELECT count(*) FROM click_batch_tokens") == 1
    # The daily rollups are kept.
    assert await db.fetch_val("SELECT count(*) FROM click_days") == 2


async def test_retention_keeps_what_is_not_rolled_up_yet(db, recorder) -> None:
    recorder.rollups.next_at = math.inf  # roll-ups only when the test says
    link_id = await insert_link(db)
    click(recorder, link_id, client_ip="192.0.2.1")
    await recorder.flush()
    await age(db, RETENTION_DAYS + 10)
    # Neither the raw clicks nor the visitors already counted for their day may go while the
    # rollups still lack clicks of that day.
    old_day = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=40)
    await db.execute(
        "INSERT INTO click_day_visitors (link_id, day, visitor) VALUES (:id, :day, '\\x01')",
        {"id": link_id, "day": old_day},
    )

    assert await recorder.purge() == 0
    assert await db.fetch_val("SELECT count(*) FROM click_day_visitors") == 1

    await recorder.roll_up()
    assert await recorder.purge() == 1
    assert await db.fetch_val("SELECT count(*) FROM clicks") == 0
    assert await db.fetch_val("SELECT count(*) FROM click_day_visitors") == 0
    assert (
        await db.fetch_val("SELECT sum(clicks) FROM click_days WHERE day = :day", {"day": old_day})
        == 1
    )


async def test_the_flusher_applies_the_retention_by_itself(settings, app_factory) -> None:
    app = app_factory(settings, click_flush_seconds=0.05)
    async with app.test_app():
        db = services(app).db
        link_id = await insert_link(db)
        await db.execute(
            """INSERT INTO clicks (link_id, at, bot, browser, os, device, visitor)
               VALUES (:id, now() - interval '400 days', FALSE, 'Chrome', 'Windows', 'desktop',
                       '\\x00')""",
            {"id": link_id},
        )
        services(app).clicks.retention.next_at = 0  # due now, as after a start
        for _ in range(100):
            if await db.fetch_val("SELECT count(*) FROM clicks") == 0:
                break
            await asyncio.sleep(0.05)
        assert await db.fetch_val("SELECT count(*) FROM clicks") == 0
