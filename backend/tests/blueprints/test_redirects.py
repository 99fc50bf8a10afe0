import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from kurz.security import SECURITY_HEADERS
from kurz.services import services
from tests.support import assert_problem

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def clicks(app, monkeypatch) -> list[tuple]:
    """Every ``record()`` call the redirect path makes, in order."""
    calls: list[tuple] = []
    recorder = services(app).clicks
    monkeypatch.setattr(
        recorder, "record", lambda link_id, **fields: calls.append((link_id, fields))
    )
    return calls


@pytest.fixture
def quart_requests(app) -> list[str]:
    """Paths that reached Quart (the fast path answers the others before it)."""
    paths: list[str] = []

    async def seen() -> None:
        from quart import request

        paths.append(request.path)

    app.before_request_funcs.setdefault(None, []).insert(0, seen)
    return paths


async def link_id(db, slug: str) -> int:
    return await db.fetch_val("SELECT id FROM links WHERE slug = :slug", {"slug": slug})


async def test_get_redirects_with_status_location_and_no_store(
    make_org, make_link, client, clicks, quart_requests, db
) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner, url="https://example.com/landing?x=1")
    quart_requests.clear()
    for _ in range(3):
        response = await client.get(
            f"/{link['slug']}",
            headers={"User-Agent": "Mozilla/5.0", "Referer": "https://r.example/"},
            scope_base={"client": ("192.0.2.1", 5555)},
        )
        assert response.status_code == 302
        assert response.headers["Location"] == "https://example.com/landing?x=1"
        assert response.headers["Cache-Control"] == "no-store"
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        assert "Strict-Transport-Security" not in response.headers  # plain http
    # The first lookup filled the cache; none of the three reached Quart.
    assert quart_requests == []
    assert (
        clicks
        == [
            (
                await link_id(db, link["slug"]),
                {
                    "method": "GET",
                    "user_agent": "Mozilla/5.0",
                    "referrer": "https://r.example/",
                    "client_ip": "192.0.2.1",
                },
            )
        ]
        * 3
    )


async def test_head_redirects_without_a_body_and_is_recorded(
    make_org, make_link, client, clicks
) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner, url="https://example.com/")
    response = await client.head(f"/{link['slug']}")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://example.com/"
    assert await response.get_data() == b""
    assert [fields["method"] for _, fields in clicks] == ["HEAD"]


@pytest.mark.parametrize(
    "status, cache_control",
    [
        (301, "private, max-age=3600"),
        (302, "no-store"),
        (307, "no-store"),
        (308, "private, max-age=3600"),
    ],
)
async def test_each_redirect_status_and_its_caching(
    make_org, make_link, client, status, cache_control
) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner, url="https://example.com/", redirect_status=status)
    for method in (client.get, client.head):
        response = await method(f"/{link['slug']}")
        assert response.status_code == status
        assert response.headers["Cache-Control"] == cache_control


async def test_https_requests_get_hsts(make_org, make_link, client) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner)
    response = await client.get(f"/{link['slug']}", scheme="https")
    assert response.status_code == 302
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_the_quart_route_answers_the_same_without_the_fast_path(
    app, make_org, make_link, client, clicks, quart_requests
) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner, url="https://example.com/q", redirect_status=308)
    app.asgi_app = app.asgi_app.inner  # as if the fast path were not installed
    quart_requests.clear()
    response = await client.get(f"/{link['slug']}")
    assert quart_requests == [f"/{link['slug']}"]
    assert response.status_code == 308
    assert response.headers["Location"] == "https://example.com/q"
    assert response.headers["Cache-Control"] == "private, max-age=3600"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert len(clicks) == 1


async def test_non_ascii_targets_are_sent_percent_encoded(make_org, make_link, client) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner, url="https://bücher.example/straße?q=ü")
    response = await client.get(f"/{link['slug']}")
    assert response.headers["Location"] == "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC"


async def test_query_strings_on_the_short_url_are_ignored(make_org, make_link, client) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner, url="https://example.com/")
    response = await client.get(f"/{link['slug']}?utm_source=mail")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://example.com/"


