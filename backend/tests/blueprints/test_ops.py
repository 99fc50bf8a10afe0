import asyncio

from kurz.migrations import latest_version
from tests.support import assert_problem


async def test_healthz_answers_while_the_process_runs(client) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert (await response.get_json())["status"] == "ok"


async def test_readyz_reports_the_latest_schema(client) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert (await response.get_json())["schema_version"] == latest_version()


async def test_readyz_is_503_while_the_database_is_down_and_recovers(
    own_postgres, settings, app_factory
) -> None:
    app = app_factory(settings, database_url=own_postgres.url, db_query_timeout=2)
    async with app.test_app():
        client = app.test_client()
        assert (await client.get("/readyz")).status_code == 200

        await asyncio.to_thread(own_postgres.stop)
        response = await client.get("/readyz")
        await assert_problem(response, 503, "DATABASE_UNAVAILABLE")
        assert response.headers["Retry-After"] == "5"
        assert (await client.get("/healthz")).status_code == 200

        await asyncio.to_thread(own_postgres.start)
        statuses = []
        for _ in range(50):
            statuses.append((await client.get("/readyz")).status_code)
            if statuses[-1] == 200:
                break
            await asyncio.sleep(0.2)
        assert statuses[-1] == 200, statuses
