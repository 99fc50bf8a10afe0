"""CSV imports through the API: a big file with bad rows, the same file twice, other
shorteners' columns, the file-level refusals and the CSRF rule for cookies."""

import asyncio

import pytest

from tests.blueprints.test_links import links_path
from tests.support import BASE_URL, assert_problem

CSV = {"Content-Type": "text/csv"}


def imports_path(org_id: str, import_id: str = "") -> str:
    return f"/api/v1/orgs/{org_id}/imports" + (f"/{import_id}" if import_id else "")


async def start(account, org_id: str, body: str | bytes, headers: dict | None = None):
    data = body.encode() if isinstance(body, str) else body
    return await account.client.post(
        imports_path(org_id), data=data, headers={**CSV, "Origin": BASE_URL, **(headers or {})}
    )


async def finished(account, org_id: str, import_id: str) -> dict:
    """Polls until the background job is done (the test's own timeout bounds it)."""
    while True:
        response = await account.client.get(imports_path(org_id, import_id))
        assert response.status_code == 200, await response.get_data(as_text=True)
        body = await response.get_json()
        if body["status"] in ("done", "failed"):
            return body
        await asyncio.sleep(0.2)


async def run(account, org_id: str, body: str) -> dict:
    response = await start(account, org_id, body)
    assert response.status_code == 202, await response.get_data(as_text=True)
    queued = await response.get_json()
    assert queued["status"] in ("queued", "running")
    return await finished(account, org_id, queued["id"])


def big_file(rows: int = 10_000) -> tuple[str, dict[int, str]]:
    """A file whose every 500th row has a bad URL and every 777th a bad slug."""
    lines = ["url,slug,title,tags"]
    bad = {}
    for number in range(1, rows + 1):
        url, slug = f"https://example.com/page/{number}", f"imported-{number}"
        if number % 500 == 0:
            url, bad[number] = "not a url", "INVALID_URL"
        elif number % 777 == 0:
            slug, bad[number] = "x", "INVALID_SLUG"
        lines.append(f'{url},{slug},"Page, number {number}",bulk|batch-{number % 3}')
    return "\n".join(lines) + "\n", bad


async def count_links(account, org_id: str, query: str = "") -> int:
    total, cursor = 0, ""
    while True:
        response = await account.client.get(
            links_path(org_id) + f"?limit=100&cursor={cursor}{query}"
        )
        page = await response.get_json()
        total += len(page["items"])
        if not page["next_cursor"]:
            return total
        cursor = page["next_cursor"]


@pytest.mark.slow
async def test_big_import_with_bad_rows_then_again(make_org):
    org_id, owner = await make_org()
    body, bad = big_file()
    result = await run(owner, org_id, body)
    assert result["total"] == 10_000
    assert result["failed"] == len(bad)
    assert result["created"] == 10_000 - len(bad)
    assert result["skipped"] == 0
    assert {(error["row"], error["code"]) for error in result["errors"]} == set(bad.items())
    assert result["finished_at"] is not None
    link = await (await owner.client.get(links_path(org_id, "imported-1"))).get_json()
    assert link["title"] == "Page, number 1" and link["tags"] == ["batch-1", "bulk"]
    again = await run(owner, org_id, body)
    counts = (again["created"], again["skipped"], again["failed"])
    assert counts == (0, 10_000 - len(bad), len(bad))
    tags = await (await owner.client.get(f"/api/v1/orgs/{org_id}/tags")).get_json()
    assert {tag["name"]: tag["links"] for tag in tags["items"]}["bulk"] == 10_000 - len(bad)


async def test_rows_repeated_in_a_file_and_tags_of_refused_rows(make_org, make_link):
    org_id, owner = await make_org()
    other_org, other = await make_org()
    await make_link(other_org, other, slug="theirs")
    rows = (
        "url,slug,tags\n"
        "https://example.com/a,twice,First\n"
        "https://example.com/a,twice,First\n"  # the row above: skipped
        "https://example.com/b,,\n"
        "https://example.com/b,,\n"  # the URL of the row above, no slug: skipped
        "https://example.com/c,theirs,Orphan|First\n"  # another org's slug: refused
    )
    result = await run(owner, org_id, rows)
    assert (result["created"], result["skipped"], result["failed"]) == (2, 2, 1), result
    assert [(error["row"], error["code"]) for error in result["errors"]] == [(5, "SLUG_TAKEN")]
    tags = await (await owner.client.get(f"/api/v1/orgs/{org_id}/tags")).get_json()
    # The refused row's new tag was not kept.
    assert [(tag["name"], tag["links"]) for tag in tags["items"]] == [("First", 1)]


