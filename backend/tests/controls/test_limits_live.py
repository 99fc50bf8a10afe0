"""Click limits and expired URLs through real servers."""

import asyncio

import asyncpg
import httpx

from kurz.redirects.cache import asyncpg_dsn
from tests.controls.live import sign_up, visitor

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


async def _visit_all(base_urls: list[str], path: str, visits: int) -> list[int]:
    """``visits`` GETs at once, spread over the servers; their statuses."""
    limits = httpx.Limits(max_connections=visits)
    clients = [
        httpx.AsyncClient(base_url=url, timeout=60, limits=limits, follow_redirects=False)
        for url in base_urls
    ]
    try:
        responses = await asyncio.gather(
            *(clients[index % len(clients)].get(path) for index in range(visits))
        )
    finally:
        for client in clients:
            await client.aclose()
    return [response.status_code for response in responses]


def test_concurrent_visits_on_two_servers_never_exceed_the_limit(
    database_url, live_server_factory
) -> None:
    first = live_server_factory(database_url)
    second = live_server_factory(database_url)
    owner = sign_up(first.base_url)
    link = owner.create_link(slug="fifty", url="https://example.com/offer", max_clicks=50)
    assert link["clicks_remaining"] == 50
    statuses = asyncio.run(_visit_all([first.base_url, second.base_url], "/fifty", 200))
    assert statuses.count(302) == 50
    assert statuses.count(410) == 150
    assert owner.link("fifty")["clicks_remaining"] == 0
    with visitor(second.base_url) as late:
        assert late.get("/fifty").status_code == 410


def test_bots_and_head_requests_do_not_use_up_clicks(live_server) -> None:
    owner = sign_up(live_server.base_url)
    owner.create_link(slug="two", url="https://example.com/offer", max_clicks=2)
    with visitor(live_server.base_url) as client:
        for _ in range(3):
            assert client.head("/two").status_code == 302
            assert client.get("/two", headers={"User-Agent": GOOGLEBOT}).status_code == 302
        assert owner.link("two")["clicks_remaining"] == 2
        assert client.get("/two").status_code == 302
        assert client.get("/two").status_code == 302
        assert owner.link("two")["clicks_remaining"] == 0
        assert client.get("/two").status_code == 410
        # Once used up, bots and HEAD see it gone too.
        assert client.head("/two").status_code == 410
        assert client.get("/two", headers={"User-Agent": GOOGLEBOT}).status_code == 410
    # Raising the limit gives the link more clicks.
    assert owner.edit_link("two", max_clicks=3)["clicks_remaining"] == 1
    with visitor(live_server.base_url) as client:
        assert client.get("/two").status_code == 302


def test_expired_disabled_and_used_up_links_send_visitors_to_the_expired_url(
    live_server, database_url
) -> None:
    owner = sign_up(live_server.base_url)
    over = "https://example.com/offer-over"
    for slug in ("expired", "disabled", "usedup"):
        owner.create_link(slug=slug, url="https://example.com/offer", expired_url=over)
    owner.create_link(slug="plain-usedup", url="https://example.com/offer", max_clicks=1)
    owner.edit_link("usedup", max_clicks=1)
    owner.edit_link("disabled", disabled=True)

    async def expire() -> None:
        connection = await asyncpg.connect(asyncpg_dsn(database_url))
        try:  # an expiry in the past cannot be set through the API
            await connection.execute(
                "UPDATE links SET expires_at = now() - interval '1 minute' WHERE slug = 'expired'"
            )
        finally:
            await connection.close()

    asyncio.run(expire())
    with visitor(live_server.base_url, Accept="text/html") as browser:
        assert browser.get("/usedup").status_code == 302
        assert browser.get("/plain-usedup").status_code == 302
        for slug in ("expired", "disabled", "usedup"):
            response = browser.get(f"/{slug}")
            assert response.status_code == 302, slug
            assert response.headers["location"] == over
            assert response.headers["cache-control"] == "no-store"
        assert browser.get("/plain-usedup").status_code == 410
        # Without an expired_url again, the 410 page.
        owner.edit_link("disabled", expired_url=None)
        assert browser.get("/disabled").status_code == 410
