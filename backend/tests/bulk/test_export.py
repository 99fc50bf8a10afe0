"""CSV export: every matching link, streamed; what it writes imports again as the same links."""

import csv
import io

from tests.blueprints.test_links import future, links_path
from tests.bulk.test_imports import run


async def export(account, org_id: str, query: str = "") -> list[dict]:
    response = await account.client.get(links_path(org_id) + "/export.csv" + query)
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert response.content_type.startswith("text/csv")
    return list(csv.DictReader(io.StringIO(await response.get_data(as_text=True))))


async def test_export_filters_and_round_trip(make_org, make_link):
    org_id, owner = await make_org()
    expiry = future(days=30)
    await make_link(org_id, owner, slug="first", title="One, with comma", tags=["a", "b"])
    await make_link(org_id, owner, "https://example.com/2?q=1", slug="second", expires_at=expiry)
    await make_link(org_id, owner, slug="third", redirect_status=301, tags=["b"])
    response = await owner.client.patch(links_path(org_id, "third"), json={"disabled": True})
    assert response.status_code == 200
    rows = await export(owner, org_id)
    assert [row["slug"] for row in rows] == ["third", "second", "first"]
    assert {"slug", "short_url", "url", "title", "tags", "created_at", "expires_at"} <= set(
        rows[0]
    ) and {"disabled", "clicks"} <= set(rows[0])
    assert rows[2]["tags"] == "a|b" and rows[2]["title"] == "One, with comma"
    assert rows[2]["short_url"] == "http://kurz.test/first" and rows[2]["clicks"] == "0"
    assert [row["slug"] for row in await export(owner, org_id, "?tag=B")] == ["third", "first"]
    assert [row["slug"] for row in await export(owner, org_id, "?tag=a&tag=b&tags_mode=all")] == [
        "first"
    ]
    assert [row["slug"] for row in await export(owner, org_id, "?q=q%3D1")] == ["second"]
    assert await export(owner, org_id, "?domain=elsewhere.example") == []

    before = {
        link["slug"]: link
        for link in (await (await owner.client.get(links_path(org_id))).get_json())["items"]
    }
    text = "\n".join(
        [",".join(rows[0]), *(",".join(_quoted(value) for value in row.values()) for row in rows)]
    )
    # Slugs are unique across the service: the old org goes, and a new one takes its links.
    assert (await owner.client.delete(f"/api/v1/orgs/{org_id}")).status_code == 204
    new_org = (await (await owner.client.post("/api/v1/orgs", json={"name": "New"})).get_json())[
        "id"
    ]
    result = await run(owner, new_org, text)
    assert (result["created"], result["failed"]) == (3, 0), result
    after = {
        link["slug"]: link
        for link in (await (await owner.client.get(links_path(new_org))).get_json())["items"]
    }
    fields = ("url", "title", "tags", "expires_at", "disabled", "redirect_status")
    assert {slug: [link[field] for field in fields] for slug, link in after.items()} == {
        slug: [link[field] for field in fields] for slug, link in before.items()
    }


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


async def test_export_of_many_links_comes_in_chunks(make_org, db):
    org_id, owner = await make_org()
    await db.execute(
        """INSERT INTO links (org_id, slug, url)
           SELECT :org_id, 'many-' || i, 'https://example.com/' || i
             FROM generate_series(1, 2500) AS i""",
        {"org_id": org_id},
    )
    rows = await export(owner, org_id)
    assert len(rows) == 2500
    assert len({row["slug"] for row in rows}) == 2500
