import datetime

import pytest

from tests.analytics.support import CHROME, IPHONE, SLACKBOT
from tests.support import assert_problem


async def create_link(owner, org_id: str) -> str:
    response = await owner.client.post(
        f"/api/v1/orgs/{org_id}/links", json={"url": "https://example.com/landing"}
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    return (await response.get_json())["slug"]


async def visit(client, slug: str, user_agent: str = CHROME, ip: str = "192.0.2.1", **kw):
    response = await client.open(
        f"/{slug}",
        headers={"User-Agent": user_agent, **kw.pop("headers", {})},
        scope_base={"client": (ip, 40000)},
        **kw,
    )
    assert response.status_code == 302


async def stats(owner, org_id: str, slug: str, query: str = "") -> dict:
    response = await owner.client.get(f"/api/v1/orgs/{org_id}/links/{slug}/stats{query}")
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_json()


async def test_stats_count_human_visits_only_over_a_zero_filled_window(
    client, make_org, recorder
) -> None:
    org_id, owner = await make_org()
    slug = await create_link(owner, org_id)
    referred = {"Referer": "https://news.ycombinator.com/item?id=42"}
    await visit(client, slug, headers=referred)
    await visit(client, slug, headers=referred)  # same address and browser: same visitor
    await visit(client, slug, ip="192.0.2.2")
    await visit(client, slug, IPHONE, ip="198.51.100.9")
    await visit(client, slug, SLACKBOT)  # a link preview
    await visit(client, slug, "Mozilla/5.0 (compatible; Googlebot/2.1)")  # a crawler
    await visit(client, slug, method="HEAD")
    await recorder.flush()

    body = await stats(owner, org_id, slug)
    today = datetime.datetime.now(datetime.UTC).date()
    assert body["total_clicks"] == 4
    assert body["unique_visitors"] == 3
    assert [day["date"] for day in body["series"]] == [
        (today - datetime.timedelta(days=29 - n)).isoformat() for n in range(30)
    ]
    assert [day["clicks"] for day in body["series"]] == [0] * 29 + [4]
    assert body["referrers"] == [{"value": "news.ycombinator.com", "clicks": 2}]
    assert body["browsers"] == [
        {"value": "Chrome", "clicks": 3},
        {"value": "Mobile Safari", "clicks": 1},
    ]
    assert body["os"] == [{"value": "Windows", "clicks": 3}, {"value": "iOS", "clicks": 1}]
    assert body["devices"] == [{"value": "desktop", "clicks": 3}, {"value": "mobile", "clicks": 1}]
    # Bots were recorded, though not counted.
    assert await recorder._db.fetch_val("SELECT count(*) FROM clicks WHERE bot") == 3
    link = await (await owner.client.get(f"/api/v1/orgs/{org_id}/links/{slug}")).get_json()
    assert link["clicks"] == 4


async def test_a_visit_shows_at_once_in_the_link_list_and_stats(client, make_org) -> None:
    """No flush here: reading counts writes what this instance has buffered first."""
    org_id, owner = await make_org()
    slug = await create_link(owner, org_id)
    await visit(client, slug, "python-httpx/0.28.1")  # a script is not a known bot
    link = await (await owner.client.get(f"/api/v1/orgs/{org_id}/links/{slug}")).get_json()
    assert link["clicks"] == 1
    await visit(client, slug)
    page = await (await owner.client.get(f"/api/v1/orgs/{org_id}/links")).get_json()
    assert page["items"][0]["clicks"] == 2
    await visit(client, slug, ip="192.0.2.99")
    body = await stats(owner, org_id, slug)
    assert (body["total_clicks"], body["unique_visitors"]) == (3, 3)


async def test_a_link_without_clicks_has_an_empty_window(make_org) -> None:
    org_id, owner = await make_org()
    slug = await create_link(owner, org_id)
    body = await stats(owner, org_id, slug, "?days=7")
    assert body["total_clicks"] == body["unique_visitors"] == 0
    assert [day["clicks"] for day in body["series"]] == [0] * 7
    assert body["referrers"] == body["browsers"] == body["os"] == body["devices"] == []


@pytest.mark.parametrize(("days", "length"), [("1", 1), ("365", 365)])
async def test_days_sets_the_window(make_org, days: str, length: int) -> None:
    org_id, owner = await make_org()
    slug = await create_link(owner, org_id)
    body = await stats(owner, org_id, slug, f"?days={days}")
    assert len(body["series"]) == length
    assert body["series"][-1]["date"] == datetime.datetime.now(datetime.UTC).date().isoformat()


@pytest.mark.parametrize("days", ["0", "366", "-1", "abc", "1.5"])
async def test_days_out_of_range_is_a_400(make_org, days: str) -> None:
    org_id, owner = await make_org()
    slug = await create_link(owner, org_id)
    response = await owner.client.get(f"/api/v1/orgs/{org_id}/links/{slug}/stats?days={days}")
    body = await assert_problem(response, 400, "VALIDATION_ERROR")
    assert body["errors"][0]["field"] == "days"


async def test_unknown_slug_is_link_not_found(make_org) -> None:
    org_id, owner = await make_org()
    response = await owner.client.get(f"/api/v1/orgs/{org_id}/links/no-such-link/stats")
    await assert_problem(response, 404, "LINK_NOT_FOUND")


async def test_stats_are_isolated_between_orgs(client, make_org, recorder) -> None:
    org_a, alice = await make_org()
    org_b, bob = await make_org()
    slug = await create_link(alice, org_a)
    await visit(client, slug)
    await recorder.flush()

    # Bob may not look into Alice's org, nor reach her link through his own org.
    response = await bob.client.get(f"/api/v1/orgs/{org_a}/links/{slug}/stats")
    await assert_problem(response, 404, "ORG_NOT_FOUND")
    response = await bob.client.get(f"/api/v1/orgs/{org_b}/links/{slug}/stats")
    await assert_problem(response, 404, "LINK_NOT_FOUND")
    response = await client.get(f"/api/v1/orgs/{org_a}/links/{slug}/stats")
    assert response.status_code == 401
    assert (await stats(alice, org_a, slug))["total_clicks"] == 1


async def test_openapi_describes_the_stats_route(client) -> None:
    document = await (await client.get("/openapi.json")).get_json()
    route = document["paths"]["/api/v1/orgs/{org_id}/links/{slug}/stats"]["get"]
    assert [
        parameter["name"] for parameter in route["parameters"] if parameter["in"] == "query"
    ] == ["days", "domain", "format"]
    assert {"200", "400", "401", "404"} <= set(route["responses"])
    schema = route["responses"]["200"]["content"]["application/json"]["schema"]
    assert "$ref" in schema or "properties" in schema
