"""CSRF, and how callers are recognised inside an org (session or API token)."""

import pytest

from .support import BASE_URL, assert_problem


async def org_name(account, org_id: str) -> str:
    return (await (await account.client.get(f"/api/v1/orgs/{org_id}")).get_json())["name"]


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"form": {"name": "Evil"}},
        {"data": '{"name": "Evil"}', "headers": {"Content-Type": "text/plain"}},
        {"json": {"name": "Evil"}, "headers": {"Origin": "https://evil.example"}},
        {"json": {"name": "Evil"}, "headers": {"Referer": "https://evil.example/page"}},
        # A look-alike of the service's own origin is another origin.
        {"json": {"name": "Evil"}, "headers": {"Origin": BASE_URL + ".evil.example"}},
        {"json": {"name": "Evil"}, "headers": {"Origin": "http://["}},
    ],
    ids=["form", "text-plain", "foreign-origin", "foreign-referer", "lookalike-origin", "bad"],
)
async def test_cookie_requests_that_are_not_same_origin_json_are_refused(
    make_org, request_kwargs
) -> None:
    org_id, owner = await make_org()
    response = await owner.client.patch(f"/api/v1/orgs/{org_id}", **request_kwargs)
    await assert_problem(response, 403, "CSRF_REJECTED")
    assert await org_name(owner, org_id) == "Acme"


async def test_bodyless_cookie_requests_from_another_origin_are_refused(make_org) -> None:
    org_id, owner = await make_org()
    response = await owner.client.delete(
        f"/api/v1/orgs/{org_id}", headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert (await owner.client.get(f"/api/v1/orgs/{org_id}")).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Origin": BASE_URL}, {"Referer": f"{BASE_URL}/app/links"}],
    ids=["no-origin", "same-origin", "same-origin-referer"],
)
async def test_same_origin_json_with_a_cookie_is_accepted(make_org, headers) -> None:
    org_id, owner = await make_org()
    response = await owner.client.patch(
        f"/api/v1/orgs/{org_id}", json={"name": "Renamed"}, headers=headers
    )
    assert response.status_code == 200
    assert await org_name(owner, org_id) == "Renamed"


async def test_bearer_requests_are_exempt_from_the_csrf_check(app, make_org, make_token) -> None:
    org_id, owner = await make_org()
    token = await make_token(org_id, owner, "admin")
    response = await app.test_client().patch(
        f"/api/v1/orgs/{org_id}",
        json={"name": "By token"},
        headers={**token, "Origin": "https://elsewhere.example"},
    )
    assert response.status_code == 200
    # A non-JSON body is then simply a bad request, not a CSRF refusal.
    response = await app.test_client().patch(
        f"/api/v1/orgs/{org_id}", form={"name": "x"}, headers=token
    )
    assert response.status_code == 400


async def test_unknown_tokens_are_401_and_malformed_org_ids_404(app, make_org) -> None:
    org_id, owner = await make_org()
    client = app.test_client()
    response = await client.get(
        f"/api/v1/orgs/{org_id}", headers={"Authorization": "Bearer kurz_nonsense"}
    )
    await assert_problem(response, 401, "INVALID_TOKEN")
    assert (await client.get(f"/api/v1/orgs/{org_id}")).status_code == 401
    response = await owner.client.get("/api/v1/orgs/not-a-uuid/members")
    await assert_problem(response, 404, "ORG_NOT_FOUND")


async def test_outsiders_get_404_before_their_body_is_even_read(make_org, signup) -> None:
    org_id, _ = await make_org()
    outsider = await signup()
    response = await outsider.client.post(
        f"/api/v1/orgs/{org_id}/members", json={"nonsense": True}
    )
    await assert_problem(response, 404, "ORG_NOT_FOUND")


async def test_strangers_get_401_before_their_body_is_even_read(client) -> None:
    for method, path in (("POST", "/api/v1/orgs"), ("PUT", "/api/v1/users/me/password")):
        response = await client.open(path, method=method, json={"nonsense": True})
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_method_not_allowed_names_the_allowed_ones(client) -> None:
    response = await client.put("/api/v1/orgs", json={})
    await assert_problem(response, 405)
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


async def test_doubled_slashes_are_no_route_rather_than_a_redirect(client) -> None:
    for path in ("/api//v1/orgs", "/api/v1//orgs"):
        response = await client.post(path, json={"name": "Acme"})
        await assert_problem(response, 404)


async def test_options_names_the_allowed_methods_without_a_body(client) -> None:
    response = await client.options("/api/v1/orgs")
    assert response.status_code == 204
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert await response.get_data() == b""