async def test_unknown_slugs_are_404_problems_or_pages(client, clicks) -> None:
    for path in ("/nosuchlink", "/ab", "/dot.ted", "/" + "x" * 65):
        response = await client.get(path)
        problem = await assert_problem(response, 404)
        assert problem["code"] in {"LINK_NOT_FOUND", "NOT_FOUND"}
    response = await client.get("/nosuchlink")
    assert response.headers["Cache-Control"] == "no-store"
    page = await client.get("/nosuchlink", headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 404
    assert page.content_type == "text/html; charset=utf-8"
    text = await page.get_data(as_text=True)
    assert "Link not found" in text and 'class="error-page"' in text
    assert page.headers["Content-Security-Policy"]
    assert (await client.head("/nosuchlink")).status_code == 404
    assert clicks == []


async def test_browsers_get_the_page_for_any_unknown_path_but_the_api_never(client) -> None:
    for path in ("/abc/", "/abc/def", "/docs/nope"):  # a short URL with a slip, say
        page = await client.get(path, headers={"Accept": BROWSER_ACCEPT})
        assert page.status_code == 404, path
        assert page.content_type == "text/html; charset=utf-8"
        assert 'class="error-page"' in await page.get_data(as_text=True)
        response = await client.get(path)
        await assert_problem(response, 404)
    response = await client.get("/api/v1/nope", headers={"Accept": BROWSER_ACCEPT})
    await assert_problem(response, 404, "NOT_FOUND")


async def test_slugs_are_case_sensitive(make_org, make_link, client) -> None:
    org_id, owner = await make_org()
    await make_link(org_id, owner, url="https://lower.example/", slug="promo")
    await make_link(org_id, owner, url="https://upper.example/", slug="PROMO")
    assert (await client.get("/promo")).headers["Location"] == "https://lower.example/"
    assert (await client.get("/PROMO")).headers["Location"] == "https://upper.example/"
    assert (await client.get("/Promo")).status_code == 404


async def test_disabled_links_are_410_until_enabled(make_org, make_link, client, clicks) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner)
    path = f"/api/v1/orgs/{org_id}/links/{link['slug']}"
    assert (await client.get(f"/{link['slug']}")).status_code == 302  # cached
    await owner.client.patch(path, json={"disabled": True})
    response = await client.get(f"/{link['slug']}")
    await assert_problem(response, 410, "LINK_GONE")
    assert response.headers["Cache-Control"] == "no-store"
    page = await client.get(f"/{link['slug']}", headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 410 and "text/html" in page.content_type
    assert "expired or was disabled" in await page.get_data(as_text=True)
    await owner.client.patch(path, json={"disabled": False})
    assert (await client.get(f"/{link['slug']}")).status_code == 302
    assert len(clicks) == 2  # the two redirects, not the 410s


async def test_edits_apply_to_the_next_redirect(make_org, make_link, client) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner, url="https://old.example/")
    assert (await client.get(f"/{link['slug']}")).headers["Location"] == "https://old.example/"
    await owner.client.patch(
        f"/api/v1/orgs/{org_id}/links/{link['slug']}",
        json={"url": "https://new.example/", "redirect_status": 307},
    )
    response = await client.get(f"/{link['slug']}")
    assert (response.status_code, response.headers["Location"]) == (307, "https://new.example/")


async def test_a_cached_link_answers_410_once_it_expires(
    make_org, make_link, client, clicks
) -> None:
    org_id, owner = await make_org()
    expires = datetime.now(UTC) + timedelta(seconds=1.5)
    link = await make_link(org_id, owner, expires_at=expires.isoformat())
    assert (await client.get(f"/{link['slug']}")).status_code == 302  # cached, unexpired
    await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.1)
    response = await client.get(f"/{link['slug']}")
    assert response.status_code == 410
    assert len(clicks) == 1


async def test_links_of_a_deleted_org_are_404(make_org, make_link, client) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner)
    assert (await client.get(f"/{link['slug']}")).status_code == 302  # cached
    assert (await owner.client.delete(f"/api/v1/orgs/{org_id}")).status_code == 204
    deadline = time.monotonic() + 1
    while (status := (await client.get(f"/{link['slug']}")).status_code) != 404:
        assert time.monotonic() < deadline, status  # evicted by the database's notification
        await asyncio.sleep(0.02)


async def test_a_new_link_is_served_even_after_its_slug_was_a_cached_404(
    make_org, make_link, client
) -> None:
    org_id, owner = await make_org()
    assert (await client.get("/later1")).status_code == 404  # remembered as unknown
    await make_link(org_id, owner, slug="later1")
    assert (await client.get("/later1")).status_code == 302


async def test_app_routes_are_never_taken_for_slugs(client) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/openapi.json")).status_code == 200
    assert (await client.post("/someslug")).status_code == 405


async def test_unknown_slugs_are_rate_limited_per_client_but_links_never(
    settings, app_factory, db
) -> None:
    app = app_factory(settings, rate_limits=True)
    async with app.test_app():
        client = app.test_client()
        org_id = await _org_with_link(app, "known01")
        statuses = [(await client.get(f"/unknown{n}")).status_code for n in range(70)]
        assert statuses[:60] == [404] * 60
        assert set(statuses[60:]) == {429}
        limited = await client.get("/unknown-more")
        await assert_problem(limited, 429, "RATE_LIMITED")
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # Existing links are never throttled, even for this client...
        for _ in range(200):
            assert (await client.get("/known01")).status_code == 302
        # The peer address counts, not a header any client could vary...
        forged = await client.get("/unknown0", headers={"X-Forwarded-For": "192.0.2.9"})
        assert forged.status_code == 429
        # ...and other clients are not affected.
        other = await client.get("/unknown0", scope_base={"client": ("192.0.2.7", 4000)})
        assert other.status_code == 404
        assert org_id


