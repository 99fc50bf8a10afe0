"""Batch create: items created or refused each on its own, answers in input order."""

from tests.blueprints.test_links import links_path


def batch_path(org_id: str) -> str:
    return links_path(org_id) + "/batch"


async def test_mixed_items_each_succeed_or_fail_alone(make_org, make_link):
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="taken")
    items = [
        {"url": "https://example.com/1", "slug": "first", "tags": ["batch"]},
        {"url": "ftp://example.com/"},
        {"url": "https://example.com/3", "slug": "taken"},
        "not an object",
        {"url": "https://example.com/5", "unknown": True},
        {"url": "https://example.com/6", "slug": "first"},  # taken by item 0
        {"url": "https://example.com/7", "title": "Seventh", "redirect_status": 301},
        {"url": "https://example.com/8", "tags": [f"t{i}" for i in range(11)]},
    ]
    response = await owner.client.post(batch_path(org_id), json={"items": items})
    assert response.status_code == 200, await response.get_data(as_text=True)
    answers = (await response.get_json())["items"]
    assert [answer["index"] for answer in answers] == list(range(len(items)))
    assert [answer["status"] for answer in answers] == [201, 400, 409, 400, 400, 409, 201, 400]
    assert answers[0]["link"]["slug"] == "first" and answers[0]["link"]["tags"] == ["batch"]
    assert answers[1]["error"]["code"] == "INVALID_URL"
    assert answers[2]["error"]["code"] == "SLUG_TAKEN" and answers[2]["error"]["status"] == 409
    assert answers[6]["link"]["title"] == "Seventh"
    assert answers[6]["link"]["redirect_status"] == 301
    assert all("link" not in answer or answer["link"] is None for answer in answers[1:6])
    page = await (await owner.client.get(links_path(org_id) + "?limit=100")).get_json()
    assert sorted(link["slug"] for link in page["items"]) == sorted(
        ["taken", "first", answers[6]["link"]["slug"]]
    )


async def test_a_thousand_items_at_most(make_org, signup):
    org_id, owner = await make_org()
    items = [{"url": f"https://example.com/{i}"} for i in range(1000)]
    response = await owner.client.post(batch_path(org_id), json={"items": items})
    assert response.status_code == 200  # over the ordinary 64 KiB body limit
    answers = (await response.get_json())["items"]
    assert [answer["status"] for answer in answers] == [201] * 1000
    for body in ({"items": [*items, {"url": "https://example.com/x"}]}, {"items": []}, {}):
        response = await owner.client.post(batch_path(org_id), json=body)
        assert response.status_code == 400
    outsider = await signup()
    response = await outsider.client.post(batch_path(org_id), json={"items": items[:1]})
    assert response.status_code == 404


async def test_rate_limits_count_items(settings, app_factory):
    app = app_factory(settings.__class__(**{**settings.__dict__, "rate_limits": True}))
    async with app.test_app():
        client = app.test_client()
        credentials = {"email": "batch@example.com", "password": "correct horse 42"}
        await client.post("/api/v1/users", json=credentials)
        await client.post("/api/v1/session", json=credentials)
        org_id = (await (await client.post("/api/v1/orgs", json={"name": "B"})).get_json())["id"]
        items = [{"url": f"https://example.com/{i}"} for i in range(250)]
        first = await client.post(batch_path(org_id), json={"items": items})
        statuses = [answer["status"] for answer in (await first.get_json())["items"]]
        assert statuses == [201] * 250
        second = await client.post(batch_path(org_id), json={"items": items})
        statuses = [answer["status"] for answer in (await second.get_json())["items"]]
        # 300 a minute per org (and one more every 0.2 s since the first batch).
        created = statuses.count(201)
        assert 50 <= created < 250
        assert statuses == [201] * created + [429] * (250 - created)
        refused = (await second.get_json())["items"][-1]["error"]
        assert refused["code"] == "RATE_LIMITED" and refused["status"] == 429
