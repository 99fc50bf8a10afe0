"""Caching of redirects with controls: a browser must not keep one visit's answer for good."""


async def test_redirects_with_controls_are_never_cached(make_org, make_link, client) -> None:
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="plain301", redirect_status=301)
    rules = [{"os": "iOS", "url": "https://apps.apple.com/app/x"}]
    await make_link(org_id, owner, slug="ruled301", redirect_status=301, rules=rules)
    await make_link(org_id, owner, slug="limited301", redirect_status=301, max_clicks=5)
    plain = await client.get("/plain301")
    assert plain.headers["Cache-Control"] == "private, max-age=3600"
    for slug in ("ruled301", "limited301"):
        response = await client.get(f"/{slug}")
        assert response.status_code == 301
        assert response.headers["Location"] == "https://example.com/"
        assert response.headers["Cache-Control"] == "no-store"


async def test_a_protected_307_link_answers_the_unlock_with_303(make_org, make_link, client):
    """307 and 308 would have the browser post the password on to the target."""
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="kept307", redirect_status=307, password="sesame")
    response = await client.post("/kept307", form={"password": "sesame"})
    assert response.status_code == 303
    assert response.headers["Location"] == "https://example.com/"
    assert response.headers["Cache-Control"] == "no-store"
