import datetime
import uuid

from kurz.models.clicks import ClickBatch, insert_clicks

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


async def test_a_batch_stores_each_click_with_its_own_fields(db) -> None:
    """Clicks' numbers travel packed in bytea: numbers past one byte, link ids past 32 bits
    and times to the microsecond must come back whole, each click with its own agent,
    referrer host and visitor."""
    count = 300
    start = 1_764_000_000_123_456  # microseconds since the epoch
    agents = [("Chrome", "Windows", "desktop", False), ("Slackbot", "Other", "bot", True)]
    referrers = [None, *(f"r{number}.example" for number in range(1, count))]
    visitors = [number.to_bytes(16, "big") for number in range(count)]
    batch = ClickBatch(
        uuid.uuid4(),
        link_ids=[2**40 + number for number in range(count)],
        times=[start + number for number in range(count)],
        agent_numbers=[number % 2 + 1 for number in range(count)],
        referrer_numbers=[number + 1 for number in range(count)],
        visitor_numbers=[count - number for number in range(count)],
        agents=agents,
        referrers=referrers,
        visitors=visitors,
        countries=[None, *("DE" for _ in range(1, count))],
    )
    assert await insert_clicks(db, batch) == count
    rows = await db.fetch_all(
        "SELECT link_id, at, bot, browser, referrer, visitor FROM clicks ORDER BY link_id"
    )
    assert [tuple(row.values()) for row in rows] == [
        (
            2**40 + number,
            EPOCH + datetime.timedelta(microseconds=start + number),
            number % 2 == 1,
            agents[number % 2][0],
            referrers[number],
            visitors[count - number - 1],
        )
        for number in range(count)
    ]
    assert await insert_clicks(db, batch) == 0  # the same token: stored already