async def test_unknown_slugs_are_not_limited_with_rate_limits_off(client) -> None:
    statuses = {(await client.get(f"/unknown{n}")).status_code for n in range(100)}
    assert statuses == {404}


async def _org_with_link(app, slug: str) -> str:
    """Register, log in, make an org and a link in ``app`` (which has no fixtures of its own)."""
    client = app.test_client()
    credentials = {"email": f"{slug}@example.com", "password": "correct horse battery staple"}
    assert (await client.post("/api/v1/users", json=credentials)).status_code == 201
    assert (await client.post("/api/v1/session", json=credentials)).status_code == 200
    org_id = (await (await client.post("/api/v1/orgs", json={"name": "O"})).get_json())["id"]
    response = await client.post(
        f"/api/v1/orgs/{org_id}/links", json={"url": "https://example.com/", "slug": slug}
    )
    assert response.status_code == 201
    return org_id


# --- two app instances on one database -----------------------------------------------------


async def _until(check, within: float = 1.0) -> float:
    """Poll ``check()`` until it is true; fail after ``within`` seconds; return the wait."""
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < within, "not seen by the other instance in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_two_instances_see_edits_disables_deletes_within_a_second(
    live_server_factory, database_url
) -> None:
    one = live_server_factory(database_url)
    two = live_server_factory(database_url)
    credentials = {"email": "two@example.com", "password": "correct horse battery staple"}
    async with (
        httpx.AsyncClient(base_url=one.base_url) as api,
        httpx.AsyncClient(base_url=two.base_url) as visitor,
    ):
        assert (await api.post("/api/v1/users", json=credentials)).status_code == 201
        assert (await api.post("/api/v1/session", json=credentials)).status_code == 200
        org_id = (await api.post("/api/v1/orgs", json={"name": "Two"})).json()["id"]
        links = f"/api/v1/orgs/{org_id}/links"

        async def answer(slug: str) -> tuple[int, str | None]:
            response = await visitor.get(f"/{slug}")
            return response.status_code, response.headers.get("location")

        # A slug the other instance has cached as unknown, then created.
        assert (await answer("shared"))[0] == 404
        response = await api.post(links, json={"url": "https://v1.example/", "slug": "shared"})
        assert response.status_code == 201
        await _until(lambda: _is(answer("shared"), (302, "https://v1.example/")))

        # Cached on instance two; edited through instance one.
        assert await answer("shared") == (302, "https://v1.example/")
        await api.patch(f"{links}/shared", json={"url": "https://v2.example/"})
        await _until(lambda: _is(answer("shared"), (302, "https://v2.example/")))

        await api.patch(f"{links}/shared", json={"disabled": True})
        await _until(lambda: _is(answer("shared"), (410, None)))
        await api.patch(f"{links}/shared", json={"disabled": False})
        await _until(lambda: _is(answer("shared"), (302, "https://v2.example/")))

        await api.delete(f"{links}/shared")
        await _until(lambda: _is(answer("shared"), (404, None)))

        # Deleting the org removes its links by cascade: those are announced too.
        response = await api.post(links, json={"url": "https://org.example/", "slug": "orglink"})
        assert response.status_code == 201
        await _until(lambda: _is(answer("orglink"), (302, "https://org.example/")))
        assert (await api.delete(f"/api/v1/orgs/{org_id}")).status_code == 204
        await _until(lambda: _is(answer("orglink"), (404, None)))


async def _is(answer, expected) -> bool:
    return await answer == expected


async def test_a_database_outage_is_a_503_and_cached_links_keep_redirecting(
    own_postgres, settings, app_factory
) -> None:
    app = app_factory(settings, database_url=own_postgres.url, db_query_timeout=2)
    async with app.test_app():
        client = app.test_client()
        await _org_with_link(app, "steady1")
        await asyncio.sleep(0.3)  # the creation's own notification evicts; let it arrive first
        assert (await client.get("/steady1")).status_code == 302  # cached

        await asyncio.to_thread(own_postgres.stop)
        started = time.monotonic()
        response = await client.get("/unknown1")
        await assert_problem(response, 503, "DATABASE_UNAVAILABLE")
        assert time.monotonic() - started < 5
        assert (await client.get("/steady1")).status_code == 302  # served from memory

        await asyncio.to_thread(own_postgres.start)
        deadline = time.monotonic() + 10
        while (await client.get("/unknown1")).status_code != 404:
            assert time.monotonic() < deadline, "redirects did not recover"
            await asyncio.sleep(0.2)