async def test_rows_of_other_shorteners_and_conflicts(make_org, make_link):
    org_id, owner = await make_org()
    other_org, other = await make_org()
    await make_link(other_org, other, slug="elsewhere")
    await make_link(org_id, owner, slug="mine", url="https://example.com/old")
    bitly = (
        "Title,Long URL,Short URL,Created At\n"
        "Bitly one,https://example.com/b1,https://bit.ly/bit-one,2024-01-01\n"
        ",https://example.com/b2,,2024-01-02\n"
    )
    result = await run(owner, org_id, bitly)
    assert (result["created"], result["failed"]) == (2, 0), result
    link = await (await owner.client.get(links_path(org_id, "bit-one"))).get_json()
    assert (link["url"], link["title"]) == ("https://example.com/b1", "Bitly one")
    shlink = (
        "createdAt,shortCode,shortUrl,longUrl,title,tags,validUntil\n"
        "2024-01-01T00:00:00+00:00,sh-one,https://s.test/sh-one,https://example.com/s1,S,a|b,"
        "2999-01-01T00:00:00+00:00\n"
    )
    result = await run(owner, org_id, shlink)
    assert result["created"] == 1, result
    link = await (await owner.client.get(links_path(org_id, "sh-one"))).get_json()
    assert link["tags"] == ["a", "b"] and link["expires_at"] == "2999-01-01T00:00:00Z"
    kutt = "address,target,description\nkutt-one,https://example.com/k1,Kutt\n"
    assert (await run(owner, org_id, kutt))["created"] == 1
    conflicts = (
        "url,slug,redirect_status\n"
        "https://example.com/x,elsewhere,302\n"  # another org's slug
        "https://example.com/new,mine,302\n"  # this org's slug for another URL
        "https://example.com/old,mine,\n"  # the same link: skipped
        "https://example.com/y,,999\n"
        "https://example.com/b2,,\n"  # no slug, a URL the org has: skipped
    )
    result = await run(owner, org_id, conflicts)
    assert (result["created"], result["skipped"], result["failed"]) == (0, 2, 3)
    assert [(error["row"], error["code"]) for error in result["errors"]] == [
        (1, "SLUG_TAKEN"),
        (2, "SLUG_TAKEN"),
        (4, "INVALID_REDIRECT_STATUS"),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("slug,title\nabc,x\n", "url column"),
        (b"url\nhttps://example.com/\xff\n", "UTF-8"),
        ("url\n" + "https://example.com/\n" * 50_001, "50000"),
        ("", "empty"),
    ],
)
async def test_files_refused_as_a_whole(make_org, body, message):
    org_id, owner = await make_org()
    response = await start(owner, org_id, body)
    await assert_problem(response, 400, "INVALID_CSV", detail=message)


async def test_over_ten_megabytes_is_invalid(make_org):
    org_id, owner = await make_org()
    body = "url,title\n" + ("https://example.com/," + "t" * 1000 + "\n") * 10_500
    response = await start(owner, org_id, body)
    await assert_problem(response, 400, "INVALID_CSV")


async def test_cookie_imports_need_the_own_origin(make_org, make_token, client):
    org_id, owner = await make_org()
    body = "url\nhttps://example.com/\n"
    for headers in ({"Origin": "https://evil.example"}, {"Origin": ""}):
        response = await start(owner, org_id, body, headers)
        await assert_problem(response, 403, "CSRF_REJECTED")
    response = await owner.client.post(
        links_path(org_id), data="url=x", headers={"Content-Type": "text/csv", "Origin": BASE_URL}
    )
    assert response.status_code == 403  # only imports take CSV
    token = await make_token(org_id, owner)
    response = await client.post(imports_path(org_id), data=body, headers={**CSV, **token})
    assert response.status_code == 202
    response = await client.get(imports_path(org_id, "not-a-uuid"), headers=token)
    assert response.status_code == 404
