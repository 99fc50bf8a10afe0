import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from databases import Database
from quart.testing.app import LifespanError

from kurz.config import MIGRATIONS_DIR
from kurz.migrations import (
    MigrationError,
    check_server_version,
    latest_version,
    migrate,
    select_version,
)
from kurz.models.clicks import roll_up_clicks, select_link_stats
from kurz.models.links import select_link

from .analytics.support import insert_link
from .support import BACKEND_DIR

# Each file records that it ran, so a test can count how often each one was applied.
RECORDING_MIGRATION = """
async def migrate(db):
    await db.execute("CREATE TABLE IF NOT EXISTS ran (number INT NOT NULL)")
    await db.execute("INSERT INTO ran VALUES ({number})")
"""


def write_migrations(directory: Path, bodies: dict[int, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for number, body in bodies.items():
        (directory / f"{number}.py").write_text(body)
    return directory


@pytest.fixture
async def empty_db(fresh_database):
    db = Database(fresh_database())
    await db.connect()
    yield db
    await db.disconnect()


async def test_fresh_database_migrates_to_the_latest_version(empty_db) -> None:
    applied = await migrate(empty_db)
    assert [path.name for path in applied] == [
        f"{n}.py" for n in range(latest_version(MIGRATIONS_DIR) + 1)
    ]
    assert await select_version(empty_db) == latest_version()
    tables = {
        row["tablename"] for row in await empty_db.fetch_all("SELECT tablename FROM pg_tables")
    }
    assert {"users", "orgs", "members", "links", "schema_migration"} <= tables


async def test_clicks_stored_before_click_batches_count_once(empty_db, tmp_path) -> None:
    """db/4.py: the flush that wrote a click before batches existed wrote its rollups too, so
    such clicks count as rolled up, neither twice nor never."""
    await migrate_up_to(empty_db, tmp_path, 3)
    link_id = await insert_link(empty_db)
    await empty_db.execute(
        """INSERT INTO clicks (link_id, at, bot, browser, os, device, visitor)
           VALUES (:id, now(), FALSE, 'Chrome', 'Windows', 'desktop', '\\x01')""",
        {"id": link_id},
    )
    await empty_db.execute(
        """INSERT INTO click_days (link_id, day, clicks, visitors)
           VALUES (:id, CAST(now() AT TIME ZONE 'UTC' AS DATE), 1, 1)""",
        {"id": link_id},
    )

    await migrate(empty_db)
    assert (await select_link_stats(empty_db, link_id, 1)).total_clicks == 1
    assert await roll_up_clicks(empty_db) == 0
    assert (await select_link_stats(empty_db, link_id, 1)).total_clicks == 1


async def test_clicks_the_flush_counted_before_5_are_counted_once(empty_db, tmp_path) -> None:
    """db/5.py: the flushes before it added their batches to links.clicks; the roll-up now
    does, so a batch not rolled up yet at the upgrade must count once, before and after (and
    db/8.py moves the counter to link_clicks)."""
    await migrate_up_to(empty_db, tmp_path, 4)
    org_id = str(await empty_db.fetch_val("INSERT INTO orgs (name) VALUES ('Acme') RETURNING id"))
    link_id = await insert_link(empty_db, org_id, "counted")
    for bot in (False, False, True):  # as a flush before db/5.py wrote its batch
        await empty_db.execute(
            """INSERT INTO clicks (batch, link_id, at, bot, browser, os, device, visitor)
               VALUES (nextval('click_batches'), :id, now(), :bot, 'Chrome', 'Windows',
                       'desktop', '\\x01')""",
            {"id": link_id, "bot": bot},
        )
    await empty_db.execute("UPDATE links SET clicks = 2 WHERE id = :id", {"id": link_id})

    await migrate(empty_db)
    assert (await select_link(empty_db, org_id, "counted")).clicks == 2
    assert await roll_up_clicks(empty_db) == 3
    assert (await select_link(empty_db, org_id, "counted")).clicks == 2


async def test_top_lists_rolled_up_before_5_are_kept(empty_db, tmp_path) -> None:
    """db/5.py: click_day_values counted each dimension on its own; its rows move to the
    referrer and agent tables and stats still show them."""
    await migrate_up_to(empty_db, tmp_path, 4)
    link_id = await insert_link(empty_db)
    await empty_db.execute(
        """INSERT INTO click_days (link_id, day, clicks, visitors)
           VALUES (:id, CAST(now() AT TIME ZONE 'UTC' AS DATE), 3, 2)""",
        {"id": link_id},
    )
    await empty_db.execute(
        """INSERT INTO click_day_values (link_id, day, dimension, value, clicks)
           SELECT :id, CAST(now() AT TIME ZONE 'UTC' AS DATE), dimension, value, clicks
             FROM (VALUES ('referrer', 't.co', 2), ('browser', 'Chrome', 2),
                          ('browser', 'Firefox', 1), ('os', 'Linux', 3),
                          ('device', 'desktop', 3)) AS v (dimension, value, clicks)""",
        {"id": link_id},
    )

    await migrate(empty_db)
    stats = await select_link_stats(empty_db, link_id, 1)
    assert (stats.total_clicks, stats.unique_visitors) == (3, 2)
    top = {
        name: [(value.value, value.clicks) for value in getattr(stats, name)]
        for name in ("referrers", "browsers", "os", "devices")
    }
    assert top == {
        "referrers": [("t.co", 2)],
        "browsers": [("Chrome", 2), ("Firefox", 1)],
        "os": [("Linux", 3)],
        "devices": [("desktop", 3)],
    }


async def test_clicks_stored_before_7_go_with_their_link(empty_db, tmp_path) -> None:
    """db/7.py: a trigger instead of the foreign key deletes a deleted link's raw clicks."""
    await migrate_up_to(empty_db, tmp_path, 6)
    kept, deleted = await insert_link(empty_db), await insert_link(empty_db)
    for link_id in (kept, deleted):
        await empty_db.execute(
            """INSERT INTO clicks (batch, link_id, at, bot, browser, os, device, visitor)
               VALUES (nextval('click_batches'), :id, now(), FALSE, 'Chrome', 'Windows',
                       'desktop', '\\x01')""",
            {"id": link_id},
        )

    await migrate(empty_db)
    await empty_db.execute("DELETE FROM links WHERE id = :id", {"id": deleted})
    assert [row["link_id"] for row in await empty_db.fetch_all("SELECT link_id FROM clicks")] == [
        kept
    ]


async def test_a_links_clicks_read_the_same_through_9(empty_db, tmp_path) -> None:
    """db/9.py: a link's counter keeps the clicks of days before today only; today's are read
    from its daily row."""
    await migrate_up_to(empty_db, tmp_path, 8)
    org_id = str(await empty_db.fetch_val("INSERT INTO orgs (name) VALUES ('Acme') RETURNING id"))
    link_id = await insert_link(empty_db, org_id, "counted")
    await empty_db.execute(
        """INSERT INTO click_days (link_id, day, clicks, visitors)
           SELECT :id, CAST(now() AT TIME ZONE 'UTC' AS DATE) - ago, clicks, 1
             FROM (VALUES (0, 3), (1, 2)) AS v (ago, clicks)""",
        {"id": link_id},
    )
    # Two more from before click_days existed (db/3.py).
    await empty_db.execute("INSERT INTO link_clicks VALUES (:id, 7)", {"id": link_id})
    # A day but no counter row (never so, but what a link read says must not change anyway).
    uncounted = await insert_link(empty_db, org_id, "uncounted")
    await empty_db.execute(
        """INSERT INTO click_days (link_id, day, clicks, visitors)
           VALUES (:id, CAST(now() AT TIME ZONE 'UTC' AS DATE), 1, 1)""",
        {"id": uncounted},
    )

    await migrate(empty_db)
    assert (await select_link(empty_db, org_id, "counted")).clicks == 7
    assert (await select_link(empty_db, org_id, "uncounted")).clicks == 0
    assert (
        await empty_db.fetch_val(
            "SELECT clicks FROM link_clicks WHERE link_id = :id", {"id": link_id}
        )
        == 4
    )


async def test_org_rollups_start_as_the_sums_of_the_links_rollups(empty_db, tmp_path) -> None:
    """db/24.py fills an org's roll-ups from its links' (their agents' '' values skipped in
    the monthly values), gives each counter its org, and lists today's links as recent."""
    await migrate_up_to(empty_db, tmp_path, 23)
    org_id = str(await empty_db.fetch_val("INSERT INTO orgs (name) VALUES ('Acme') RETURNING id"))
    links = [await insert_link(empty_db, org_id, slug) for slug in ("one", "two")]
    await empty_db.execute(
        """INSERT INTO click_days (link_id, day, clicks, visitors)
           SELECT link_id, CAST(now() AT TIME ZONE 'UTC' AS DATE) - ago, 2, 1
             FROM unnest(CAST(:links AS BIGINT[])) AS link_id, (VALUES (0), (40)) AS v (ago)""",
        {"links": links},
    )
    for table, columns, values in (
        ("click_day_referrers", "referrer", "'t.co'"),
        ("click_day_agents", "browser, os, device", "'Chrome', '', 'desktop'"),
        ("click_day_countries", "country", "'DE'"),
    ):
        await empty_db.execute(f"""INSERT INTO {table} (link_id, day, {columns}, clicks)
                SELECT link_id, day, {values}, clicks FROM click_days""")  # noqa: S608
    await empty_db.execute(
        "INSERT INTO link_clicks (link_id, clicks) VALUES (:id, 2)", {"id": links[0]}
    )

    await migrate(empty_db)
    days = await empty_db.fetch_all(
        "SELECT org_id, clicks, visitors FROM org_click_days ORDER BY day"
    )
    assert [(str(row["org_id"]), row["clicks"], row["visitors"]) for row in days] == [
        (org_id, 4, 2),
        (org_id, 4, 2),
    ]
    values = await empty_db.fetch_all(
        """SELECT dimension, value, sum(clicks) AS clicks FROM org_click_month_values
            GROUP BY dimension, value ORDER BY dimension"""
    )
    assert [(row["dimension"], row["value"], row["clicks"]) for row in values] == [
        ("browser", "Chrome", 8),
        ("country", "DE", 8),
        ("device", "desktop", 8),
        ("referrer", "t.co", 8),
    ]
    assert str(await empty_db.fetch_val("SELECT org_id FROM link_clicks")) == org_id
    recent = await empty_db.fetch_all("SELECT link_id, clicks FROM org_recent_links")
    assert sorted((row["link_id"], row["clicks"]) for row in recent) == [
        (links[0], 2),
        (links[1], 2),
    ]


async def migrate_up_to(db: Database, tmp_path: Path, last: int) -> None:
    """Apply the real migrations 0..last only, as a database of an earlier release."""
    directory = tmp_path / "db"
    directory.mkdir()
    for number in range(last + 1):
        shutil.copy(MIGRATIONS_DIR / f"{number}.py", directory)
    await migrate(db, directory)


async def test_running_again_is_a_no_op(empty_db) -> None:
    await migrate(empty_db)
    assert await migrate(empty_db) == []
    assert await empty_db.fetch_val("SELECT count(*) FROM schema_migration") == 1


async def test_a_failing_migration_leaves_schema_and_version_as_before(empty_db, tmp_path) -> None:
    directory = write_migrations(
        tmp_path / "db",
        {
            0: RECORDING_MIGRATION.format(number=0),
            1: 'async def migrate(db):\n    await db.execute("CREATE TABLE half (x INT)")\n'
            '    raise RuntimeError("boom")\n',
        },
    )
    with pytest.raises(MigrationError, match=r"1\.py.*boom"):
        await migrate(empty_db, directory)
    assert await select_version(empty_db) == 0
    assert await empty_db.fetch_val("SELECT to_regclass('half')") is None
    assert await empty_db.fetch_val("SELECT count(*) FROM ran") == 1


async def test_the_app_refuses_to_start_on_a_failing_migration(
    settings, app_factory, fresh_database, tmp_path
) -> None:
    directory = write_migrations(
        tmp_path / "db", {0: 'async def migrate(db):\n    raise ValueError("bad sql")\n'}
    )
    app = app_factory(settings, database_url=fresh_database(), migrations_dir=directory)
    with pytest.raises(LifespanError, match=r"0\.py failed and was rolled back.*bad sql"):
        async with app.test_app():
            pass


async def test_refuses_a_database_ahead_of_the_code(empty_db) -> None:
    await migrate(empty_db)
    await empty_db.execute("UPDATE schema_migration SET version = version + 1")
    with pytest.raises(MigrationError, match="newer than this code"):
        await migrate(empty_db)


def test_refuses_a_server_older_than_postgresql_15() -> None:
    with pytest.raises(MigrationError, match="needs PostgreSQL 15 or later; this server is 14.13"):
        check_server_version(140013, "14.13")
    check_server_version(150020, "15.20")
    check_server_version(180006, "18.6")
    check_server_version(190000, "19.0")


async def test_refuses_a_gap_in_the_files(empty_db, tmp_path) -> None:
    directory = write_migrations(
        tmp_path / "db",
        {0: RECORDING_MIGRATION.format(number=0), 2: RECORDING_MIGRATION.format(number=2)},
    )
    with pytest.raises(MigrationError, match="gap"):
        await migrate(empty_db, directory)
    assert await select_version(empty_db) == -1


async def test_concurrent_migrators_apply_each_file_once(fresh_database, tmp_path) -> None:
    directory = write_migrations(
        tmp_path / "db", {n: RECORDING_MIGRATION.format(number=n) for n in range(5)}
    )
    url = fresh_database()
    databases = [Database(url) for _ in range(4)]
    for db in databases:
        await db.connect()
    try:
        results = await asyncio.gather(*(migrate(db, directory) for db in databases))
        assert sorted(len(applied) for applied in results) == [0, 0, 0, 5]
        rows = await databases[0].fetch_all("SELECT number FROM ran ORDER BY number")
        assert [row["number"] for row in rows] == [0, 1, 2, 3, 4]
        assert await select_version(databases[0]) == 4
    finally:
        for db in databases:
            await db.disconnect()


async def test_concurrent_real_migrations_on_an_empty_database(fresh_database) -> None:
    url = fresh_database()
    databases = [Database(url) for _ in range(4)]
    for db in databases:
        await db.connect()
    try:
        results = await asyncio.gather(*(migrate(db) for db in databases))
        assert sum(len(applied) for applied in results) == latest_version() + 1
        assert await select_version(databases[0]) == latest_version()
    finally:
        for db in databases:
            await db.disconnect()


def test_command_line_shows_status_and_applies(fresh_database) -> None:
    env = {**os.environ, "DATABASE_URL": fresh_database()}

    def run(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "kurz.migrations", *args],
            env=env,
            cwd=BACKEND_DIR,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    status = run("--status")
    assert "version: -1" in status
    assert "pending: 0.py" in status
    applied = run()
    assert "applied 0.py" in applied
    assert f"at version {latest_version()}" in applied
    assert "pending: none" in run("--status")


async def test_tokens_made_by_tokens_get_the_person_behind_them(empty_db, tmp_path) -> None:
    """Tokens made by a token had no creator; they get that token's, through any chain."""
    await migrate_up_to(empty_db, tmp_path, 9)
    org_id = await empty_db.fetch_val("INSERT INTO orgs (name) VALUES ('Acme') RETURNING id")
    user_id = await empty_db.fetch_val("""INSERT INTO users (email, name, password_hash)
           VALUES ('a@example.com', '', 'x') RETURNING id""")

    async def token(name: str, created_by=None, made_by=None):
        token_id = await empty_db.fetch_val(
            """INSERT INTO api_tokens (org_id, name, role, secret_hash, created_by)
               VALUES (:org_id, :name, 'admin', :name, :created_by) RETURNING id""",
            {"org_id": org_id, "name": name, "created_by": created_by},
        )
        if made_by is not None:
            await empty_db.execute(
                """INSERT INTO audit_log (org_id, token_id, action, target)
                   VALUES (:org_id, :token_id, 'token.create', :target)""",
                {"org_id": org_id, "token_id": made_by, "target": str(token_id)},
            )
        return token_id

    person = await token("person", created_by=user_id)
    child = await token("child", made_by=person)
    grandchild = await token("grandchild", made_by=child)
    orphan = await token("orphan")  # no record of its maker: stays without one

    await migrate(empty_db)
    rows = await empty_db.fetch_all("SELECT id, created_by FROM api_tokens")
    creators = {row["id"]: row["created_by"] for row in rows}
    assert creators == {person: user_id, child: user_id, grandchild: user_id, orphan: None}
