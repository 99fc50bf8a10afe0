"""Org-wide stats: every link's clicks together, filtered by tag and domain, top links, CSV."""

import datetime

from tests.analytics.support import IPHONE
from tests.blueprints.test_stats import visit


async def org_stats(account, org_id: str, query: str = "") -> dict:
    response = await account.client.get(f"/api/v1/orgs/{org_id}/stats{query}")
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_json()


async def test_org_stats_add_up_links_and_filter(client, make_org, make_link, recorder):
    org_id, owner = await make_org()
    other_org, other = await make_org()
    await make_link(org_id, owner, slug="red-one", title="Red", tags=["red"])
    await make_link(org_id, owner, slug="blue-one", tags=["blue"])
    await make_link(other_org, other, slug="not-mine")
    for _ in range(3):
        await visit(client, "red-one", ip="8.8.8.8")
    await visit(client, "blue-one", IPHONE, ip="193.0.6.139")
    await visit(client, "not-mine")
    await recorder.flush()

    body = await org_stats(owner, org_id, "?days=7")
    assert body["total_clicks"] == 4
    assert body["unique_visitors"] == 2
    assert [day["clicks"] for day in body["series"]] == [0] * 6 + [4]
    assert body["series"][-1]["date"] == datetime.datetime.now(datetime.UTC).date().isoformat()
    assert body["countries"] == [{"value": "US", "clicks": 3}, {"value": "NL", "clicks": 1}]
    assert body["browsers"] == [
        {"value": "Chrome", "clicks": 3},
        {"value": "Mobile Safari", "clicks": 1},
    ]
    assert body["top_links"] == [
        {"slug": "red-one", "domain": None, "title": "Red", "clicks": 3},
        {"slug": "blue-one", "domain": None, "title": None, "clicks": 1},
    ]
    await recorder.roll_up()  # the same from the roll-ups
    assert await org_stats(owner, org_id, "?days=7") == body

    blue = await org_stats(owner, org_id, "?tag=BLUE")
    assert blue["total_clicks"] == 1 and [link["slug"] for link in blue["top_links"]] == [
        "blue-one"
    ]
    both = await org_stats(owner, org_id, "?tag=red&tag=blue&tags_mode=all")
    assert both["total_clicks"] == 0 and both["top_links"] == []
    assert (await org_stats(owner, org_id, "?domain=kurz.test"))["total_clicks"] == 4
    elsewhere = await org_stats(owner, org_id, "?domain=other.example&days=3")
    assert elsewhere["total_clicks"] == 0 and len(elsewhere["series"]) == 3

    response = await other.client.get(f"/api/v1/orgs/{org_id}/stats")
    assert response.status_code == 404
    response = await owner.client.get(f"/api/v1/orgs/{org_id}/stats?days=366")
    assert response.status_code == 400


async def test_stats_as_csv(client, make_org, make_link, recorder):
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="csv-link")
    await visit(client, "csv-link")
    await recorder.flush()
    today = datetime.datetime.now(datetime.UTC).date()
    for path in (f"/api/v1/orgs/{org_id}/stats", f"/api/v1/orgs/{org_id}/links/csv-link/stats"):
        response = await owner.client.get(path + "?days=3&format=csv")
        assert response.status_code == 200
        assert response.content_type.startswith("text/csv")
        lines = (await response.get_data(as_text=True)).splitlines()
        assert lines == [
            "date,clicks",
            f"{today - datetime.timedelta(days=2)},0",
            f"{today - datetime.timedelta(days=1)},0",
            f"{today},1",
        ]


async def test_a_deleted_links_clicks_leave_the_org_stats(client, make_org, make_link, recorder):
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="kept")
    await make_link(org_id, owner, slug="gone")
    await visit(client, "kept", ip="8.8.8.8")
    for _ in range(2):
        await visit(client, "gone", IPHONE, ip="193.0.6.139")
    await recorder.flush()
    await recorder.roll_up()
    assert (await org_stats(owner, org_id))["total_clicks"] == 3

    response = await owner.client.delete(f"/api/v1/orgs/{org_id}/links/gone")
    assert response.status_code == 204
    body = await org_stats(owner, org_id)
    assert body["total_clicks"] == 1 and body["unique_visitors"] == 1
    assert body["browsers"] == [{"value": "Chrome", "clicks": 1}]
    assert body["countries"] == [{"value": "US", "clicks": 1}]
    assert [link["slug"] for link in body["top_links"]] == ["kept"]


async def test_unfiltered_org_stats_read_the_orgs_own_roll_ups(
    client, make_org, make_link, recorder, db
):
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="counted", tags=["red"])
    await visit(client, "counted")
    await recorder.flush()
    await recorder.roll_up()
    # Marks the org's roll-up alone: only a read of it sees the mark.
    await db.execute(
        "UPDATE org_click_days SET clicks = clicks + 100 WHERE org_id = :org_id",
        {"org_id": org_id},
    )
    assert (await org_stats(owner, org_id))["total_clicks"] == 101
    assert (await org_stats(owner, org_id, "?tag=red"))["total_clicks"] == 1
    assert (await org_stats(owner, org_id, "?domain=kurz.test"))["total_clicks"] == 1
