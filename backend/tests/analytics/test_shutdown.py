"""A real server process: every redirect answered before SIGTERM is a stored click."""

import asyncio
import signal

import httpx
import pytest
from databases import Database

from kurz.models.clicks import LINK_CLICKS, roll_up_clicks
from tests.support import PASSWORD

from .support import CHROME


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_n_redirects_then_a_signal_store_exactly_n_clicks(
    live_server_factory, database_url: str, sig: int
) -> None:
    # An interval far beyond the test: only the shutdown can write the clicks.
    server = live_server_factory(database_url, KURZ_CLICK_FLUSH_SECONDS="3600")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        account = {"email": "shutdown@example.com", "password": PASSWORD}
        assert (await http.post("/api/v1/users", json=account)).status_code == 201
        assert (await http.post("/api/v1/session", json=account)).status_code == 200
        org_id = (await http.post("/api/v1/orgs", json={"name": "Acme"})).json()["id"]
        response = await http.post(
            f"/api/v1/orgs/{org_id}/links", json={"url": "https://example.com/"}
        )
        slug = response.json()["slug"]

        async def redirects(count: int, method: str = "GET") -> list[int]:
            statuses = []
            for _ in range(count):
                response = await http.request(method, f"/{slug}", headers={"User-Agent": CHROME})
                statuses.append(response.status_code)
            return statuses

        answered = await asyncio.gather(*(redirects(60) for _ in range(5)), redirects(7, "HEAD"))
    assert {status for statuses in answered for status in statuses} == {302}

    assert await asyncio.to_thread(server.stop, sig) == 0
    db = Database(database_url)
    await db.connect()
    try:
        assert await db.fetch_val("SELECT count(*) FROM clicks") == 307
        assert await db.fetch_val("SELECT count(*) FROM clicks WHERE bot") == 7
        assert await roll_up_clicks(db) == 307
        assert (
            await db.fetch_val(
                f"SELECT {LINK_CLICKS} FROM links WHERE slug = :slug",  # noqa: S608
                {"slug": slug},
            )
            == 300
        )
    finally:
        await db.disconnect()
    assert "clicks lost" not in server.log()
